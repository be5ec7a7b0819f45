"""Secrets out of log lines: a last line of defence behind code that never logs them.

:func:`redact` masks, in any text:

- the configured secret values: ``SECRET_KEY``, the JWT signing key, ``CONDOIT_TOKEN``,
  ``CONDOIT_WEBHOOK_SECRET``, ``VOLTMETRICS_API_KEY``, ``VOLTMETRICS_WEBHOOK_SECRET``,
  ``PHOTO_URL_SECRET``, ``METRICS_TOKEN`` and the database password, when set (a webhook
  secret may be a comma-separated list: each one is masked);
- ``Bearer …`` tokens, JWTs and MasterBus API keys (``mb_`` + 43 characters) by their shape;
- values of credential-like fields (``Authorization: …``, ``"X-API-Key": "…"``,
  ``password=…``), of signature headers (``v1=<hex>``, ``v1,<base64>``), ``whsec_…``
  secrets, and values of credential query parameters
  (``sig=``, ``signature=``, ``token=``, ``api_key=``, …);
- passwords in URLs (``scheme://user:password@host``).

:class:`RedactSecretsFilter` applies it to a log record's message and traceback;
the formatters of masterbus/logs.py apply it again to the whole line they write.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

MASK = "[REDACTED]"
# A configured secret shorter than this is not searched for (it would mask ordinary words);
# the shape patterns below still apply.
MIN_SECRET_LENGTH = 4

_SECRET_SETTINGS = (
    "SECRET_KEY",
    "CONDOIT_TOKEN",
    "CONDOIT_WEBHOOK_SECRET",
    "VOLTMETRICS_API_KEY",
    "VOLTMETRICS_WEBHOOK_SECRET",
    "PHOTO_URL_SECRET",
    "METRICS_TOKEN",
)
# Settings that may hold several secrets, comma-separated (rotation).
_SECRET_LISTS = {"CONDOIT_WEBHOOK_SECRET", "VOLTMETRICS_WEBHOOK_SECRET"}

_CREDENTIAL_NAMES = (
    r"authorization|proxy-authorization|x-api-key|api[_-]?key|apikey|password|passwd|"
    r"secret|token|access[_-]token|x-[\w-]*-signature|cookie|set-cookie"
)
# No value pattern takes a backslash: masking the JSON format's whole line must never split
# an escape (\" stays whole), so the line stays valid JSON.
_SHAPES: list[tuple[re.Pattern, str]] = [
    # "Authorization: Bearer x", 'X-API-Key': 'x', password=x, "token": "x"
    (
        re.compile(
            rf"""(?P<keep>(?<![\w-])(?:{_CREDENTIAL_NAMES})["']?\s*[:=]\s*["']?)"""
            r"""(?!\[REDACTED\])(?:(?:bearer|basic|token)\s+)?[^"'\s,;&}\]\\]+""",
            re.IGNORECASE,
        ),
        rf"\g<keep>{MASK}",
    ),
    (re.compile(r"(?P<keep>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\g<keep>{MASK}"),
    # Query parameters that carry a credential: ?sig=…, &signature=…, &X-Amz-Signature=…
    (
        re.compile(
            r"(?P<keep>[?&;](?:sig|signature|x-amz-signature|x-amz-credential|token|"
            r"access_token|api_key|apikey|key)=)[^&\s\"'#\\]+",
            re.IGNORECASE,
        ),
        rf"\g<keep>{MASK}",
    ),
    (re.compile(r"(?P<keep>(?<![\w-])sig=)[^&\s\"'#,\\]+"), rf"\g<keep>{MASK}"),
    # Webhook signature headers: t=<unix>,v1=<hex>; Standard Webhooks' v1,<base64>.
    (re.compile(r"(?P<keep>\bv1=)[0-9a-fA-F]{16,}"), rf"\g<keep>{MASK}"),
    (re.compile(r"(?P<keep>\bv1,)[A-Za-z0-9+/]{20,}={0,2}"), rf"\g<keep>{MASK}"),
    # Standard Webhooks secrets.
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]{8,}"), f"whsec_{MASK}"),
    # MasterBus API keys (masterbus/models.py ApiKey): mb_ + 43 URL-safe characters.
    (re.compile(r"\bmb_[A-Za-z0-9_-]{20,}"), f"mb_{MASK}"),
    # JWTs: three base64url parts, the first a JSON header.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"), MASK),
    # Passwords in URLs.
    (re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE),
     rf"\g<keep>{MASK}@"),
]  # fmt: skip


def configured_secrets() -> tuple[str, ...]:
    """The secret values set in the settings now (empty outside a configured Django)."""
    try:
        from django.conf import settings

        if not settings.configured:
            return ()
        values: list[str] = []
        for name in _SECRET_SETTINGS:
            value = getattr(settings, name, "") or ""
            if not isinstance(value, str):
                continue
            values.extend(value.split(",") if name in _SECRET_LISTS else [value])
        jwt = (getattr(settings, "SIMPLE_JWT", None) or {}).get("SIGNING_KEY")
        if isinstance(jwt, str):
            values.append(jwt)
        for db in (getattr(settings, "DATABASES", None) or {}).values():
            if isinstance(db.get("PASSWORD"), str):
                values.append(db["PASSWORD"])
    except Exception:  # noqa: BLE001 - settings half-loaded: the shapes still apply
        return ()
    return tuple(sorted({v.strip() for v in values if len(v.strip()) >= MIN_SECRET_LENGTH}))


@lru_cache(maxsize=8)
def _values_pattern(values: tuple[str, ...]) -> re.Pattern | None:
    if not values:
        return None
    # Longest first, so a secret containing another is masked whole.
    return re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))


def redact(text: str, secrets: tuple[str, ...] | None = None) -> str:
    """``text`` with every secret value and credential shape masked."""
    if not text:
        return text
    pattern = _values_pattern(configured_secrets() if secrets is None else secrets)
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


_traceback_formatter = logging.Formatter()


class RedactSecretsFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string: logging reports it
            return True
        secrets = configured_secrets()
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True
