"""Authentication: service keys (``X-API-Key``) and user JWTs (``Authorization: Bearer``).

Failures raise ``AuthFailed`` carrying the envelope code; ``errors.exception_handler`` turns
it into a 401 with ``WWW-Authenticate``. Session authentication (staff in the admin) stays in
the default list after these two.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt import authentication as jwt_authentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from .errors import ErrorCode

API_KEY_HEADER = "X-API-Key"
WWW_AUTHENTICATE = 'ApiKey realm="api", Bearer realm="api"'


class AuthFailed(exceptions.AuthenticationFailed):
    """A 401 with an explicit envelope code."""

    def __init__(self, message: str, error_code: str = ErrorCode.AUTH_INVALID_CREDENTIALS):
        super().__init__(detail=message)
        self.error_code = error_code


class ApiKeyPrincipal:
    """``request.user`` for a request authenticated by a service key (not a Django user)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, api_key):
        self.api_key = api_key
        self.username = f"apikey:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def has_perms(self, perm_list, obj=None) -> bool:
        return False

    def has_module_perms(self, module) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``X-API-Key: mb_…``; ``request.auth`` is the ApiKey row."""

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        from masterbus.models import ApiKey, key_digest

        raw = raw.strip()
        key = ApiKey.objects.filter(digest=key_digest(raw)).first() if raw else None
        if key is None or key.is_revoked:
            raise AuthFailed("Invalid API key")
        now = timezone.now()
        if key.is_expired(now):
            raise AuthFailed("API key has expired")
        key.touch(now)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE


class JWTAuthentication(jwt_authentication.JWTAuthentication):
    """simplejwt, with the envelope's codes: an expired token is AUTH_TOKEN_EXPIRED, any other
    bad token (or unknown / inactive user, or a revoked token) AUTH_INVALID_CREDENTIALS.

    The user and their token state are loaded in one query; a token issued before the user's
    last password change or (de)activation is refused (``masterbus.api.tokens``)."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except AuthFailed:
            raise
        except exceptions.AuthenticationFailed as exc:
            detail = exc.detail.get("detail") if isinstance(exc.detail, dict) else exc.detail
            raise AuthFailed(str(detail or "Invalid credentials")) from None

    def get_validated_token(self, raw_token):
        expired = False
        for token_class in jwt_settings.AUTH_TOKEN_CLASSES:
            try:
                return token_class(raw_token)
            except ExpiredTokenError:
                expired = True
            except TokenError:
                pass
        if expired:
            raise AuthFailed("Token has expired", ErrorCode.AUTH_TOKEN_EXPIRED)
        raise AuthFailed("Invalid token")

    def get_user(self, validated_token):
        from .tokens import user_for_token

        return user_for_token(validated_token)

    def authenticate_header(self, request):
        return WWW_AUTHENTICATE
