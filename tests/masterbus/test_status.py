"""manage.py status (operations.md §5): one screen; exit 1 past any alert threshold."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from facilities.choices import RecordKind, SyncSource, SyncStatus
from facilities.models import RecordChange, SyncRun
from masterbus.heartbeats import beat
from masterbus.metrics.application import Sample
from masterbus.status import status


def run_status() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("status", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def healthy(db, settings):
    settings.CONDOIT_URL, settings.CONDOIT_TOKEN = "http://condoit.invalid", "t"
    settings.VOLTMETRICS_URL = ""
    SyncRun.objects.create(source=SyncSource.PULL, status=SyncStatus.SUCCEEDED,
                           finished_at=timezone.now() - timedelta(minutes=10))  # fmt: skip
    beat("recompute.full", timezone.now() - timedelta(hours=3))


def test_all_green_exits_0_and_shows_each_part(healthy):
    code, out = run_status()
    assert code == 0, out
    for part in ("Condoit", "pull: last success", "Changes", "recompute: 0 pending",
                 "full: last success", "VoltMetrics", "not configured", "Queues",
                 "Webhook subscriptions", "OK: nothing past its alert threshold"):  # fmt: skip
        assert part in out
    assert "(10 min ago)" in out and "(3.0 h ago)" in out
    assert len(out.splitlines()) < 40  # one screen


def test_a_pull_older_than_an_hour_is_an_alert(healthy):
    SyncRun.objects.update(finished_at=timezone.now() - timedelta(minutes=61))
    code, out = run_status()
    assert code == 1
    assert "pull: last success" in out and "ALERT: no successful pull" in out
    assert "ATTENTION: 1 check(s) past their alert threshold" in out


def test_a_failed_pull_does_not_count_as_a_success(healthy):
    SyncRun.objects.all().delete()
    SyncRun.objects.create(source=SyncSource.PULL, status=SyncStatus.FAILED,
                           finished_at=timezone.now())  # fmt: skip
    code, out = run_status()
    assert code == 1 and "pull: last success never" in out


def test_an_old_pending_change_is_an_alert(healthy):
    change = RecordChange.objects.create(kind=RecordKind.EQUIPMENT, external_id="e1",
                                         facility_external_id="f1", source="pull")  # fmt: skip
    code, out = run_status()
    assert code == 0 and "recompute: 1 pending, oldest" in out
    RecordChange.objects.filter(pk=change.pk).update(
        created_at=timezone.now() - timedelta(minutes=16)
    )
    code, out = run_status()
    assert code == 1 and "ALERT: oldest older than 15 min" in out


def test_no_full_recompute_for_26_hours_is_an_alert(healthy):
    beat("recompute.full", timezone.now() - timedelta(hours=27))
    code, out = run_status()
    assert code == 1 and "ALERT: no successful full recompute" in out


def test_voltmetrics_down_for_half_an_hour_is_an_alert(healthy, settings):
    from voltmetrics.integration import client as vm

    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"
    settings.VOLTMETRICS_BREAKER_THRESHOLD = 1
    breaker = vm.CircuitBreaker()
    breaker.failure()
    code, out = run_status()
    assert code == 0 and "unavailable (circuit breaker open) for" in out
    from django.core.cache import cache

    cache.set(vm._K_DOWN_SINCE, time.time() - 31 * 60, None)
    code, out = run_status()
    assert code == 1 and "ALERT: unavailable for more than 30 min" in out
    breaker.success()
    code, out = run_status()
    assert code == 0 and "VoltMetrics\n  available" in out


def test_a_long_queue_and_a_paused_subscription_are_alerts():
    now = time.time()
    base = [
        Sample("masterbus_recompute_last_success_timestamp_seconds", {"kind": "full"}, now),
        Sample("masterbus_queue_length", {"queue": "masterbus"}, 10_001),
        Sample("masterbus_webhook_deliveries_pending", {"subscription": "s1"}, 3),
        Sample("masterbus_webhook_subscription_paused", {"subscription": "s1"}, 1),
    ]
    st = status(samples=base, now=now)
    assert [a.alert for a in st.alerts] == ["more than 10,000 waiting", "paused"]
    st = status(samples=[base[0], Sample("masterbus_queue_length", {"queue": "q"}, 10_000)],
                now=now)  # fmt: skip
    assert st.alerts == []


def test_a_source_that_cannot_be_read_is_an_alert(healthy):
    from masterbus.metrics import application

    def broken():
        raise ConnectionError("database is down")

    application.register_provider("condoit", broken)
    try:
        code, out = run_status()
    finally:
        from condoit.metrics import condoit_samples

        application.register_provider("condoit", condoit_samples)
    assert code == 1
    assert "Unreadable\n  condoit: ConnectionError  ALERT: could not be read" in out


def test_the_voltmetrics_backlog_counts_only_while_voltmetrics_answers():
    now = time.time()
    base = [
        Sample("masterbus_recompute_last_success_timestamp_seconds", {"kind": "full"}, now),
        Sample("masterbus_changes_pending", {"consumer": "voltmetrics"}, 5),
        Sample("masterbus_changes_oldest_pending_age_seconds", {"consumer": "voltmetrics"}, 901),
        Sample("masterbus_voltmetrics_jobs", {"status": "processing"}, 0),
    ]
    up = status(samples=[*base, Sample("masterbus_voltmetrics_available", {}, 1)], now=now)
    assert [a.text for a in up.alerts] == ["voltmetrics: 5 pending, oldest 15 min"]
    down = status(
        samples=[*base, Sample("masterbus_voltmetrics_available", {}, 0),
                 Sample("masterbus_voltmetrics_down_since_timestamp_seconds", {}, now - 60)],
        now=now,
    )  # fmt: skip
    assert down.alerts == []
