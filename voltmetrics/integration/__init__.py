"""The VoltMetrics integration (voltmetrics.md): HTTP client, outbox drain, jobs, callbacks.

Everything here is a no-op while ``VOLTMETRICS_URL`` is empty: the built-in engine serves
alone.
"""
