"""Admin of the consumers app: each part in its own module."""

from . import (
    admin_portfolios,  # noqa: F401  (portfolios)
    admin_subscriptions,  # noqa: F401  (webhook subscriptions and deliveries)
)
