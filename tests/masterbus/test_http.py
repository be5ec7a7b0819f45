"""The retry helpers the HTTP clients share (masterbus/http.py)."""

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from masterbus.http import (
    RetryableError,
    RetryAfterOrBackoff,
    backoff_delay,
    call_with_retries,
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


def test_the_wait_honours_the_asked_delay_else_backs_off():
    wait = RetryAfterOrBackoff(1, 6, rng=random.Random(3))
    assert wait.delay(0, 4.5) == 4.5
    assert wait.delay(5, 0.0) == 0.0
    for attempt, ceiling in [(0, 1), (2, 4), (9, 6)]:
        assert ceiling / 2 <= wait.delay(attempt, None) <= ceiling


class Recorder:
    """An attempt that fails with the given errors in turn, then returns "done"."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.tried: list[int] = []
        self.slept: list[float] = []
        self.retries: list[tuple[str, int, float]] = []

    def __call__(self, n):
        self.tried.append(n)
        if self.errors:
            raise self.errors.pop(0)
        return "done"

    def run(self, max_retries, base=1.0, cap=8.0):
        return call_with_retries(
            self,
            max_retries=max_retries,
            backoff_base=base,
            backoff_cap=cap,
            sleep=self.slept.append,
            on_retry=lambda exc, n, wait: self.retries.append((exc.message, n, wait)),
        )


def test_retryable_errors_are_tried_again_after_the_wait():
    r = Recorder(RetryableError("503 busy", 503), RetryableError("429 slow", 429, wait=7.0))
    assert r.run(max_retries=3) == "done"
    assert r.tried == [1, 2, 3]
    assert 0.5 <= r.slept[0] <= 1.0 and r.slept[1] == 7.0  # backoff, then as asked
    assert all(type(s) is float for s in r.slept)
    assert r.retries == [("503 busy", 1, r.slept[0]), ("429 slow", 2, 7.0)]


@pytest.mark.parametrize(("max_retries", "attempts"), [(2, 3), (0, 1), (-4, 1)])
def test_the_last_retryable_error_is_raised_when_the_retries_run_out(max_retries, attempts):
    r = Recorder(*(RetryableError(f"failure {n}", 500) for n in range(1, 10)))
    with pytest.raises(RetryableError) as err:
        r.run(max_retries=max_retries)
    assert (err.value.message, err.value.status) == (f"failure {attempts}", 500)
    assert r.tried == list(range(1, attempts + 1))
    assert len(r.slept) == len(r.retries) == attempts - 1


def test_any_other_error_is_raised_at_once():
    r = Recorder(RetryableError("timed out"), ValueError("no"), RetryableError("never"))
    with pytest.raises(ValueError, match="no"):
        r.run(max_retries=5)
    assert r.tried == [1, 2]
    assert len(r.slept) == 1 and [m for m, _, _ in r.retries] == ["timed out"]
