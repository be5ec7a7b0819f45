"""Authorisation by scope (threatmap-api.md §Authentication and authorisation).

- ``HasReadScope`` (the DEFAULT_PERMISSION_CLASSES): safe methods (GET/HEAD/OPTIONS) need a
  key with ``threatmap:read`` or any user (JWT or session); other methods need a staff user.
- ``RequireScope("condoit:push")``: the key must carry that scope (or the user be staff).

Without credentials DRF answers 401 (NotAuthenticated); with credentials that lack the scope,
403 AUTH_FORBIDDEN.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from masterbus.choices import ApiScope


def _is_staff_user(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user and user.is_authenticated and getattr(user, "is_staff", False))


def request_api_key(request):
    """The ApiKey that authenticated this request, or None."""
    from masterbus.models import ApiKey

    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


class ScopePermission(BasePermission):
    """Allow a key carrying ``scope`` and staff users; ``users_allowed`` lets every
    authenticated user through too (reads)."""

    scope: str = ""
    users_allowed = False
    message = "Not allowed"

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False  # DRF turns this into 401 NotAuthenticated
        key = request_api_key(request)
        if key is not None:
            if key.has_scope(self.scope):
                return True
            self.message = f"This API key lacks the {self.scope} scope"
            return False
        if _is_staff_user(request) or self.users_allowed:
            return True
        self.message = f"Only staff users may do this (scope {self.scope})"
        return False


class HasReadScope(ScopePermission):
    scope = ApiScope.THREATMAP_READ.value
    users_allowed = True  # a JWT / session user reads what threatmap:read reads

    def has_permission(self, request, view) -> bool:
        if request.method not in SAFE_METHODS:
            # Writes are not reads: only staff, or an endpoint's own RequireScope.
            if not (request.user and request.user.is_authenticated):
                return False
            if not hasattr(view, request.method.lower()):
                return True  # the view answers 405 METHOD_NOT_ALLOWED
            if _is_staff_user(request) and request_api_key(request) is None:
                return True
            self.message = "This endpoint only allows reading"
            return False
        return super().has_permission(request, view)


_require_scope_cache: dict[str, type[ScopePermission]] = {}


def RequireScope(scope: str) -> type[ScopePermission]:  # noqa: N802 (reads like a class)
    """A permission class requiring ``scope`` on the key (staff users pass too), for any
    method. Use: ``permission_classes = [RequireScope("condoit:push")]``."""
    if scope not in ApiScope.values:
        raise ValueError(f"Unknown scope {scope!r}")
    if scope not in _require_scope_cache:
        name = "RequireScope_" + scope.replace(":", "_")
        _require_scope_cache[scope] = type(name, (ScopePermission,), {"scope": scope})
    return _require_scope_cache[scope]
