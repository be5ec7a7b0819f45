"""A strict Content-Security-Policy on the staff pages (the Django admin and its login).

The admin's pages load only their own scripts, styles, images and fonts: no inline script,
no inline style, no other origin, never framed. The API answers JSON and keeps no policy of
its own; its interactive viewer (``/api/v1/docs``) is outside the protected paths.

No exception is needed: the stock admin pages MasterBus shows use only files (scripts,
styles, icons) of its own origin, and its own templates use classes
(``masterbus/static/masterbus/admin.css``). Django's ``admin/change_list.html`` would write
one inline ``<style>`` on a list with its actions turned off at both ends
(``actions_on_top = actions_on_bottom = False``): no MasterBus list does that, and
``tests/admin/test_csp.py`` renders every admin page to keep it so.
"""

from __future__ import annotations

from django.conf import settings

HEADER = "Content-Security-Policy"

DIRECTIVES: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
}

POLICY = "; ".join(f"{name} {' '.join(sources)}" for name, sources in DIRECTIVES.items())


def protected(path: str) -> bool:
    """Whether the strict policy applies to a request for ``path``."""
    return path.startswith(tuple(settings.CSP_PATH_PREFIXES))


class ContentSecurityPolicyMiddleware:
    """Adds :data:`POLICY` to every response under ``settings.CSP_PATH_PREFIXES``, unless the
    view set a policy of its own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if protected(request.path_info) and HEADER not in response:
            response[HEADER] = POLICY
        return response
