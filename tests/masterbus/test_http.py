"""The retry helpers the HTTP clients share (masterbus/http.py)."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from masterbus.http import (
    backoff_delay,
    error_detail,
    is_retryable_status,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("status", "retry"),
    [(429, True), (500, True), (503, True), (200, False), (404, False), (499, False)],
)
def test_retryable_statuses(status, retry):
    assert is_retryable_status(status) is retry


def test_backoff_is_exponential_with_equal_jitter_and_capped():
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 6), (10, 6)]:
        delays = {backoff_delay(attempt, 1, 6, rng=rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_retry_after_seconds_or_http_date_capped():
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(None, 30) is None
    assert retry_after_seconds("  ", 30) is None
    assert retry_after_seconds("soon", 30) is None
    assert retry_after_seconds("3", 30) == 3.0
    assert retry_after_seconds("1000", 30) == 30.0
    assert retry_after_seconds("-5", 30) == 0.0
    when = format_datetime(now + timedelta(seconds=12), usegmt=True)
    assert retry_after_seconds(when, 30, now=now) == 12.0
    assert retry_after_seconds(when, 5, now=now) == 5.0
    past = format_datetime(now - timedelta(seconds=12), usegmt=True)
    assert retry_after_seconds(past, 30, now=now) == 0.0


def test_error_detail_of_the_error_envelope():
    assert error_detail(b'{"error": {"code": "bad", "message": "no"}}') == ": bad: no"
    assert error_detail(b'{"error": "plain"}') == ": plain"
    assert error_detail(b'{"error": {}}') == ""
    assert error_detail(b"not json") == ""
    assert error_detail(b"[1]") == ""
    assert len(error_detail(b'{"error": "' + b"x" * 900 + b'"}')) == 502
