"""Webhook retention (operations.md §3): events older than EVENT_RETENTION_DAYS go unless an
active subscription still needs them; finished deliveries and their attempts go after the
same time; a delivery still being retried stays. Also the sweep's beat schedule."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from consumers.choices import DeliveryStatus, EventType
from consumers.models import Delivery, DeliveryAttempt, Event, Subscription
from consumers.webhooks.services import subscription_create
from masterbus.retention import RetentionRefused, prune

pytestmark = pytest.mark.django_db

NOW = timezone.now()
DAY = timedelta(days=1)


def event(age_days: float) -> Event:
    return Event.objects.create(
        type=EventType.SYNC_RUN_FINISHED, created_at=NOW - age_days * DAY, data={}
    )


def delivery(sub, status, age_days, attempts=1):
    d = Delivery.objects.create(
        subscription=sub, event_type="x", event_public_id="evt_x", body=b"{}", status=status,
        finished_at=None if status == DeliveryStatus.PENDING else NOW - age_days * DAY,
    )  # fmt: skip
    for _ in range(attempts):
        DeliveryAttempt.objects.create(delivery=d, at=NOW - age_days * DAY, status_code=500)
    return d


@pytest.fixture
def retention(settings):
    settings.EVENT_RETENTION_DAYS = 30
    settings.WEBHOOK_ALLOW_HTTP = True
    return settings


def test_old_events_go_unless_an_active_subscription_still_needs_them(retention):
    old = [event(40) for _ in range(4)]
    young = event(1)
    sub, _ = subscription_create(url="https://hooks.example.com/a")
    Subscription.objects.filter(pk=sub.pk).update(cursor=old[1].id)  # it still needs old[2:]
    off, _ = subscription_create(url="https://hooks.example.com/b", active=False)
    Subscription.objects.filter(pk=off.pk).update(cursor=0)  # inactive: needs nothing
    result = prune(now=NOW)
    assert result.counts["consumers_event"] == 2
    assert list(Event.objects.values_list("id", flat=True)) == [old[2].id, old[3].id, young.id]
    Subscription.objects.filter(pk=sub.pk).update(paused_at=NOW)  # paused still needs them
    prune(now=NOW)
    assert Event.objects.count() == 3
    Subscription.objects.filter(pk=sub.pk).update(cursor=young.id)
    prune(now=NOW)
    assert list(Event.objects.values_list("id", flat=True)) == [young.id]


def test_without_subscriptions_old_events_go(retention):
    event(31), event(29)
    assert prune(now=NOW).counts["consumers_event"] == 1


def test_finished_deliveries_and_attempts_go_after_the_retention(retention):
    sub, _ = subscription_create(url="https://hooks.example.com/a")
    old_ok = delivery(sub, DeliveryStatus.SUCCEEDED, 40, attempts=2)
    old_failed = delivery(sub, DeliveryStatus.FAILED, 31)
    young = delivery(sub, DeliveryStatus.SUCCEEDED, 2)
    retrying = delivery(sub, DeliveryStatus.PENDING, 40)
    dry = prune(now=NOW, dry_run=True)
    assert dry.counts["consumers_deliveryattempt"] == 3
    assert dry.counts["consumers_delivery"] == 2 and Delivery.objects.count() == 4
    result = prune(now=NOW)
    assert result.counts["consumers_deliveryattempt"] == 3
    assert result.counts["consumers_delivery"] == 2
    assert set(Delivery.objects.values_list("pk", flat=True)) == {young.pk, retrying.pk}
    assert not DeliveryAttempt.objects.filter(delivery_id__in=[old_ok.pk, old_failed.pk]).exists()


def test_the_floor_is_two_days(retention):
    retention.EVENT_RETENTION_DAYS = 1
    event(40)
    with pytest.raises(RetentionRefused, match="EVENT_RETENTION_DAYS=1 is below its floor of 2"):
        prune(now=NOW)
    assert Event.objects.count() == 1


def test_the_sweep_runs_every_minute_on_the_events_queue(settings):
    entry = PeriodicTask.objects.select_related("interval").get(name="Webhook deliveries sweep")
    assert entry.task == "consumers.webhooks.tasks.deliveries_sweep_task" and entry.enabled
    assert (entry.interval.every, entry.interval.period) == (1, "minutes")
    assert settings.CELERY_TASK_ROUTES.queue_for(entry.task) == "events"
