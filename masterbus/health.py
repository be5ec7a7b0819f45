"""Liveness and readiness probes (threatmap-api.md: /health, /ready)."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

log = logging.getLogger(__name__)


@require_GET
def health(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as exc:  # any driver error means "down"
        return type(exc).__name__
    return None


def _check_cache() -> str | None:
    try:
        if settings.REDIS_URL:
            # django-redis swallows errors (IGNORE_EXCEPTIONS); ask the client directly.
            from django_redis import get_redis_connection

            get_redis_connection("default").ping()
        else:
            cache.set("masterbus:ready", "1", 5)
            if cache.get("masterbus:ready") != "1":
                return "cache did not return the value it was given"
    except Exception as exc:
        return type(exc).__name__
    return None


def _check_broker() -> str | None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    try:
        from masterbus.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return type(exc).__name__
    return None


# Integrations that may degrade readiness without making it fail: name → check (None when
# fine, else why it is degraded). The apps register theirs in AppConfig.ready().
_readiness_checks: dict[str, Callable[[], str | None]] = {}


def register_readiness_check(name: str, check: Callable[[], str | None]) -> None:
    _readiness_checks[name] = check


def _extra_checks() -> dict[str, str | None]:
    return {name: check() for name, check in _readiness_checks.items()}


@require_GET
def ready(request):
    results = {
        "database": _check_database(),
        "cache": _check_cache(),
        "broker": _check_broker(),
        **_extra_checks(),
    }
    checks = {name: ("ok" if err is None else f"down: {err}") for name, err in results.items()}
    down = [name for name, err in results.items() if err is not None]
    if "database" in down:
        status_text, code = "unavailable", 503
    elif down:
        status_text, code = "degraded", 200
    else:
        status_text, code = "ok", 200
    if down:
        log.warning("readiness: %s down", ", ".join(down))
    return JsonResponse({"status": status_text, "checks": checks, "down": down}, status=code)
