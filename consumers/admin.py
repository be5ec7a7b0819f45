from . import admin_portfolios  # noqa: F401
