"""Writes of the masterbus app: API keys.

Higher layers may bind a key to what they own (``consumers``: portfolios) without masterbus
naming them: each registers a **key binder** for an option of ``manage.py create_api_key``
(``register_api_key_binder("portfolio", prepare)``). ``prepare(values)`` checks the option's
values and raises ValueError with a one-line reason, before anything is written; it returns
``bind(key)``, called in the transaction that creates the key."""

import re
import secrets
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from . import audit
from .choices import ApiScope
from .models import PREFIX_LENGTH, ApiKey, key_digest

KEY_PREFIX = "mb_"
NAME_MAX_LENGTH = ApiKey._meta.get_field("name").max_length
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_COUNT = re.compile(r"[+]?[0-9]{1,9}", re.ASCII)


KeyBinder = Callable[[list[str]], Callable[[ApiKey], None]]
_binders: dict[str, KeyBinder] = {}


def register_api_key_binder(option: str, prepare: KeyBinder) -> None:
    """Let ``create_api_key --<option> VALUE …`` bind the new key (see the module doc)."""
    _binders[option] = prepare


def api_key_binder(option: str) -> KeyBinder | None:
    return _binders.get(option)


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValueError("A key needs a name")
    if len(name) > NAME_MAX_LENGTH:
        raise ValueError(f"A key's name is at most {NAME_MAX_LENGTH} characters")
    return name


def _validate_scopes(scopes: Iterable[str]) -> list[str]:
    scopes = list(dict.fromkeys(scopes))
    unknown = [s for s in scopes if s not in ApiScope.values]
    if unknown:
        raise ValueError(
            f"Unknown scope(s): {', '.join(unknown)} (known: {', '.join(ApiScope.values)})"
        )
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
    name = _validate_name(name)
    scopes = _validate_scopes(scopes)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)  # 32 random bytes
    key = ApiKey.objects.create(
        name=name,
        prefix=raw[:PREFIX_LENGTH],
        digest=key_digest(raw),
        scopes=scopes,
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit,
        created_by=user if user is not None and user.is_authenticated else None,
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, keys) -> int:
    """Revoke keys (a queryset or iterable of keys/ids); already revoked keys keep their date.
    Each key revoked gets a row in the audit history."""
    ids = [getattr(k, "pk", k) for k in keys]
    live = ApiKey.objects.filter(pk__in=ids, revoked_at__isnull=True)
    revoking = list(live.select_for_update().values_list("pk", flat=True))
    if not revoking:
        return 0
    n = ApiKey.objects.filter(pk__in=revoking).update(revoked_at=timezone.now())
    audit.record_many(ApiKey, ApiKey.objects.filter(pk__in=revoking), reason="key revoked")
    return n


def api_key_expiry(day: str, *, today: date | None = None) -> datetime:
    """An expiry given as a day, ``YYYY-MM-DD``: the key works through that day and expires
    at the start of the next one (in ``TIME_ZONE``). A day before today is refused."""
    try:
        if not _DAY.fullmatch(day):
            raise ValueError
        parsed = date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"--expires {day!r} is not a date as YYYY-MM-DD") from None
    today = today or timezone.localdate()
    if parsed < today:
        raise ValueError(f"--expires {day} is in the past (today is {today.isoformat()})")
    return timezone.make_aware(datetime.combine(parsed + timedelta(days=1), time.min))


def api_key_create_from_options(
    *,
    name: str,
    scopes: Iterable[str],
    expires: str | None = None,
    rate_limit: str | None = None,
    user=None,
    bindings: dict[str, list[str]] | None = None,
) -> tuple[ApiKey, str]:
    """Create a key from text options (``manage.py create_api_key``): every option is checked
    before anything is written; a bad one raises ValueError with a one-line reason.
    ``bindings`` maps a registered binder's option to its values (``{"portfolio": [slug…]}``);
    the key is created and bound in one transaction."""
    binds = []
    for option, values in (bindings or {}).items():
        if not values:
            continue
        prepare = _binders.get(option)
        if prepare is None:
            raise ValueError(f"--{option} is not available (nothing registered binds keys to it)")
        binds.append(prepare(list(values)))
    name = _validate_name(name)
    scopes = _validate_scopes(scopes)
    expires_at = api_key_expiry(expires) if expires is not None else None
    limit = None
    if rate_limit is not None:
        if not _COUNT.fullmatch(rate_limit.strip()) or int(rate_limit) < 1:
            raise ValueError(
                f"--rate-limit {rate_limit!r} is not a positive number of requests per minute"
            )
        limit = int(rate_limit)
    with transaction.atomic():
        key, raw = api_key_create(
            name=name, scopes=scopes, expires_at=expires_at, rate_limit=limit, user=user
        )
        for bind in binds:
            bind(key)
    return key, raw
