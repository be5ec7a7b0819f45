"""The shipped retry schedule is consumers.md §4's: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
(8 attempts), with jitter; the other webhook tests run a shortened one."""

import os
import random

import pytest

import masterbus.settings as shipped
from consumers.webhooks.engine import retry_delay

SPEC = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600]


@pytest.mark.skipif(
    "WEBHOOK_RETRY_SCHEDULE" in os.environ, reason="WEBHOOK_RETRY_SCHEDULE is set here"
)
def test_the_shipped_schedule_is_the_specs():
    assert shipped.WEBHOOK_RETRY_SCHEDULE == SPEC


def test_each_retry_waits_its_step_with_jitter_and_the_eighth_failure_ends_it(settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [float(s) for s in SPEC]
    rng = random.Random(7)
    for failures, step in enumerate(SPEC, start=1):
        delays = [retry_delay(failures, rng) for _ in range(200)]
        assert all(0.9 * step <= d <= 1.1 * step for d in delays)
        assert len(set(delays)) > 1  # jittered, not fixed
    assert retry_delay(len(SPEC) + 1, rng) is None  # 1 attempt + 7 retries = 8 attempts
