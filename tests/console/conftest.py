"""Fixtures of the dashboard tests: a portfolio imported through the real Condoit import path
and recomputed in-process."""

from __future__ import annotations

import pytest

from voltmetrics.services import risk_recompute

from .helpers import portfolio_records


@pytest.fixture(autouse=True)
def _gauges_read_now(settings):
    """The dashboard reads the application gauges through their cache of up to 15 s; these
    tests change the database between two renders."""
    settings.METRICS_CACHE_SECONDS = 0


@pytest.fixture
def build(db, import_export):
    """``build(n, start=0)``: import facilities ``start`` … ``start + n - 1`` (and their
    equipment) and recompute every facility and the portfolio."""

    def run(n: int, per: int = 2, *, start: int = 0):
        import_export(**portfolio_records(n, per, start=start))
        risk_recompute()

    return run


@pytest.fixture
def pull_configured(settings):
    settings.CONDOIT_URL, settings.CONDOIT_TOKEN = "http://condoit.invalid", "t"
