"""Queues per workload (masterbus/queues.py, CELERY_TASK_ROUTES in settings): every task of
the project has an explicit route, CELERY_QUEUE_PREFIX is prepended to every queue name, the
queue-length gauge and ``manage.py status`` report every queue by its logical name."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from masterbus.celery import app as celery_app
from masterbus.metrics.application import Sample
from masterbus.metrics.broker import queue_lengths
from masterbus.queues import QUEUES, QueueRoutes, queue_name
from masterbus.status import status

# The workloads of docs/deployment.md, "Queues"; a task moved to another queue changes this.
EXPECTED = {
    "facilities.tasks.condoit_pull_task": "ingest",
    "voltmetrics.tasks.recompute_pending_task": "recompute",
    "voltmetrics.tasks.recompute_all_task": "recompute",
    "voltmetrics.tasks.recompute_facilities_task": "recompute",
    "voltmetrics.tasks.snapshot_month_task": "recompute",
    "voltmetrics.tasks.backfill_snapshots_task": "recompute",
    "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task": "voltmetrics",
    "voltmetrics.integration.tasks.voltmetrics_poll_jobs_task": "voltmetrics",
    "voltmetrics.integration.tasks.voltmetrics_handle_callback": "voltmetrics",
    "voltmetrics.integration.tasks.voltmetrics_complete_job_task": "voltmetrics",
    "equipment.tasks.photo_fetch_task": "photos",
    "equipment.tasks.photos_fetch_pending_task": "photos",
    "consumers.webhooks.tasks.deliver_subscription_task": "events",
    "consumers.webhooks.tasks.deliver_one_task": "events",
    "consumers.webhooks.tasks.deliveries_sweep_task": "events",
    "masterbus.prune": "default",
}


def project_tasks() -> set[str]:
    """Every task registered by the project's apps (not Celery's own, not the tests')."""
    celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker does
    return {
        name
        for name, task in celery_app.tasks.items()
        if not name.startswith("celery.") and not type(task).__module__.startswith("tests.")
    }


def test_every_task_of_the_project_has_an_explicit_route():
    routes = settings.CELERY_TASK_ROUTES
    tasks = project_tasks()
    assert "facilities.tasks.condoit_pull_task" in tasks and len(tasks) >= len(EXPECTED)
    unrouted = sorted(tasks - set(routes.table))
    assert unrouted == [], f"add these tasks to CELERY_TASK_ROUTES in settings: {unrouted}"
    assert {name: routes.queue_for(name) for name in EXPECTED} == EXPECTED
    # The recompute chunks (being added to voltmetrics.tasks) have their route already.
    for name in ("recompute_chunk_task", "recompute_finish_task"):
        assert routes.queue_for(f"voltmetrics.tasks.{name}") == "recompute"
    assert set(routes.table.values()) <= set(QUEUES)
    assert routes.tasks_of("events") == sorted(  # outbound webhook deliveries
        name for name, queue in EXPECTED.items() if queue == "events"
    )


def test_the_table_refuses_a_queue_that_does_not_exist():
    with pytest.raises(ImproperlyConfigured, match=r"unknown queues \['recompte'\]"):
        QueueRoutes({"voltmetrics.tasks.recompute_all_task": "recompte"})


def route(name: str, **options) -> str:
    return celery_app.amqp.router.route(options, name)["queue"].name


def test_the_router_sends_each_task_to_its_queue_under_the_prefix_read_at_send_time(settings):
    settings.CELERY_QUEUE_PREFIX = ""
    assert route("facilities.tasks.condoit_pull_task") == "ingest"
    assert route("voltmetrics.integration.tasks.voltmetrics_handle_callback") == "voltmetrics"
    assert route("celery.chord_unlock") == "default"  # what the table does not name
    settings.CELERY_QUEUE_PREFIX = "site-b."
    assert route("voltmetrics.tasks.recompute_all_task") == "site-b.recompute"
    assert route("equipment.tasks.photo_fetch_task") == "site-b.photos"
    assert route("celery.chord_unlock") == "site-b.default"
    # A queue given explicitly wins over the route (tests send to a queue of their own so).
    assert route("masterbus.prune", queue="elsewhere") == "elsewhere"


def test_the_default_and_a_plain_workers_queues_carry_the_prefix_of_the_environment():
    """Read from the environment at start: a worker without --queues consumes all six."""
    prefix = settings.CELERY_QUEUE_PREFIX
    assert settings.CELERY_TASK_DEFAULT_QUEUE == f"{prefix}default"
    declared = [(q.name, q.exchange.name, q.routing_key) for q in settings.CELERY_TASK_QUEUES]
    assert declared == [(f"{prefix}{q}",) * 3 for q in QUEUES]


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_a_task_sent_by_name_waits_on_its_prefixed_queue(settings):
    """Through the broker this run uses (Redis, or kombu's in-memory one on the embedded
    default): the message is on ``<prefix>ingest`` and nowhere else of the prefix."""
    prefix = f"test.routes.{uuid.uuid4().hex[:8]}."
    settings.CELERY_QUEUE_PREFIX = prefix
    celery_app.send_task("facilities.tasks.condoit_pull_task", kwargs={"full": False})
    celery_app.send_task("masterbus.prune")
    got = {}
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        try:
            for queue in QUEUES:
                while (
                    message := channel.basic_get(queue_name(queue, prefix), no_ack=True)
                ) is not None:
                    got.setdefault(queue, []).append(message.headers["task"])
        finally:
            for queue in QUEUES:
                channel.queue_delete(queue_name(queue, prefix))
    assert got == {"ingest": ["facilities.tasks.condoit_pull_task"], "default": ["masterbus.prune"]}


@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")
def test_the_queue_length_gauge_reports_every_queue_by_its_logical_name(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the gauge asks the broker only when there is one
    settings.CELERY_QUEUE_PREFIX = prefix = f"test.gauge.{uuid.uuid4().hex[:8]}."
    try:
        for _ in range(3):
            celery_app.send_task("voltmetrics.tasks.recompute_all_task")
        celery_app.send_task("equipment.tasks.photo_fetch_task", args=[1])
        lengths = {s.labels["queue"]: s.value for s in queue_lengths()}
    finally:
        with celery_app.connection_for_write() as conn:
            for queue in QUEUES:
                conn.default_channel.queue_delete(queue_name(queue, prefix))
    assert lengths == {
        "ingest": 0, "recompute": 3, "voltmetrics": 0, "photos": 1, "events": 0, "default": 0,
    }  # fmt: skip


def test_status_lists_every_queue_in_the_order_of_the_workloads():
    samples = [Sample("masterbus_queue_length", {"queue": q}, i) for i, q in
               enumerate(sorted(QUEUES))]  # fmt: skip
    text = status(samples=samples).render()
    lines = [line.strip() for line in text.split("Queues\n", 1)[1].splitlines()[: len(QUEUES)]]
    assert [line.split(":")[0] for line in lines] == list(QUEUES)
    assert "recompute: 4 waiting" in lines  # sorted(QUEUES).index("recompute") == 4
