"""What a delivery sends (consumers.md §2, §4): the event's JSON body, as exact bytes, and the
Standard Webhooks 1.0 headers signed with the subscription's secrets."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version

import orjson
from standardwebhooks import Webhook

from ..shape import event_item


def event_body(public_id: str, type_: str, created_at: datetime, data) -> bytes:
    """The event's item (the feed's shape, ``consumers.shape``) as the bytes every attempt
    sends."""
    return orjson.dumps(event_item(public_id, type_, created_at, data))


@lru_cache(maxsize=1)
def user_agent() -> str:
    try:
        release = version("masterbus")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        release = "0"
    return f"MasterBus/{release}"


class Signer:
    """Signs with a fixed list of secrets (the current one first)."""

    def __init__(self, secrets: list[str]):
        self.webhooks = [Webhook(s) for s in secrets]

    def headers(self, msg_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
        now = now or datetime.now(UTC)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": " ".join(w.sign(msg_id, now, body) for w in self.webhooks),
            "content-type": "application/json",
            "user-agent": user_agent(),
        }
