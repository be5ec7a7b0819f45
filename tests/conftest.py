import os

import pytest
from django.conf import settings

ON_SERVICES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and bool(
    settings.REDIS_URL
)


def pytest_collection_modifyitems(config, items):
    if ON_SERVICES:
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL and Redis (set DATABASE_URL, REDIS_URL, CELERY_BROKER_URL)"
    )
    for item in items:
        if "services" in item.keywords or "e2e" in item.keywords:
            item.add_marker(skip)


def pytest_report_header(config):
    db = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = "redis" if settings.REDIS_URL else "in-process"
    broker = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "broker"
    return f"masterbus: database={db} cache={cache} celery={broker} (CI={os.environ.get('CI', '')})"


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
