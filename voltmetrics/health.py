"""Readiness of the VoltMetrics integration (registered with masterbus.health's /ready in
``VoltmetricsConfig.ready()``)."""

from .integration import integration_enabled


def voltmetrics_check() -> str | None:
    """None when fine or when the integration is off; otherwise why it is degraded.

    An open circuit breaker degrades readiness without failing it: the built-in engine keeps
    serving."""
    if not integration_enabled():
        return None
    from voltmetrics.integration.client import breaker_state

    state = breaker_state()
    if state == "open":
        return "circuit breaker open"
    if state == "half-open":
        return "circuit breaker half-open (probing)"
    return None
