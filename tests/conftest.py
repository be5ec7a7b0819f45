import io
import os

import pytest
from django.conf import settings
from django.core.management import call_command

from tests import factories as f
from tests.browser import CHROMIUM, HAS_CHROMIUM

ON_SERVICES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and bool(
    settings.REDIS_URL
)
# End-to-end tests also need a real broker for a real Celery worker.
ON_BROKER = ON_SERVICES and not settings.CELERY_TASK_ALWAYS_EAGER


def pytest_collection_modifyitems(config, items):
    skip_services = pytest.mark.skip(reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    skip_e2e = pytest.mark.skip(
        reason="needs PostgreSQL, Redis and a broker for a real Celery worker "
        "(DATABASE_URL, REDIS_URL, CELERY_BROKER_URL)"
    )
    skip_browser = pytest.mark.skip(
        reason=f"needs chromium at {CHROMIUM} (Debian's: apt-get install chromium, as .ci/run does)"
    )
    for item in items:
        if "e2e" in item.keywords and not ON_BROKER:
            item.add_marker(skip_e2e)
        elif "services" in item.keywords and not ON_SERVICES:
            item.add_marker(skip_services)
        elif "browser" in item.keywords and not HAS_CHROMIUM:
            item.add_marker(skip_browser)


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


@pytest.fixture(params=["locmem", pytest.param("redis", marks=pytest.mark.services)])
def cache_backend(request, settings):
    """Run the test on the in-process cache and, with the services, on the real Redis.
    The switch goes through the ``settings`` fixture, so it is undone in order with the
    test's other setting changes (a nested override_settings would leak into later tests)."""
    from django.core.cache import cache

    if request.param == "redis":
        yield "redis"  # the services' default cache
        return
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    yield "locmem"
    cache.clear()


@pytest.fixture(autouse=True)
def _tasks_in_process(request):
    """Tasks run in the test's process (eagerly), except in the end-to-end tests, which
    exercise a real worker through the real broker."""
    if "e2e" in request.keywords:
        yield
        return
    from masterbus.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def import_export(tmp_path):
    """``import_export(facilities=…, equipment=…, maintenance=…)`` writes an export document
    and imports it with ``manage.py import_condoit``; returns the file's path."""
    counter = iter(range(1, 10_000))

    def run(**kinds):
        path = f.write_export(tmp_path / f"export_{next(counter)}.json", **kinds)
        call_command("import_condoit", str(path), "--no-progress", stdout=io.StringIO())
        return path

    return run
