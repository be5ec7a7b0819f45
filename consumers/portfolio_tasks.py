"""The portfolio rules' task: re-applied shortly after mirrored records change."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from .portfolios import portfolio_rules_apply

RULES_SOON_KEY = "consumers:rules-soon"


@shared_task(ignore_result=True)
def portfolio_rules_apply_task() -> str:
    # A change committed from now on queues the task again: none is missed.
    cache.delete(RULES_SOON_KEY)
    return str(portfolio_rules_apply())


def rules_apply_soon() -> None:
    """Queue one re-application of every rule (call after a commit). A burst of changes makes
    one run: while a queued run has not started, later calls are absorbed by it."""
    delay = max(0, int(getattr(settings, "PORTFOLIO_RULES_DEBOUNCE_SECONDS", 2)))
    try:
        if not cache.add(RULES_SOON_KEY, 1, timeout=delay + 60):
            return
    except Exception:  # noqa: BLE001 - without the cache, queue every time
        pass
    portfolio_rules_apply_task.apply_async(countdown=delay)
