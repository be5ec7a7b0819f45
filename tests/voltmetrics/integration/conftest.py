import json
from itertools import count

import pytest

from facilities.condoit.files import import_file
from masterbus.celery import app as celery_app
from voltmetrics.integration.client import CircuitBreaker

from .fake_voltmetrics import API_KEY, WEBHOOK_SECRET, fake_voltmetrics

_files = count(1)


@pytest.fixture
def eager_celery(request):
    """Tasks run in-process (also on the services backend, where a broker is configured),
    except in the end-to-end test, which runs a real worker."""
    if "e2e" in request.keywords:
        yield
        return
    old = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = old


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
    settings.VOLTMETRICS_ALGORITHM_VERSION = ""
    return settings


@pytest.fixture
def vm(vm_settings, eager_celery):
    with fake_voltmetrics() as fake:
        vm_settings.VOLTMETRICS_URL = fake.url
        CircuitBreaker().reset()
        yield fake
        CircuitBreaker().reset()


@pytest.fixture
def mirror(tmp_path):
    """Import raw Condoit records through the file door (outbox rows included)."""

    def load(facilities=(), equipment=(), maintenance=()):
        path = tmp_path / f"export-{next(_files)}.json"
        path.write_text(
            json.dumps(
                {
                    "exportedAt": "2025-03-01T00:00:00Z",
                    "facilities": list(facilities),
                    "equipment": list(equipment),
                    "maintenanceRecords": list(maintenance),
                }
            )
        )
        run = import_file(path)
        assert run.rejected == 0, list(run.rejections.values_list("field", "reason"))
        return run

    return load
