"""Encryption at rest for the secrets MasterBus must be able to use again (webhook signing
secrets): Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``).

The key is derived with HKDF-SHA256 from ``WEBHOOK_ENCRYPTION_KEY`` or, when that is empty,
from ``SECRET_KEY``. ``WEBHOOK_ENCRYPTION_KEY`` may hold several keys, comma-separated: the
first encrypts, every one decrypts (so a key can be replaced without re-encrypting first).
"""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

__all__ = ["InvalidToken", "decrypt", "encrypt"]

_INFO = b"masterbus secrets at rest v1"


def _derive(material: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=8)
def _fernet(configured: str, secret_key: str) -> MultiFernet:
    materials = [k.strip() for k in configured.split(",") if k.strip()] or [secret_key]
    return MultiFernet([_derive(m) for m in materials])


def _current() -> MultiFernet:
    return _fernet(getattr(settings, "WEBHOOK_ENCRYPTION_KEY", "") or "", settings.SECRET_KEY)


def encrypt(text: str) -> str:
    """``text`` as a Fernet token (ASCII)."""
    return _current().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The text of a token :func:`encrypt` made; :class:`InvalidToken` when no configured key
    opens it (the key changed) or it was tampered with."""
    return _current().decrypt(token.encode("ascii")).decode()
