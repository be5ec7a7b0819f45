"""Signing secrets (consumers.md §4): ``whsec_`` + base64 of 32 random bytes, stored as Fernet
tokens (masterbus.crypto), shown once. A rotation keeps the previous secret for
:data:`ROTATION_OVERLAP`, during which deliveries carry both signatures."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from django.utils import timezone

from masterbus import audit
from masterbus.crypto import decrypt, encrypt

from ..models import Subscription

PREFIX = "whsec_"
SECRET_BYTES = 32
ROTATION_OVERLAP = timedelta(hours=24)


def secret_generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_set_new(sub: Subscription) -> str:
    """Give an unsaved (or to-be-saved) subscription a fresh secret; returns it."""
    secret = secret_generate()
    sub.secret_encrypted = encrypt(secret)
    return secret


def secret_rotate(sub: Subscription, *, now: datetime | None = None) -> str:
    """A new secret for ``sub`` (saved); the current one stays valid as the previous one for
    24 h. Returns the new secret (to show once)."""
    now = now or timezone.now()
    new = secret_generate()
    Subscription.objects.filter(pk=sub.pk).update(
        previous_secret_encrypted=sub.secret_encrypted,
        previous_secret_until=now + ROTATION_OVERLAP,
        secret_encrypted=encrypt(new),
    )
    sub.refresh_from_db(
        fields=["secret_encrypted", "previous_secret_encrypted", "previous_secret_until"]
    )
    audit.record(sub, reason="signing secret rotated")  # the secrets are never recorded
    return new


def signing_secrets(sub: Subscription, *, now: datetime | None = None) -> list[str]:
    """The secrets a delivery is signed with now: the current one, then the previous one
    while its overlap lasts."""
    now = now or timezone.now()
    found = [decrypt(sub.secret_encrypted)]
    if (
        sub.previous_secret_encrypted
        and sub.previous_secret_until is not None
        and sub.previous_secret_until > now
    ):
        found.append(decrypt(sub.previous_secret_encrypted))
    return found
