"""What masterbus itself prunes (operations.md §3): expired user tokens.

A refresh token past its expiry is refused by its signature check before the blacklist is
read, so its outstanding row (and its blacklist row, if it was spent) is useless once
expired.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from .retention import Pruning, register_pruner, register_retention_floor

# Outbound events and webhook delivery attempts (consumers.md) are kept this long; their
# deliveries are retried for about a day, so never less than 2 days (consumers prunes them:
# consumers/webhooks/retention.py).
EVENT_RETENTION_FLOOR = 2


def prune_expired_tokens(pruning: Pruning) -> None:
    pruning.delete(BlacklistedToken.objects.filter(token__expires_at__lte=pruning.now))
    expired = OutstandingToken.objects.filter(expires_at__lte=pruning.now)
    blacklisted = BlacklistedToken.objects.filter(token=OuterRef("pk"))
    pruning.delete(expired, guard=~Exists(blacklisted))


def register() -> None:
    register_pruner("masterbus.tokens", prune_expired_tokens, floors={})
    register_retention_floor("EVENT_RETENTION_DAYS", EVENT_RETENTION_FLOOR)
