"""The pull lock is released and extended only by its holder, even when it expires and
another pull takes it at that very moment (in-process cache and Redis)."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache

from condoit.pull import LOCK_KEY, PullLocked, condoit_pull
from facilities.choices import SyncStatus
from tests import factories as f
from tests.condoit.fake_condoit import TOKEN, fake_condoit
from tests.lock_race import OTHER, Takeover

pytestmark = pytest.mark.django_db


@pytest.fixture
def condoit(settings, cache_backend):
    with fake_condoit() as fake:
        settings.CONDOIT_URL = fake.server.url_for("")
        settings.CONDOIT_TOKEN = TOKEN
        settings.CONDOIT_PAGE_LIMIT = 2
        settings.CONDOIT_MAX_RETRIES = 0
        for i in range(3):
            fac = f.facility(updatedAt=f"2025-01-01T0{i}:00:00Z")
            fake.add("facilities", fac)
            fake.add("equipment", f.equipment(fac["id"]))
        yield fake


def test_release_leaves_the_lock_another_pull_took(condoit, monkeypatch):
    race = Takeover(monkeypatch, LOCK_KEY, during="release")

    run = condoit_pull()

    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert race.finish()
    assert cache.get(LOCK_KEY) == OTHER  # the other pull still holds it
    with pytest.raises(PullLocked):
        condoit_pull()


def test_a_pull_never_extends_the_lock_another_pull_took(condoit, monkeypatch, settings):
    settings.CONDOIT_SYNC_LOCK_TTL = 3600
    race = Takeover(monkeypatch, LOCK_KEY, during="extend", ttl=1.5)

    run = condoit_pull()

    assert race.finish()
    assert run.status == SyncStatus.FAILED
    assert "the pull lock expired (CONDOIT_SYNC_LOCK_TTL) and was taken by another pull" in (
        run.error
    )
    assert len(condoit.seen) <= 2  # stopped after a committed page, well before the last
    assert cache.get(LOCK_KEY) == OTHER
    # The other pull's lock keeps its own lifetime: our extension never reached it.
    time.sleep(max(0.0, race.acquired_at + 1.8 - time.monotonic()))
    assert cache.get(LOCK_KEY) is None
