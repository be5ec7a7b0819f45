"""Every admin page — the dashboard, each registered model's list, one change page and its
history per model, each app's index — answers 200 for a superuser and runs the same number of
queries with few rows and with many.

The models come from the admin site's registry, so a model any app registers later is covered
too: rows are built the way the apps write them where a realistic shape matters (the mirror
through the real import, figures by a real recompute, services for keys, overrides,
portfolios), and by model-bakery for every other model. A model whose rows cannot grow (one per
choice of a unique field) is named in ``FIXED_SIZE``."""

from __future__ import annotations

import io
import itertools
from datetime import date

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from model_bakery import baker

from consumers.models import Delivery, Event, Portfolio, Subscription
from consumers.portfolios import portfolio_save
from facilities.choices import RecordKind
from facilities.models import ProcessedEvent, SyncCursor
from facilities.services import override_set
from masterbus.services import api_key_create
from tests import factories as raw
from voltmetrics.choices import JobStatus, RunKind
from voltmetrics.models import (
    Job,
    ModelVersion,
    PortfolioSnapshot,
    RecomputeChunk,
    RecomputeRun,
    WebhookEvent,
)
from voltmetrics.services import risk_recompute

from . import factories as f

pytestmark = pytest.mark.django_db

# One row per value of a unique choice field: the table cannot grow.
FIXED_SIZE = {"equipment.TypeProfile", "voltmetrics.PortfolioAssessment"}
FEW, MORE = 2, 10


def grows_on_this_database() -> set[str]:
    """On the embedded SQLite a webhook subscription's queue depth is counted one subscription
    at a time (``consumers.webhooks.selectors.queue_depths`` is one query on PostgreSQL only):
    the pages that show them grow with the subscriptions there, and only there."""
    if connection.vendor == "postgresql":
        return set()
    return {reverse("admin:index"), reverse("admin:consumers_subscription_changelist")}


_n = itertools.count(1)


def registered() -> list[type]:
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


def build(k: int, start: int, folder) -> None:
    """``k`` more of everything the admin lists (the export file written in ``folder``)."""
    facilities, equipment, maintenance = [], [], []
    for i in range(start, start + k):
        fid = f"fac_p{i}"
        facilities.append(raw.facility(id=fid, name=f"Plant {i}"))
        for j in range(2):
            eid = f"eq_p{i}_{j}"
            photos = [{"id": f"ph_{eid}", "url": f"https://photos.example/{eid}.jpg"}]
            equipment.append(raw.equipment(fid, id=eid, photos=photos))
            maintenance.append(raw.maintenance(eid))
    path = raw.write_export(folder / f"export_{start}.json", facilities, equipment, maintenance)
    call_command("import_condoit", str(path), "--no-progress", stdout=io.StringIO())
    risk_recompute()  # assessments, snapshots, the portfolio; events for the consumers

    now = timezone.now()
    for i in range(start, start + k):
        run = f.sync_run(label=f"run {i}")
        f.rejection(run, record_id=f"eq_bad_{i}")
        override_set(kind=RecordKind.EQUIPMENT, external_id=f"eq_p{i}_0", field="manufacturer",
                     value="Eaton", condoit_value="Square D")  # fmt: skip
        ProcessedEvent.objects.create(event_id=f"evt_{i}", event_type="equipment.updated",
                                      outcome="applied")  # fmt: skip
        SyncCursor.objects.create(resource=f"resource{i}", high_water_mark=now)
        api_key_create(name=f"key {i}", scopes=["threatmap:read"])
        portfolio_save(slug=f"p{i}", name=f"Portfolio {i}", facility_ids=[f"fac_p{i}"])
        job = Job.objects.create(job_id=f"job{i}", kind="equipment", items=[f"eq_p{i}_0"],
                                 status=JobStatus.COMPLETED, submitted_at=now)  # fmt: skip
        WebhookEvent.objects.create(event_id=f"wh{i}", event_type="job.completed",
                                    job_id=job.job_id)  # fmt: skip
        recompute = RecomputeRun.objects.create(kind=RunKind.FULL, status="finished", as_of=now,
                                                algorithm_version="1.0", lock_token="t",
                                                chunks_total=1, chunks_done=1)  # fmt: skip
        RecomputeChunk.objects.create(run=recompute, number=1, pk_from=1, pk_to=10)
        ModelVersion.objects.create(version=f"0.{next(_n)}", weights={"age": 1},
                                    thresholds={"low_max": 40, "medium_max": 70,
                                                "high_max": 85})  # fmt: skip
        PortfolioSnapshot.objects.create(month=date(1990 + i, 1, 31), risk_score=40,
                                         algorithm_version="1.0", computed_at=now)  # fmt: skip
        sub = Subscription.objects.create(url=f"https://hooks.example/{i}", secret_encrypted="x")
        event = Event.objects.order_by("id").first()
        Delivery.objects.create(subscription=sub, event=event, event_type=event.type,
                                event_public_id=event.public_id, body=b"{}")  # fmt: skip
    assert Portfolio.objects.count() >= k


def fill_the_rest(counts: dict[str, int], k: int) -> None:
    """model-bakery rows for every registered model the builders above did not grow."""
    for model in registered():
        label = model._meta.label
        if label in FIXED_SIZE or model._default_manager.count() > counts.get(label, 0):
            continue
        if label == "django_celery_beat.PeriodicTask":
            for _ in range(k):
                baker.make(model, interval=baker.make("django_celery_beat.IntervalSchedule"))
            continue
        baker.make(model, _quantity=k)


def pages(model) -> list[str]:
    opts = model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}"
    out = [reverse(f"{name}_changelist")]
    first = model._default_manager.order_by("pk").first()
    if first is not None:
        out += [reverse(f"{name}_change", args=[first.pk]),
                reverse(f"{name}_history", args=[first.pk])]  # fmt: skip
    return out


def every_page() -> list[str]:
    urls = [reverse("admin:index")]
    urls += sorted({reverse("admin:app_list", args=[m._meta.app_label]) for m in registered()})
    for model in registered():
        urls += pages(model)
    return urls


def queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return len(ctx.captured_queries)


def rows() -> dict[str, int]:
    return {m._meta.label: m._default_manager.count() for m in registered()}


def test_every_admin_page_runs_as_many_queries_with_few_rows_as_with_many(
    admin_client, settings, tmp_path
):
    settings.METRICS_CACHE_SECONDS = 0  # the dashboard's gauges, read at each render
    before = rows()
    build(FEW, 0, tmp_path)
    fill_the_rest(before, FEW)
    few_rows = rows()
    urls = every_page()
    for url in urls:  # warm: sessions, content types, permissions
        admin_client.get(url)
    few = {url: queries(admin_client, url) for url in urls}

    build(MORE, FEW, tmp_path)
    fill_the_rest(few_rows, MORE)
    many_rows = rows()
    not_grown = {label for label, n in many_rows.items() if n <= few_rows[label]} - FIXED_SIZE
    assert not_grown == set(), "rows of these models did not grow between the two measures"
    assert all(n > 0 for n in few_rows.values()), few_rows
    many = {url: queries(admin_client, url) for url in urls}

    grew = {url: (few[url], many[url]) for url in urls
            if many[url] != few[url] and url not in grows_on_this_database()}  # fmt: skip
    assert grew == {}, f"pages whose queries grow with rows (few, many): {grew}"
    assert len(urls) > 3 * len(registered())  # every list, change and history page, and more


def test_every_registered_model_is_in_an_app_the_index_lists(admin_client):
    response = admin_client.get(reverse("admin:index"))
    listed = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert {m._meta.object_name for m in registered()} <= listed
