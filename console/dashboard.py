"""The operations dashboard, the admin's index page: plain selectors, read at each render
(the application gauges through their shared cache of at most 15 s), in a fixed number of
queries whatever the portfolio's size.

- :mod:`console.operations`: sync health per Condoit door, pending changes, recomputes,
  VoltMetrics, queues and webhook subscriptions, red past the thresholds of
  ``manage.py status`` and docs/alerts.yml;
- :mod:`console.portfolio`: the portfolio's figures, charts, top five and what waits for a
  mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .links import Links
from .operations import Operations, operations
from .portfolio import Portfolio, portfolio


@dataclass
class Dashboard:
    operations: Operations
    portfolio: Portfolio


def dashboard(user=None, *, now: datetime | None = None) -> Dashboard:
    """Everything the dashboard shows; links only to the admin pages ``user`` may see (all,
    without a user)."""
    links = Links(user)
    return Dashboard(operations=operations(links, now=now), portfolio=portfolio(links))
