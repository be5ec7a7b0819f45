"""Service API keys (threatmap-api.md §Authentication and authorisation).

A key is ``mb_`` + 43 URL-safe characters (32 random bytes). Only its SHA-256 digest is
stored: the key is high-entropy, so a fast hash is safe and costs nothing per request, unlike
a password hasher. The first 8 characters are kept as ``prefix`` to tell keys apart.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .audit import AuditedHistory
from .choices import SIGNED_SCOPES, ApiScope

PREFIX_LENGTH = 8
# last_used_at is written at most once per this many seconds per key.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def key_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKey(models.Model):
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=PREFIX_LENGTH, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list, help_text="Subset of " + ", ".join(ApiScope.values))
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Empty: API_RATE_LIMIT_PER_MINUTE, or API_SIGNED_RATE_LIMIT_PER_MINUTE for "
        "keys of signed endpoints.",
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Audit history (masterbus/audit.py): never the digest; not each use.
    history = AuditedHistory(excluded_fields=["digest", "last_used_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def is_expired(self, now=None) -> bool:
        now = now or timezone.now()
        return self.expires_at is not None and self.expires_at <= now

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def effective_rate_limit(self) -> int:
        if self.rate_limit_per_minute:
            return self.rate_limit_per_minute
        if SIGNED_SCOPES.intersection(self.scopes or []):
            return settings.API_SIGNED_RATE_LIMIT_PER_MINUTE
        return settings.API_RATE_LIMIT_PER_MINUTE

    def touch(self, now=None) -> None:
        """Record use, at most one write per LAST_USED_RESOLUTION (the loaded row's timestamp
        is the check; the conditional UPDATE keeps concurrent requests to one effective write)."""
        now = now or timezone.now()
        stale = now - LAST_USED_RESOLUTION
        if self.last_used_at is not None and self.last_used_at > stale:
            return
        ApiKey.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        self.last_used_at = now


class UserTokenState(models.Model):
    """Per user, the generation of JWTs still honoured (``masterbus/api/tokens.py``): bumped
    when the user's password changes or they are deactivated (or reactivated), which revokes
    every token issued before. No row: generation 0."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="token_state",
    )
    generation = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "user token state"

    def __str__(self) -> str:
        return f"tokens of user {self.user_id}: generation {self.generation}"


class Heartbeat(models.Model):
    """When a recurring job last succeeded (``recompute.full``, ``recompute.incremental``,
    ``recompute.snapshot``…): one row per job, overwritten by each success
    (masterbus/heartbeats.py). The metrics and ``manage.py status`` read them."""

    name = models.CharField(max_length=64, primary_key=True)
    succeeded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.succeeded_at:%Y-%m-%d %H:%M:%S}"
