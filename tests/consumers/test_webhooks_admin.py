"""Webhook subscriptions and deliveries in the admin: the secret shown once, health, rotate,
pause, resume, test event, replay; every page renders."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from standardwebhooks import Webhook

from consumers.choices import DeliveryStatus, EventType
from consumers.models import Delivery, Event, Portfolio, Subscription
from consumers.webhooks.secrets import signing_secrets

pytestmark = [pytest.mark.django_db, pytest.mark.services]

RISK = EventType.FACILITY_RISK_CHANGED


def secret_on(response) -> str:
    found = re.findall(
        r'<code id="webhook-secret"[^>]*>(whsec_[^<]+)</code>', response.content.decode()
    )
    assert len(found) == 1, response.content.decode()[:3000]
    return found[0]


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_add_shows_the_secret_once_and_stores_it_encrypted(admin_client, wh_settings, emit):
    portfolio = Portfolio.objects.create(slug="acme", name="Acme")
    emit((RISK, None, {}))
    response = admin_client.post(
        reverse("admin:consumers_subscription_add"),
        {
            "url": "https://hooks.example.com/in",
            "description": "planner",
            "event_types": [RISK, EventType.SYNC_RUN_FINISHED],
            "portfolios": [portfolio.pk],
            "active": "on",
        },
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = secret_on(response)
    sub = Subscription.objects.get()
    assert signing_secrets(sub) == [secret] and secret not in sub.secret_encrypted
    Webhook(secret)
    assert sub.event_types == [RISK, EventType.SYNC_RUN_FINISHED]
    assert list(sub.portfolios.all()) == [portfolio]
    assert sub.cursor == Event.objects.get().id  # starts with the next event
    assert sub.created_by is not None
    page = admin_client.get(reverse("admin:consumers_subscription_change", args=[sub.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()


def test_add_refuses_http_and_private_literals(admin_client, settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url, reason in (
        ("http://hooks.example.com/in", "WEBHOOK_ALLOW_HTTP"),
        ("https://192.168.1.10/in", "private address"),
        ("ftp://hooks.example.com/in", "https://"),
    ):
        response = admin_client.post(
            reverse("admin:consumers_subscription_add"), {"url": url, "active": "on"}
        )
        assert response.status_code == 200
        assert reason in response.context["adminform"].form.errors["url"][0]
    assert Subscription.objects.count() == 0


def test_rotate_button_shows_the_new_secret_once(admin_client, subscribe):
    sub, old = subscribe("https://hooks.example.com/in")
    response = admin_client.post(
        reverse("admin:consumers_subscription_button", args=[sub.pk, "rotate"])
    )
    new = secret_on(response)
    assert new != old
    sub.refresh_from_db()
    assert signing_secrets(sub) == [new, old]
    assert admin_client.get(
        reverse("admin:consumers_subscription_button", args=[sub.pk, "rotate"])
    ).status_code == 405  # fmt: skip


def test_rotate_action_on_one_subscription(admin_client, subscribe):
    sub, old = subscribe("https://hooks.example.com/in")
    response = admin_client.post(
        reverse("admin:consumers_subscription_changelist"),
        {"action": "rotate_secret", "_selected_action": [sub.pk]},
    )
    assert secret_on(response) != old


def test_health_pause_resume_and_test_buttons(admin_client, receiver, subscribe, emit):
    sub, secret = subscribe(receiver.url)
    change = reverse("admin:consumers_subscription_change", args=[sub.pk])
    button = lambda what: reverse("admin:consumers_subscription_button", args=[sub.pk, what])  # noqa: E731
    response = admin_client.post(button("pause"), follow=True)
    assert any("Paused" in m for m in messages_of(response))
    emit((RISK, None, {"n": 1}), (RISK, None, {"n": 2}))
    assert receiver.received == []
    page = admin_client.get(change).content.decode()
    assert "paused by admin" in page and "Resume (send what queued)" in page
    listing = admin_client.get(reverse("admin:consumers_subscription_changelist")).content.decode()
    assert "paused" in listing
    response = admin_client.post(button("resume"), follow=True)
    assert any("2 queued event(s)" in m for m in messages_of(response))
    # The test's transaction never commits: run what the resume queued on commit.
    from consumers.webhooks.tasks import deliver_subscription_task

    deliver_subscription_task(sub.pk)
    assert [r.event["data"]["n"] for r in receiver.received] == [1, 2]
    response = admin_client.post(button("test"), follow=True)
    test = Delivery.objects.get(event_type="test")
    assert any(test.event_public_id in m for m in messages_of(response))
    from consumers.webhooks.tasks import deliver_one_task

    deliver_one_task(test.pk)
    assert Webhook(secret).verify(receiver.received[-1].body, receiver.received[-1].headers)[
        "type"
    ] == "test"  # fmt: skip
    page = admin_client.get(change).content.decode()
    assert test.event_public_id in page and "last success" in page.lower()


def test_deliveries_are_read_only_with_attempts_and_can_be_replayed(
    admin_client, receiver, subscribe, emit
):
    sub, _ = subscribe(receiver.url)
    receiver.answers = [500]
    emit((RISK, None, {"n": 1}))
    delivery = Delivery.objects.get()
    page = admin_client.get(reverse("admin:consumers_delivery_change", args=[delivery.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "HTTP 500" in text and "Replay" in text
    assert admin_client.get(reverse("admin:consumers_delivery_changelist")).status_code == 200
    response = admin_client.post(
        reverse("admin:consumers_delivery_replay", args=[delivery.pk]), follow=True
    )
    again = Delivery.objects.filter(replay=True).get()
    assert any(f"as delivery #{again.pk}" in m for m in messages_of(response))
    assert bytes(again.body) == bytes(delivery.body) and again.event_id == delivery.event_id
    response = admin_client.post(
        reverse("admin:consumers_delivery_changelist"),
        {"action": "replay_selected", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert Delivery.objects.filter(replay=True).count() == 2
    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING  # untouched


def test_switching_off_and_on_starts_from_the_newest_event(admin_client, subscribe, emit):
    sub, _ = subscribe("https://hooks.example.com/in", active=False)
    emit((RISK, None, {}))
    response = admin_client.post(
        reverse("admin:consumers_subscription_change", args=[sub.pk]),
        {"url": sub.url, "description": "on again", "active": "on"},
    )
    assert response.status_code == 302
    sub.refresh_from_db()
    assert sub.active and sub.description == "on again"
    assert sub.cursor == Event.objects.get().id


def test_the_list_counts_every_queue_in_one_query(admin_client, subscribe, emit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:consumers_subscription_changelist")

    def render():
        with CaptureQueriesContext(connection) as ctx:
            page = admin_client.get(url)
        assert page.status_code == 200
        return page.content.decode(), len(ctx.captured_queries)

    subscribe("https://a.example.com/in", event_types=[RISK])
    emit((RISK, None, {}), (RISK, None, {}))
    render()  # warm the session and content types
    _, few = render()
    for n in range(6):
        subscribe(f"https://b{n}.example.com/in", event_types=[EventType.SYNC_RUN_FINISHED])
    emit((EventType.SYNC_RUN_FINISHED, None, {}))
    html, many = render()
    assert many == few
    depths = re.findall(r'<td class="field-queue">(\d+)</td>', html)
    assert sorted(depths) == ["1"] * 6 + ["2"]
