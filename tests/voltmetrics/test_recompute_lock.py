"""The recompute lock is released only by its holder, even when it expires and another
recompute takes it at that very moment (in-process cache and Redis)."""

import pytest
from django.core.cache import cache

from tests.lock_race import OTHER, Takeover
from voltmetrics import tasks


def test_release_leaves_the_lock_another_recompute_took(cache_backend, monkeypatch):
    race = Takeover(monkeypatch, tasks.RECOMPUTE_LOCK_KEY, during="release")
    with tasks.recompute_lock():
        pass
    assert race.finish()
    assert cache.get(tasks.RECOMPUTE_LOCK_KEY) == OTHER
    with pytest.raises(tasks.RecomputeLocked):
        with tasks.recompute_lock():
            pass
