import time
from itertools import count

import pytest
from django.core.cache import cache

from condoit.files import import_file
from tests import factories as f
from voltmetrics.integration import client as vm_client
from voltmetrics.integration.client import CircuitBreaker

from .fake_voltmetrics import API_KEY, WEBHOOK_SECRET, fake_voltmetrics

_files = count(1)


@pytest.fixture
def vm_settings(settings):
    """The integration's timings shrunk so faults are quick; URL set by ``vm``."""
    settings.VOLTMETRICS_API_KEY = API_KEY
    settings.VOLTMETRICS_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.VOLTMETRICS_CONNECT_TIMEOUT = 1.0
    settings.VOLTMETRICS_READ_TIMEOUT = 2.0
    settings.VOLTMETRICS_MAX_RETRIES = 2
    settings.VOLTMETRICS_BACKOFF_BASE = 0.01
    settings.VOLTMETRICS_BACKOFF_CAP = 0.05
    settings.VOLTMETRICS_BREAKER_THRESHOLD = 3
    settings.VOLTMETRICS_BREAKER_COOLDOWN = 30
    settings.VOLTMETRICS_POLL_AFTER = 300
    settings.VOLTMETRICS_JOB_RETRIES = 2
    settings.VOLTMETRICS_ALGORITHM_VERSION = ""
    return settings


@pytest.fixture
def vm(vm_settings):
    with fake_voltmetrics() as fake:
        vm_settings.VOLTMETRICS_URL = fake.url
        CircuitBreaker().reset()
        yield fake
        CircuitBreaker().reset()


@pytest.fixture
def end_cool_down():
    """Make an open breaker's cool-down end now, as if its time had passed: tests keep the
    long cool-down, so a slow machine can never see it end before they look."""

    def end():
        assert CircuitBreaker().state() == "open"
        cache.set(vm_client._K_OPEN_UNTIL, time.time() - 0.001, timeout=3600)

    return end


@pytest.fixture
def mirror(tmp_path):
    """Import raw Condoit records through the file door (outbox rows included)."""

    def load(facilities=(), equipment=(), maintenance=()):
        path = f.write_export(
            tmp_path / f"export-{next(_files)}.json", facilities, equipment, maintenance
        )
        run = import_file(path)
        assert run.rejected == 0, list(run.rejections.values_list("field", "reason"))
        return run

    return load
