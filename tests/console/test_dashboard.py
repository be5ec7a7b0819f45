"""The operations dashboard on the admin index: its figures are the database's, red past the
thresholds of ``manage.py status``, links to filtered lists that answer, staff only, a fixed
number of queries."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.db.models import Min
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consumers.models import Subscription
from equipment.models import Equipment
from facilities.choices import RecordKind, SyncSource, SyncStatus
from facilities.models import Facility, RecordChange, RejectedRecord, SyncCursor, SyncRun
from masterbus.heartbeats import beat
from masterbus.status import status
from voltmetrics import engine
from voltmetrics.choices import JobStatus, Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment, Job, PortfolioAssessment

from .helpers import dashboard_html, links_in, row_classes, sync_run

pytestmark = pytest.mark.django_db


def index_url() -> str:
    return reverse("admin:index")


def render(client):
    response = client.get(index_url())
    assert response.status_code == 200
    return response


def half_up(num, den) -> int:
    return int((Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def door(response, name):
    return next(d for d in response.context["dashboard"].operations.doors if d.door == name)


def status_alerts() -> set[str]:
    return {line.key for line in status().alerts}


# --- who sees it, and a fresh install ----------------------------------------------------------


def test_anonymous_and_non_staff_users_are_sent_to_the_login(client, django_user_model):
    login = reverse("admin:login")
    response = client.get(index_url())
    assert response.status_code == 302 and response["Location"].startswith(login)
    user = django_user_model.objects.create_user("reader", password="pw-reader-1")
    client.force_login(user)
    response = client.get(index_url())
    assert response.status_code == 302 and response["Location"].startswith(login)


def test_a_fresh_install_renders_without_figures(admin_client):
    response = render(admin_client)
    html = dashboard_html(response)
    d = response.context["dashboard"]
    assert not d.portfolio.assessed
    assert (d.portfolio.total_facilities, d.portfolio.total_equipment) == (0, 0)
    assert "No risk figures yet: 0 facilities and 0 equipment" in html
    assert [(x.door, x.runs, x.last_success) for x in d.operations.doors] == [
        ("pull", 0, None), ("push", 0, None), ("file", 0, None),
    ]  # fmt: skip
    assert [(r.label, r.value) for r in d.operations.recomputes] == [
        ("full", "never"), ("incremental", "never"), ("snapshot", "never"),
    ]  # fmt: skip
    # The apps and models stay on the page, below the dashboard; the header is unchanged.
    text = response.content.decode()
    assert "Apps and models" in text and reverse("admin:facilities_facility_changelist") in text
    assert "MasterBus administration" in text
    # A fresh install has never run a full recompute: red, as manage.py status says.
    assert "console-alert" in row_classes(html, "recompute-full")
    assert status_alerts() == {"recompute.full"}


# --- the figures are the database's ----------------------------------------------------------


def test_the_portfolio_figures_are_the_databases(admin_client, build):
    build(7, per=3)
    response = render(admin_client)
    pf = response.context["dashboard"].portfolio
    html = dashboard_html(response)
    assert pf.assessed

    assessments = list(
        FacilityAssessment.objects.filter(source=Source.LOCAL, facility__deleted_at__isnull=True)
        .select_related("facility")
    )  # fmt: skip
    scored = [a for a in assessments if a.equipment_count and a.risk_score is not None]
    served = EquipmentAssessment.objects.filter(served=True, equipment__deleted_at__isnull=True)
    assert pf.total_facilities == Facility.objects.filter(deleted_at__isnull=True).count() == 7
    assert pf.total_equipment == served.count() == 21
    average = half_up(sum(a.risk_score for a in scored), len(scored))
    risk = {f.label: f.value for f in pf.risk}
    assert risk == {
        "Average risk score": average,
        "High-risk facilities": sum(a.risk_level in ("High", "Critical") for a in scored),
        "Critical-risk equipment": served.filter(critical_threat=True).count(),
        "High-risk equipment": served.filter(rating="High").count(),
    }
    assert f'id="pf-average-risk-score"><th scope="row">Average risk score</th><td>{average}<' in html

    compliance = {f.label: f.value for f in pf.compliance}
    for label, key in (("NFPA 70B", "nfpa_70b"), ("NFPA 70E", "nfpa_70e"), ("Overall", "overall")):
        values = [a.payload["compliance"][key] for a in scored]
        assert compliance[label] == half_up(sum(values), len(values)), label

    # The distribution counts every served equipment's own rating.
    ratings = Counter(served.values_list("rating", flat=True))
    assert pf.distribution == {r: ratings.get(r, 0) for r in ("Low", "Medium", "High", "Critical")}
    assert sum(pf.distribution.values()) == 21
    for rating, n in pf.distribution.items():
        assert f"<td>{rating}</td><td>{n}</td>" in html  # the chart's numbers, as text

    # Trend: six months ending with the portfolio's as-of month, the live one its average.
    as_of = PortfolioAssessment.objects.get().as_of
    labels = [engine.month_label(d) for d in engine.history_points(as_of)]
    assert [m for m, _ in pf.trend] == labels and pf.trend[-1][1] == average
    # Forecast: per month, the mean of the facilities' own forecasts, rounded half up.
    months = [engine.month_label(d) for d in engine.forecast_points(as_of)]
    expected = []
    for month in months:
        values = [p["risk_score"] for a in scored for p in a.payload["forecast"]
                  if p["month"] == month]  # fmt: skip
        assert len(values) == len(scored)
        expected.append((month, half_up(sum(values), len(values))))
    assert pf.forecast == expected
    for month, value in expected:
        assert f"<td>{month} (forecast)</td><td>{value}</td>" in html

    # The five highest, ties by name, each linking to its change page.
    top = sorted(scored, key=lambda a: (-a.risk_score, a.facility.name))[:5]
    assert [(t.name, t.risk_score, t.risk_level, t.url) for t in pf.top] == [
        (a.facility.name, a.risk_score, a.risk_level,
         reverse("admin:facilities_facility_change", args=[a.facility_id]))
        for a in top
    ]  # fmt: skip

    # Waiting for staff: the class and the material code no mapping knows.
    assert (pf.unmapped_classes, pf.unmapped_class_equipment) == (1, 1)
    assert (pf.unmapped_codes, pf.unmapped_code_conductors) == (1, 1)
    assert Equipment.objects.filter(class_mapped=False).get().equipment_class == "Gizmo Box"


def test_the_sync_figures_are_the_databases(admin_client, pull_configured, build):
    build(2)  # a file run, now
    now = timezone.now()
    ok = sync_run(SyncSource.PULL, SyncStatus.PARTIAL, age=timedelta(minutes=10), rejected=2)
    RejectedRecord.objects.create(sync_run=ok, kind=RecordKind.EQUIPMENT, reason="bad date")
    RejectedRecord.objects.create(sync_run=ok, kind=RecordKind.EQUIPMENT, reason="bad class",
                                  rerun_at=now)  # fmt: skip
    sync_run(SyncSource.PULL, SyncStatus.FAILED, age=timedelta(hours=2), error="HTTP 503")
    sync_run(SyncSource.PULL, SyncStatus.FAILED, age=timedelta(hours=5), error="timeout")
    old = sync_run(SyncSource.PULL, SyncStatus.PARTIAL, age=timedelta(hours=30), rejected=4)
    RejectedRecord.objects.create(sync_run=old, kind=RecordKind.FACILITY, reason="no name")
    sync_run(SyncSource.PUSH, age=timedelta(hours=3))
    SyncCursor.objects.create(resource="equipment", high_water_mark=now - timedelta(hours=2))
    RecordChange.objects.update(created_at=now - timedelta(minutes=5))

    response = render(admin_client)
    since = timezone.now() - timedelta(hours=24)
    pull = door(response, "pull")
    recent = SyncRun.objects.filter(source="pull", started_at__gte=since)
    assert pull.runs == recent.count() == 3
    assert pull.failed == recent.filter(status="failed").count() == 2
    assert pull.rejected == sum(recent.values_list("rejected", flat=True)) == 2
    waiting = RejectedRecord.objects.filter(sync_run__source="pull", rerun_at__isnull=True)
    assert pull.waiting == waiting.count() == 2
    newest_failed = SyncRun.objects.filter(source="pull", status="failed").latest("started_at")
    assert (pull.last_error, pull.last_error_at) == ("HTTP 503", newest_failed.finished_at)
    assert pull.last_error_url == reverse("admin:facilities_syncrun_change", args=[newest_failed.pk])
    assert pull.last_success == ok.finished_at
    assert pull.lag == [("equipment", "2.0 h")]
    assert not pull.alert

    file = door(response, "file")
    imported = SyncRun.objects.get(source="file")
    assert (file.runs, file.last_success) == (1, imported.finished_at)
    push = door(response, "push")
    assert (push.runs, push.failed, push.last_error) == (1, 0, "")

    ops = response.context["dashboard"].operations
    assert ops.rejected_total == RejectedRecord.objects.filter(rerun_at__isnull=True).count() == 2
    pending = RecordChange.objects.filter(recomputed_at__isnull=True)
    oldest = pending.aggregate(m=Min("created_at"))["m"]
    assert 300 <= (timezone.now() - oldest).total_seconds() < 360
    (changes,) = ops.changes  # VoltMetrics is not configured: the recompute only
    assert (changes.label, changes.value, changes.detail) == (
        "recompute", f"{pending.count():,} pending", "oldest 5 min"
    )
    html = dashboard_html(response)
    assert "HTTP 503" in html and "equipment 2.0 h" in html


# --- red past the thresholds of manage.py status -------------------------------------------------


@pytest.mark.parametrize(("minutes", "red"), [(59, False), (61, True)])
def test_a_pull_older_than_the_threshold_is_red(admin_client, pull_configured, minutes, red):
    beat("recompute.full")
    sync_run(SyncSource.PULL, age=timedelta(minutes=minutes, seconds=30))
    html = dashboard_html(render(admin_client))
    assert ("console-alert" in row_classes(html, "door-pull")) is red
    assert ("ALERT: no successful pull for more than 60 min" in html) is red
    assert ("condoit.pull" in status_alerts()) is red  # manage.py status agrees
    assert ("console-alert" in row_classes(html, "door-file")) is False


@pytest.mark.parametrize(("minutes", "red"), [(14, False), (16, True)])
def test_a_pending_change_older_than_the_threshold_is_red(admin_client, minutes, red):
    beat("recompute.full")
    change = RecordChange.objects.create(kind=RecordKind.EQUIPMENT, external_id="e1",
                                         facility_external_id="f1", source="pull")  # fmt: skip
    RecordChange.objects.filter(pk=change.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes)
    )
    response = render(admin_client)
    html = dashboard_html(response)
    assert ("console-alert" in row_classes(html, "changes-recompute")) is red
    assert ("changes.recompute" in status_alerts()) is red
    assert response.context["dashboard"].operations.alerts == int(red)
    assert ("1 check past its alert threshold" in html) is red
    assert ("Every check is within its alert threshold" in html) is not red


@pytest.mark.parametrize(("hours", "red"), [(25, False), (27, True)])
def test_no_full_recompute_within_the_threshold_is_red(admin_client, hours, red):
    beat("recompute.full", timezone.now() - timedelta(hours=hours))
    html = dashboard_html(render(admin_client))
    assert ("console-alert" in row_classes(html, "recompute-full")) is red
    assert ("recompute.full" in status_alerts()) is red


@pytest.mark.parametrize(("minutes", "red"), [(29, False), (31, True)])
def test_voltmetrics_down_past_the_threshold_is_red(admin_client, settings, minutes, red):
    from voltmetrics.integration import client as vm

    beat("recompute.full")
    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"
    settings.VOLTMETRICS_BREAKER_THRESHOLD = 1
    vm.CircuitBreaker().failure()
    cache.set(vm._K_DOWN_SINCE, time.time() - minutes * 60, None)
    html = dashboard_html(render(admin_client))
    assert ("console-alert" in row_classes(html, "voltmetrics-voltmetrics")) is red
    assert "unavailable (circuit breaker open)" in html
    assert ("voltmetrics.available" in status_alerts()) is red


def test_a_paused_subscription_is_red(admin_client):
    beat("recompute.full")
    running = Subscription.objects.create(url="https://hooks.example/a", secret_encrypted="x")
    paused = Subscription.objects.create(url="https://hooks.example/b", secret_encrypted="x",
                                         paused_at=timezone.now())  # fmt: skip
    response = render(admin_client)
    html = dashboard_html(response)
    assert "console-alert" in row_classes(html, "console-paused")
    assert "console-alert" in row_classes(html, f"subscription-{paused.pk}")
    assert f'id="subscription-{running.pk}"' not in html  # nothing waiting, not paused
    assert status_alerts() == {f"subscription.{paused.pk}"}
    assert response.context["dashboard"].operations.paused == 1


# --- links ------------------------------------------------------------------------------------


def test_every_link_answers_and_lists_what_it_counts(admin_client, pull_configured, settings,
                                                     build):  # fmt: skip
    build(6)
    beat("recompute.full")
    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"
    now = timezone.now()
    ok = sync_run(SyncSource.PULL, SyncStatus.PARTIAL, age=timedelta(minutes=10), rejected=1)
    RejectedRecord.objects.create(sync_run=ok, kind=RecordKind.EQUIPMENT, reason="bad date")
    failed = sync_run(SyncSource.PULL, SyncStatus.FAILED, age=timedelta(hours=1), error="503")
    sync_run(SyncSource.PULL, age=timedelta(hours=30))  # outside the window
    for i, job_status in enumerate([JobStatus.FAILED, JobStatus.COMPLETED, JobStatus.FAILED]):
        Job.objects.create(job_id=f"j{i}", kind="equipment", status=job_status, submitted_at=now)
    Job.objects.create(job_id="old", kind="equipment", status=JobStatus.FAILED,
                       submitted_at=now - timedelta(days=2))  # fmt: skip
    paused = Subscription.objects.create(url="https://hooks.example/b", secret_encrypted="x",
                                         paused_at=now)  # fmt: skip

    response = render(admin_client)
    html = dashboard_html(response)
    links = [href for href in links_in(html) if href.startswith("/admin/")]
    assert len(links) >= 20
    for href in links:
        assert admin_client.get(href).status_code == 200, href

    def listed(url):
        page = admin_client.get(url)
        assert page.status_code == 200, url
        return {obj.pk for obj in page.context["cl"].queryset}

    pull = door(response, "pull")
    assert listed(pull.runs_url) == {ok.pk, failed.pk}
    assert listed(pull.failed_url) == {failed.pk}
    assert listed(pull.waiting_url) == set(
        RejectedRecord.objects.filter(sync_run=ok).values_list("pk", flat=True)
    )
    ops = response.context["dashboard"].operations
    by_change = {r.label: r for r in ops.changes}
    assert listed(by_change["recompute"].url) == set(
        RecordChange.objects.filter(recomputed_at__isnull=True).values_list("pk", flat=True)
    )
    assert listed(by_change["voltmetrics"].url) == set(
        RecordChange.objects.filter(pushed_at__isnull=True).values_list("pk", flat=True)
    )
    jobs = {r.label: r for r in ops.jobs}
    assert jobs["Failed"].value == "2"
    assert listed(jobs["Failed"].url) == set(
        Job.objects.filter(job_id__in=["j0", "j2"]).values_list("pk", flat=True)
    )
    assert listed(ops.paused_url) == {paused.pk}

    pf = response.context["dashboard"].portfolio
    for top in pf.top:
        page = admin_client.get(top.url)
        assert page.status_code == 200 and page.context["original"].name == top.name
    unmapped = admin_client.get(pf.unmapped_classes_url)
    assert [row["spelling"] for row in unmapped.context["rows"]] == ["Gizmo Box"]
    assert {e.external_id for e in admin_client.get(pf.unmapped_codes_url).context["cl"].queryset} == {
        "eq_001_1"
    }


def test_links_only_to_the_lists_a_staff_member_may_see(client, django_user_model, build):
    build(3)
    user = django_user_model.objects.create_user("curator", password="pw-curator-1",
                                                 is_staff=True)  # fmt: skip
    user.user_permissions.add(Permission.objects.get(codename="view_facility"))
    client.force_login(user)
    response = render(client)
    html = dashboard_html(response)
    hrefs = links_in(html)
    assert reverse("admin:facilities_syncrun_changelist") not in " ".join(hrefs)
    assert reverse("admin:facilities_recordchange_changelist") not in " ".join(hrefs)
    pf = response.context["dashboard"].portfolio
    assert pf.top and all(t.url in hrefs for t in pf.top)
    for href in hrefs:
        if href.startswith("/admin/"):
            assert client.get(href).status_code == 200, href


# --- a fixed number of queries ---------------------------------------------------------------


def add_operations(k: int):
    for i in range(k):
        run = sync_run(SyncSource.PULL, SyncStatus.FAILED, age=timedelta(hours=i + 1), error="x")
        RejectedRecord.objects.create(sync_run=run, kind=RecordKind.EQUIPMENT, reason="r")
        sync_run(SyncSource.PUSH, age=timedelta(hours=i + 1))
        sync_run(SyncSource.FILE, SyncStatus.FAILED, age=timedelta(hours=i + 2), error="y")


def test_the_query_count_is_the_same_for_2_and_20_facilities(admin_client, pull_configured,
                                                             build):  # fmt: skip
    build(2)
    add_operations(2)
    render(admin_client)  # the session, content types

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            render(admin_client)
        return len(ctx.captured_queries)

    few = queries()
    build(18, start=2)
    add_operations(10)
    assert Facility.objects.count() == 20
    many = queries()
    # session and user 2; gauges 7 (sync runs, cursors and rejects 3; the outbox, heartbeats
    # and model version 3; subscriptions 1); doors 3; portfolio 4; recent actions 1
    assert few == many == 17
