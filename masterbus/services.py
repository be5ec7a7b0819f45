"""Writes of the masterbus app: API keys."""

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .choices import ApiScope
from .models import PREFIX_LENGTH, ApiKey, key_digest

KEY_PREFIX = "mb_"


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}")
    if not scopes:
        raise ValueError("A key needs at least one scope")
    return scopes


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    rate_limit: int | None = None,
    user=None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the raw key, which is not stored and never shown again."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 random bytes
    key = ApiKey.objects.create(
        name=name,
        prefix=raw[:PREFIX_LENGTH],
        digest=key_digest(raw),
        scopes=_validate_scopes(scopes),
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return key, raw


def api_key_revoke(*, keys) -> int:
    """Revoke keys (a queryset or iterable of keys/ids); already revoked keys keep their date."""
    ids = [getattr(k, "pk", k) for k in keys]
    return ApiKey.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
