"""The VoltMetrics integration (voltmetrics.md): HTTP client, outbox drain, jobs, callbacks.

Everything here is a no-op while ``VOLTMETRICS_URL`` is empty: the built-in engine serves
alone.
"""

from django.conf import settings


def integration_enabled() -> bool:
    """Whether VoltMetrics is configured (``VOLTMETRICS_URL`` set)."""
    return bool(settings.VOLTMETRICS_URL)
