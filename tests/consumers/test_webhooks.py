"""Webhook deliveries (consumers.md §4) against real receivers on loopback: signed per
Standard Webhooks, retried on schedule, in order per subscription, paused after the last
retry, disabled by a 410, never redirected, SSRF-safe."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from standardwebhooks import Webhook

from consumers.choices import DeliveryStatus, EventType
from consumers.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Portfolio,
    PortfolioFacility,
    Subscription,
    event_public_id,
)
from consumers.webhooks.engine import deliver_subscription
from consumers.webhooks.metrics import webhook_samples
from consumers.webhooks.secrets import signing_secrets
from consumers.webhooks.services import (
    delivery_replay,
    subscription_resume,
    subscription_send_test,
)
from consumers.webhooks.tasks import deliveries_sweep_task
from tests.admin import factories as af

from .receiver import receiver_running

pytestmark = [pytest.mark.django_db, pytest.mark.services]

RISK = EventType.FACILITY_RISK_CHANGED
SYNC = EventType.SYNC_RUN_FINISHED


def verify(secret: str, received) -> dict:
    return Webhook(secret).verify(received.body, received.headers)


def wait_and_sweep(seconds: float = 0.25):
    time.sleep(seconds)
    return deliveries_sweep_task()


def test_500_twice_then_200_each_event_once_more_per_failure_in_order(receiver, subscribe, emit):
    sub, secret = subscribe(receiver.url)
    receiver.answers = [500, 500]
    ids = emit((RISK, None, {"n": 1}), (SYNC, None, {"n": 2}))
    first, second = (event_public_id(i) for i in ids)
    assert receiver.ids() == [first]  # the first attempt failed; the second event waits
    head = Delivery.objects.get(subscription=sub)
    assert (head.status, head.attempts, head.event_public_id) == ("pending", 1, first)
    assert head.next_attempt_at is not None
    wait_and_sweep()
    assert receiver.ids() == [first, first]
    wait_and_sweep()
    assert receiver.ids() == [first, first, first, second]
    for got in receiver.received:
        event = verify(secret, got)
        assert event["id"] == got.headers["webhook-id"]
        assert got.headers["content-type"] == "application/json"
        assert got.headers["user-agent"].startswith("MasterBus/")
        assert got.headers["webhook-signature"].startswith("v1,")
        assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 30
    body = receiver.received[-1].event
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == SYNC and body["data"] == {"n": 2} and body["created_at"].endswith("Z")
    d1 = Delivery.objects.get(subscription=sub, event_public_id=first)
    assert (d1.status, d1.attempts) == (DeliveryStatus.SUCCEEDED, 3)
    assert bytes(d1.body) == receiver.received[0].body  # the exact bytes, every attempt
    codes = list(DeliveryAttempt.objects.filter(delivery=d1).values_list("status_code", flat=True))
    assert codes == [500, 500, 200]
    assert DeliveryAttempt.objects.filter(delivery=d1, status_code=500).first().error == "HTTP 500"
    sub.refresh_from_db()
    assert sub.cursor == ids[-1] and sub.consecutive_failures == 0
    assert sub.last_success_at is not None and sub.paused_at is None


def test_a_receiver_that_times_out_is_a_failed_attempt(receiver, subscribe, emit, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.delay = 1.0
    sub, _ = subscribe(receiver.url)
    started = time.monotonic()
    emit((RISK, None, {}))
    assert time.monotonic() - started < 1.0
    attempt = DeliveryAttempt.objects.get(delivery__subscription=sub)
    assert attempt.status_code is None and "timed out" in attempt.error
    assert Delivery.objects.get(subscription=sub).status == DeliveryStatus.PENDING
    sub.refresh_from_db()
    assert sub.consecutive_failures == 1 and sub.cursor < Event.objects.get().id


def test_410_marks_gone_and_disables_at_once(receiver, subscribe, emit):
    sub, _ = subscribe(receiver.url)
    receiver.answers = [410]
    ids = emit((RISK, None, {}), (RISK, None, {}))
    assert len(receiver.received) == 1
    delivery = Delivery.objects.get(subscription=sub)
    assert delivery.status == DeliveryStatus.GONE and delivery.finished_at is not None
    sub.refresh_from_db()
    assert sub.active is False and sub.cursor == ids[-1]
    emit((RISK, None, {}))
    wait_and_sweep(0)
    assert len(receiver.received) == 1  # nothing more goes to a disabled subscription


def test_a_redirect_is_a_failure_and_is_not_followed(wh_settings, subscribe, emit):
    with receiver_running() as target, receiver_running() as hook:
        hook.default = (302, {"Location": target.url}, b"")
        sub, _ = subscribe(hook.url)
        emit((RISK, None, {}))
        assert len(hook.received) == 1 and target.received == []
        attempt = DeliveryAttempt.objects.get(delivery__subscription=sub)
        assert attempt.status_code == 302 and "redirect" in attempt.error
        assert Delivery.objects.get(subscription=sub).status == DeliveryStatus.PENDING
        wait_and_sweep()
        assert len(hook.received) == 2 and target.received == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_without_allow_private(receiver, subscribe, emit, settings, host):
    url = receiver.url.replace("127.0.0.1", host)
    sub, _ = subscribe(url)  # made while private addresses were allowed
    settings.WEBHOOK_ALLOW_PRIVATE = False  # deliveries check the address they connect to
    emit((RISK, None, {}))
    assert receiver.received == []
    attempt = DeliveryAttempt.objects.get(delivery__subscription=sub)
    assert attempt.status_code is None
    assert attempt.error.startswith("refused:")
    assert "127.0.0.1" in attempt.error and "loopback" in attempt.error
    assert Delivery.objects.get(subscription=sub).status == DeliveryStatus.PENDING


def test_rotation_sends_both_signatures_for_a_day(receiver, subscribe, emit):
    from consumers.webhooks.services import subscription_rotate_secret

    sub, old = subscribe(receiver.url)
    new = subscription_rotate_secret(sub)
    assert new != old and new.startswith("whsec_")
    emit((RISK, None, {}))
    got = receiver.received[0]
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    verify(new, got)
    verify(old, got)
    # Each secret verifies its own signature alone.
    for secret, signature in ((new, signatures[0]), (old, signatures[1])):
        verify(secret, type(got)(got.path, {**got.headers, "webhook-signature": signature},
                                 got.body, got.at))  # fmt: skip
    # After the overlap only the new secret signs.
    Subscription.objects.filter(pk=sub.pk).update(
        previous_secret_until=sub.previous_secret_until.replace(year=2000)
    )
    emit((RISK, None, {}))
    last = receiver.received[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    verify(new, last)


def test_secrets_are_stored_encrypted(subscribe):
    sub, secret = subscribe("https://example.com/hook")
    assert secret.startswith("whsec_") and 24 <= len(Webhook(secret)._whsecret) <= 32
    row = Subscription.objects.filter(pk=sub.pk).values_list("secret_encrypted", flat=True).get()
    assert secret not in row and secret[6:] not in row
    assert signing_secrets(Subscription.objects.get(pk=sub.pk)) == [secret]


def test_event_2_waits_while_event_1_is_retried(receiver, subscribe, emit, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.6, 0.6]
    sub, _ = subscribe(receiver.url)
    receiver.answers = [503]
    e1 = emit((RISK, None, {"n": 1}))[0]
    e2 = emit((RISK, None, {"n": 2}))[0]  # the kick skips a subscription being retried
    deliveries_sweep_task()  # not due yet
    deliver_subscription(sub.pk)  # nor when asked directly
    assert receiver.ids() == [event_public_id(e1)]
    wait_and_sweep(0.7)
    assert receiver.ids() == [event_public_id(i) for i in (e1, e1, e2)]


def test_pause_after_the_last_retry_and_resume_sends_what_queued_in_order(
    receiver, subscribe, emit, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = [0.05, 0.05]
    sub, _ = subscribe(receiver.url)
    receiver.answers = [500, 500, 500]
    e1 = emit((RISK, None, {"n": 1}))[0]
    wait_and_sweep(0.1)
    wait_and_sweep(0.1)
    assert receiver.ids() == [event_public_id(e1)] * 3
    failed = Delivery.objects.get(subscription=sub)
    assert (failed.status, failed.attempts) == (DeliveryStatus.FAILED, 3)
    sub.refresh_from_db()
    assert sub.paused_at is not None and event_public_id(e1) in sub.paused_reason
    assert sub.consecutive_failures == 3
    e2, e3 = emit((RISK, None, {"n": 2}), (SYNC, None, {"n": 3}))
    wait_and_sweep(0.1)
    assert len(receiver.received) == 3  # paused: the events queue
    assert dict((s.family, s.value) for s in webhook_samples()) == {
        "masterbus_webhook_deliveries_pending": 3,
        "masterbus_webhook_subscription_paused": 1,
    }
    assert subscription_resume(sub) is True
    # on_commit of the resume: run what it queued (the test is one transaction).
    deliver_subscription(sub.pk)
    assert receiver.ids()[3:] == [event_public_id(i) for i in (e1, e2, e3)]
    sub.refresh_from_db()
    assert sub.paused_at is None and sub.cursor == e3 and sub.consecutive_failures == 0
    assert {s.family: s.value for s in webhook_samples()} == {
        "masterbus_webhook_deliveries_pending": 0,
        "masterbus_webhook_subscription_paused": 0,
    }


def test_a_portfolio_bound_subscription_gets_its_facilities_events_only(receiver, subscribe, emit):
    inside, outside = af.facility(), af.facility()
    portfolio = Portfolio.objects.create(slug="acme", name="Acme")
    PortfolioFacility.objects.create(portfolio=portfolio, facility=inside)
    with receiver_running() as everything:
        bound, _ = subscribe(receiver.url, portfolios=[portfolio])
        unbound, _ = subscribe(everything.url)
        ids = emit(
            (RISK, inside.pk, {"n": 1}),
            (RISK, outside.pk, {"n": 2}),
            (SYNC, None, {"n": 3}),
            (EventType.MODEL_VERSION_PUBLISHED, None, {"n": 4}),
            (EventType.VOLTMETRICS_STATUS_CHANGED, None, {"n": 5}),
            (EventType.EQUIPMENT_MAINTENANCE_OVERDUE, inside.pk, {"n": 6}),
        )
        assert receiver.ids() == [event_public_id(ids[0]), event_public_id(ids[5])]
        assert everything.ids() == [event_public_id(i) for i in ids]
    assert Subscription.objects.get(pk=bound.pk).cursor == ids[5]


def test_event_types_filter_and_a_new_subscription_starts_from_now(receiver, subscribe, emit):
    emit((RISK, None, {"before": True}))
    sub, _ = subscribe(receiver.url, event_types=[SYNC])
    ids = emit((RISK, None, {}), (SYNC, None, {}), (RISK, None, {}))
    assert receiver.ids() == [event_public_id(ids[1])]


def test_one_kept_alive_connection_for_a_run(receiver, subscribe, emit):
    subscribe(receiver.url)
    emit(*[(RISK, None, {"n": n}) for n in range(120)])
    assert len(receiver.received) == 120
    assert [r.event["data"]["n"] for r in receiver.received] == list(range(120))
    assert receiver.connections == 1
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 120
    assert DeliveryAttempt.objects.count() == 120


def test_replay_and_test_event_go_to_that_subscription_only_outside_the_order(
    receiver, subscribe, emit, django_capture_on_commit_callbacks
):
    sub, secret = subscribe(receiver.url)
    with receiver_running() as other_receiver:
        subscribe(other_receiver.url)
        emit((RISK, None, {"n": 1}))
        original = Delivery.objects.get(subscription=sub)
        receiver.answers = [503]  # the subscription is now being retried
        emit((RISK, None, {"n": 2}))
        with django_capture_on_commit_callbacks(execute=True):
            again = delivery_replay(original)
        with django_capture_on_commit_callbacks(execute=True):
            test = subscription_send_test(sub)
        assert len(other_receiver.received) == 2
    got = receiver.received
    assert [g.headers["webhook-id"] for g in got] == [
        original.event_public_id, event_public_id(original.event_id + 1),
        original.event_public_id, test.event_public_id,
    ]  # fmt: skip
    assert got[2].body == bytes(original.body)
    assert verify(secret, got[3])["type"] == "test"
    again.refresh_from_db()
    test.refresh_from_db()
    assert again.replay and again.status == DeliveryStatus.SUCCEEDED and again.attempts == 1
    assert test.replay and test.status == DeliveryStatus.SUCCEEDED and test.event_id is None
    head = Delivery.objects.get(subscription=sub, replay=False, status=DeliveryStatus.PENDING)
    assert head.event_id == original.event_id + 1


def test_an_inactive_or_paused_subscription_is_not_sent_to(receiver, subscribe, emit):
    from consumers.webhooks.services import subscription_pause, subscription_set_active

    sub, _ = subscribe(receiver.url)
    subscription_pause(sub)
    emit((RISK, None, {}))
    assert receiver.received == []
    off, _ = subscribe(receiver.url, active=False)
    emit((RISK, None, {}))
    subscription_set_active(off, True)
    assert off.cursor == Event.objects.order_by("-id").first().id  # starts from now
    assert receiver.received == []


def test_a_subscription_held_by_one_run_is_not_sent_to_by_another(receiver, subscribe, emit):
    """The lock is per subscription: a run that finds it held sends nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    from django.db import connections

    from consumers.webhooks.engine import subscription_lock

    sub, _ = subscribe(receiver.url)
    results = {}

    def other():
        try:
            results["other"] = deliver_subscription(sub.pk)
        finally:
            connections.close_all()

    with subscription_lock(sub.pk) as held:
        assert held
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    assert results["other"].stopped == "busy" and results["other"].sent == 0
    with subscription_lock(sub.pk) as held:
        assert held  # released
