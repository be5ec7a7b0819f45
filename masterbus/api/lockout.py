"""The password doors' lockout (threatmap-api.md §Hardening), on django-axes.

Both doors, ``POST /api/v1/auth/token`` and the admin login, check passwords through Django's
``authenticate()``, whose first backend is axes': once a client address, or a username, has
LOGIN_LOCKOUT_FAILURES failed attempts within LOGIN_LOCKOUT_MINUTES, every attempt from that
address or for that username is refused without the password being checked, the right one
included, until the failures are that old (or staff unlock it in the admin: Axes → Access
attempts → "Unlock …"). The attempt that reaches the limit is answered as locked already.

- Failures are counted in the database (axes' AccessAttempt rows, one per username, address
  and user agent), so every web process shares them; a lockout is the sum over the rows of
  that address, or over the rows of that username.
- A successful login does not reset the count (an attacker holding one account could
  otherwise clear their address's failures), and attempts refused while locked are not
  counted (the lockout ends when Retry-After says).
- The address is ``throttling.client_address`` (REMOTE_ADDR, or the X-Forwarded-For entry of
  REST_FRAMEWORK["NUM_PROXIES"]), the same as the per-minute token throttle's.

The API answers a locked attempt with 429 RATE_LIMITED and Retry-After (``LockedOut``); the
admin login page shows the login form again with the lockout message (``lockout_response``,
axes' AXES_LOCKOUT_CALLABLE, used by its middleware).
"""

from __future__ import annotations

import hashlib
import math

from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.db.models import Q
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from .errors import ApiError, ErrorCode, error_response

USERNAME_MAX = 255  # axes' AccessAttempt.username


def attempted_username(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the username tried, storable as it is (a longer or unstorable
    one is kept as its SHA-256 digest, so it still counts as one username)."""
    field = get_user_model().USERNAME_FIELD
    if credentials:
        value = credentials.get(field)
    else:
        try:
            data = getattr(request, "data", None) or request.POST
            value = data.get(field) if hasattr(data, "get") else None
        except Exception:  # an unparsable body has no username
            value = None
    if not isinstance(value, str):
        return None
    try:
        value.encode("utf-8")
        storable = "\x00" not in value and len(value) <= USERNAME_MAX
    except UnicodeEncodeError:
        storable = False
    if storable:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


def retry_after(request, credentials=None) -> int:
    """Seconds until neither the request's address nor its username is locked (≥ 1)."""
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_cool_off, get_failure_limit

    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    limit = get_failure_limit(request, credentials)
    cool_off = get_cool_off(request)
    now = timezone.now()
    until = now
    # Newest first: the lock lifts when the row that brings the sum to the limit ages out.
    for attempts in handler.get_user_attempts(request, credentials):
        total = 0
        rows = attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        )
        for attempt_time, failures in rows[:limit]:
            total += failures
            if total >= limit:
                until = max(until, attempt_time + cool_off)
                break
    return max(1, math.ceil((until - now).total_seconds()))


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed login attempts for this username or from this address. "
        f"Try again in {minutes} {unit}, or ask a staff member to unlock it."
    )


class LockedOut(ApiError):
    """429 RATE_LIMITED for a locked password door, shaped like the rate limits' 429."""

    def __init__(self, seconds: int):
        super().__init__(
            429,
            ErrorCode.RATE_LIMITED,
            lockout_message(seconds),
            details={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        )


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the admin login page again, with the lockout message (429)."""
    seconds = retry_after(request, credentials)
    if request.path_info.startswith("/api/"):
        response = error_response(
            429, ErrorCode.RATE_LIMITED, lockout_message(seconds), {"retry_after": seconds}
        )
    else:
        from django.contrib import admin
        from django.contrib.admin.forms import AdminAuthenticationForm

        context = {
            **admin.site.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username() if hasattr(request, "user") else "",
            "form": AdminAuthenticationForm(request),
            "lockout_message": lockout_message(seconds),
            REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME)
            or request.GET.get(REDIRECT_FIELD_NAME)
            or reverse("admin:index"),
        }
        response = render(request, "admin/masterbus/login_locked.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def unlock(attempts) -> int:
    """Forget every failure of the usernames and the addresses of ``attempts`` (AccessAttempt
    rows): each of them is unlocked. Returns the number of rows deleted."""
    from axes.models import AccessAttempt

    match = Q(pk__in=[])
    pairs = attempts.order_by().values_list("username", "ip_address").distinct()
    for username, address in pairs:
        match |= Q(username=username) | Q(ip_address=address)
    deleted, _ = AccessAttempt.objects.filter(match).delete()
    return deleted
