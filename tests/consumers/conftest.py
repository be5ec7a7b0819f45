from tests.voltmetrics.conftest import records, world  # noqa: F401  (the small portfolio)
