"""GET /metrics (operations.md §1): the token, every family, routes labelled by pattern,
the application gauges' values, queries and cache, and the process families."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from facilities.choices import RecordKind, SyncSource, SyncStatus
from facilities.models import RecordChange, RejectedRecord, SyncCursor, SyncRun
from masterbus.metrics.application import CACHE_KEY, FAMILIES, collect_samples
from masterbus.metrics.families import count_outbound
from tests import factories as f

from .conftest import assert_envelope, key_header

TOKEN = "metrics-token-" + "x" * 30
SPEC_FAMILIES = [
    "masterbus_http_requests_total", "masterbus_http_request_duration_seconds",
    "masterbus_cache_requests_total", "masterbus_task_runs_total",
    "masterbus_task_duration_seconds", "masterbus_outbound_requests_total",
    "masterbus_build_info", "masterbus_condoit_last_success_timestamp_seconds",
    "masterbus_condoit_high_water_age_seconds", "masterbus_sync_rejected_records",
    "masterbus_changes_pending", "masterbus_changes_oldest_pending_age_seconds",
    "masterbus_recompute_last_success_timestamp_seconds", "masterbus_assessments_behind",
    "masterbus_voltmetrics_available", "masterbus_voltmetrics_jobs",
    "masterbus_webhook_deliveries_pending", "masterbus_webhook_subscription_paused",
    "masterbus_queue_length",
]  # fmt: skip


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


def scrape(client, token) -> dict[str, list]:
    """``{family name: [(sample name, labels, value), …]}`` of one scrape."""
    response = client.get("/metrics", **token)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for fam in text_string_to_metric_families(response.content.decode()):
        name = fam.name + ("_total" if fam.type == "counter" else "")
        out[name] = [(s.name, s.labels, s.value) for s in fam.samples]
    return out


def value(families, family, sample=None, **labels) -> float | None:
    for name, got, v in families.get(family, []):
        if (sample is None or name == sample) and all(got.get(k) == x for k, x in labels.items()):
            return v
    return None


# --- the door ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer é", f"bearer{TOKEN}"],
)
def test_a_missing_or_wrong_token_is_401_in_the_error_envelope(client, token, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get("/metrics", **extra)
    assert_envelope(response, 401, "AUTH_INVALID_CREDENTIALS")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"masterbus_" not in response.content


@pytest.mark.django_db
def test_the_right_token_gets_every_family_of_the_spec(client, token):
    families = scrape(client, token)
    missing = [name for name in SPEC_FAMILIES if name not in families]
    assert missing == []
    assert value(families, "masterbus_build_info", version="0.1.0", model_version="1.0") == 1


@pytest.mark.django_db
def test_without_a_token_setting_the_endpoint_is_open(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db
def test_only_get(client, token):
    assert client.post("/metrics", **token).status_code == 405


# --- HTTP families ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_routes_are_url_patterns_whatever_ids_are_asked_for(client, token, read_key, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000
    route = "api/v1/facilities/<cid:facility_id>"

    def requests_of(families, **labels):
        return value(families, "masterbus_http_requests_total", **labels) or 0

    before = scrape(client, token)
    for i in range(1000):
        response = client.get(f"/api/v1/facilities/no-such-{i}", **key_header(read_key[1]))
        assert response.status_code == 404
    families = scrape(client, token)
    routes = {labels["route"] for _, labels, _ in families["masterbus_http_requests_total"]}
    # One series for the 1,000 ids: the pattern, never a path (other tests of this process
    # may have used other patterns).
    assert route in routes
    assert not any("no-such" in r for r in routes)
    assert all("<" in r for r in routes if r.startswith("api/v1/facilities/"))
    assert requests_of(families, route=route, method="GET", status="404") - requests_of(
        before, route=route, method="GET", status="404"
    ) == 1000
    count = value(families, "masterbus_http_request_duration_seconds",
                  "masterbus_http_request_duration_seconds_count",
                  route=route, method="GET")  # fmt: skip
    assert count >= 1000


@pytest.mark.django_db
def test_unmatched_paths_and_odd_methods_share_one_series(client, token):
    before = scrape(client, token)
    for i in range(50):
        client.get(f"/nothing/here/{i}")
        client.generic("BREW", f"/coffee/{i}")
    after = scrape(client, token)

    def n(fam, **labels):
        return value(fam, "masterbus_http_requests_total", **labels) or 0

    assert (
        n(after, route="<unmatched>", method="GET", status="404")
        - n(before, route="<unmatched>", method="GET", status="404")
        == 50
    )
    assert (
        n(after, route="<unmatched>", method="other", status="404")
        - n(before, route="<unmatched>", method="other", status="404")
        == 50
    )


@pytest.mark.django_db
def test_cache_reads_are_counted_miss_then_hit(client, token, read_key):
    def reads(result):
        return value(scrape(client, token), "masterbus_cache_requests_total", result=result) or 0

    miss, hit = reads("miss"), reads("hit")
    assert client.get("/api/v1/portfolio/summary", **key_header(read_key[1])).status_code == 200
    assert reads("miss") == miss + 1
    assert client.get("/api/v1/portfolio/summary", **key_header(read_key[1])).status_code == 200
    assert (reads("miss"), reads("hit")) == (miss + 1, hit + 1)


# --- application gauges -----------------------------------------------------------------------


def _portfolio(n_facilities: int, import_export):
    facs = [f.facility() for _ in range(n_facilities)]
    eqs = [f.equipment(fac["id"]) for fac in facs for _ in range(3)]
    import_export(facilities=facs, equipment=eqs)
    now = timezone.now()
    for i in range(n_facilities):
        run = SyncRun.objects.create(source=SyncSource.PULL, status=SyncStatus.PARTIAL,
                                     finished_at=now - timedelta(minutes=i))  # fmt: skip
        RejectedRecord.objects.create(sync_run=run, kind=RecordKind.EQUIPMENT, reason="bad")
        SyncCursor.objects.update_or_create(
            resource=f"r{i}", defaults={"high_water_mark": now - timedelta(hours=1)}
        )


@pytest.mark.django_db
def test_gauge_queries_do_not_grow_with_the_portfolio(import_export, settings):
    settings.CONDOIT_URL, settings.CONDOIT_TOKEN = "http://condoit.invalid", "t"
    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            collect_samples()
        return len(ctx.captured_queries)

    _portfolio(1, import_export)
    small = queries()
    _portfolio(12, import_export)
    large = queries()
    # condoit 3; outbox, heartbeats, jobs, model version 4; webhook subscriptions 1 (and their
    # queue depths 1 more when there are any)
    assert small == large == 8


@pytest.mark.django_db
def test_gauges_are_cached_for_the_period_and_shared(client, token, import_export, settings):
    settings.METRICS_CACHE_SECONDS = 15
    scrape(client, token)
    _portfolio(2, import_export)
    with CaptureQueriesContext(connection) as ctx:
        cached = scrape(client, token)
    assert ctx.captured_queries == []  # from the cache, no database read
    assert value(cached, "masterbus_sync_rejected_records", kind="equipment") is None
    from django.core.cache import cache

    cache.delete(CACHE_KEY)  # the period is over
    fresh = scrape(client, token)
    assert value(fresh, "masterbus_sync_rejected_records", kind="equipment") == 2


@pytest.mark.django_db
def test_the_cache_period_is_at_most_15_seconds(settings):
    from unittest import mock

    from masterbus.metrics import application

    settings.METRICS_CACHE_SECONDS = 3600
    with mock.patch.object(application.cache, "set") as cache_set:
        application.cached_samples()
    assert cache_set.call_args.args[2] == 15


@pytest.mark.django_db
def test_condoit_gauges(client, token, settings):
    settings.CONDOIT_URL = ""
    families = scrape(client, token)
    doors = {labels["door"]: v for _, labels, v in
             families["masterbus_condoit_last_success_timestamp_seconds"]}  # fmt: skip
    assert doors == {"file": 0, "push": 0}  # the pull is not configured: no series

    settings.CONDOIT_URL, settings.CONDOIT_TOKEN = "http://condoit.invalid", "t"
    finished = timezone.now() - timedelta(minutes=30)
    SyncRun.objects.create(source=SyncSource.PULL, status=SyncStatus.SUCCEEDED,
                           finished_at=finished)  # fmt: skip
    SyncRun.objects.create(source=SyncSource.PULL, status=SyncStatus.FAILED,
                           finished_at=timezone.now())  # fmt: skip
    run = SyncRun.objects.create(source=SyncSource.FILE, status=SyncStatus.PARTIAL,
                                 finished_at=finished - timedelta(days=1))  # fmt: skip
    RejectedRecord.objects.create(sync_run=run, kind=RecordKind.MAINTENANCE, reason="x")
    RejectedRecord.objects.create(sync_run=run, kind=RecordKind.MAINTENANCE, reason="x",
                                  rerun_at=timezone.now())  # fmt: skip
    SyncCursor.objects.create(resource="equipment",
                              high_water_mark=timezone.now() - timedelta(hours=2))  # fmt: skip
    from django.core.cache import cache

    cache.delete(CACHE_KEY)
    families = scrape(client, token)
    last = "masterbus_condoit_last_success_timestamp_seconds"
    assert value(families, last, door="pull") == pytest.approx(finished.timestamp())
    assert value(families, last, door="file") == pytest.approx(
        (finished - timedelta(days=1)).timestamp()
    )
    age = value(families, "masterbus_condoit_high_water_age_seconds", resource="equipment")
    assert 7190 < age < 7300
    assert value(families, "masterbus_sync_rejected_records", kind="maintenanceRecord") == 1


@pytest.mark.django_db
def test_change_recompute_and_voltmetrics_gauges(client, token, settings):
    from django.core.cache import cache

    from voltmetrics.integration.client import CircuitBreaker
    from voltmetrics.models import Job
    from voltmetrics.services import risk_recompute

    settings.VOLTMETRICS_URL = "http://voltmetrics.invalid"
    settings.VOLTMETRICS_BREAKER_THRESHOLD = 1
    old = timezone.now() - timedelta(minutes=20)
    for i, pushed in enumerate([None, None, timezone.now()]):
        change = RecordChange.objects.create(
            kind=RecordKind.EQUIPMENT,
            external_id=f"eq-{i % 2}",
            facility_external_id="fac-1",
            source="pull",
            pushed_at=pushed,
        )
        RecordChange.objects.filter(pk=change.pk).update(created_at=old)
    RecordChange.objects.create(kind=RecordKind.FACILITY, external_id="fac-2",
                                facility_external_id="fac-2", source="pull",
                                recomputed_at=timezone.now())  # fmt: skip
    Job.objects.create(job_id="j1", kind="equipment", submitted_at=timezone.now())
    Job.objects.create(job_id="j2", kind="equipment", status="failed",
                       submitted_at=timezone.now())  # fmt: skip
    Job.objects.create(job_id="j3", kind="equipment", status="failed",
                       submitted_at=timezone.now() - timedelta(days=2))  # fmt: skip
    risk_recompute()  # a full recompute records its success
    CircuitBreaker().failure()  # threshold 1: open

    families = scrape(client, token)
    assert value(families, "masterbus_changes_pending", consumer="recompute") == 3
    assert value(families, "masterbus_changes_pending", consumer="voltmetrics") == 3
    age = value(families, "masterbus_changes_oldest_pending_age_seconds", consumer="recompute")
    assert 1190 < age < 1300
    assert value(families, "masterbus_assessments_behind", kind="equipment") == 2
    assert value(families, "masterbus_assessments_behind", kind="facility") == 1
    full = value(families, "masterbus_recompute_last_success_timestamp_seconds", kind="full")
    assert abs(full - timezone.now().timestamp()) < 60
    assert value(families, "masterbus_recompute_last_success_timestamp_seconds",
                 kind="snapshot") == 0  # fmt: skip
    assert value(families, "masterbus_voltmetrics_available") == 0
    assert value(families, "masterbus_voltmetrics_jobs", status="processing") == 1
    assert value(families, "masterbus_voltmetrics_jobs", status="failed") == 1  # j3 is older

    CircuitBreaker().success()
    cache.delete(CACHE_KEY)
    assert value(scrape(client, token), "masterbus_voltmetrics_available") == 1


@pytest.mark.django_db
def test_voltmetrics_families_are_absent_while_it_is_not_configured(client, token, settings):
    settings.VOLTMETRICS_URL = ""
    families = scrape(client, token)
    assert families["masterbus_voltmetrics_available"] == []
    assert families["masterbus_voltmetrics_jobs"] == []
    consumers = {labels["consumer"] for _, labels, _ in families["masterbus_changes_pending"]}
    assert consumers == {"recompute"}


@pytest.mark.django_db
def test_a_failing_provider_leaves_the_others(client, token, settings):
    from masterbus.metrics import application

    def broken():
        raise RuntimeError("boom")

    application.register_provider("broken", broken)
    try:
        families = scrape(client, token)
    finally:
        application._providers.pop("broken")
    assert value(families, "masterbus_changes_pending", consumer="recompute") == 0


# --- process families: tasks and outbound requests --------------------------------------------


@pytest.mark.django_db
def test_task_runs_are_counted_from_celerys_signals(client, token):
    from voltmetrics.tasks import recompute_pending_task

    name = recompute_pending_task.name

    def runs(state):
        return value(scrape(client, token), "masterbus_task_runs_total",
                     task=name, state=state) or 0  # fmt: skip

    before = runs("succeeded")
    recompute_pending_task.delay()
    recompute_pending_task.delay()
    assert runs("succeeded") == before + 2
    count = value(scrape(client, token), "masterbus_task_duration_seconds",
                  "masterbus_task_duration_seconds_count", task=name)  # fmt: skip
    assert count >= 2


@pytest.mark.django_db
def test_failed_tasks_are_counted(client, token, settings):
    from voltmetrics.tasks import snapshot_month_task

    name = snapshot_month_task.name
    before = value(scrape(client, token), "masterbus_task_runs_total",
                   task=name, state="failed") or 0  # fmt: skip
    # Run as a worker runs it (the error recorded, not raised into the caller).
    result = snapshot_month_task.apply(kwargs={"month": "2999-01-01"}, throw=False)
    assert isinstance(result.result, ValueError)  # not ended yet: refused
    after = value(scrape(client, token), "masterbus_task_runs_total", task=name, state="failed")
    assert after == before + 1


def test_outbound_requests_to_condoit_by_outcome(httpserver):
    from condoit.client import CondoitClient, CondoitError
    from masterbus.metrics.families import outbound_requests

    def n(outcome):
        return outbound_requests.labels("condoit", outcome)._value.get()

    before = {o: n(o) for o in ("ok", "http_error", "bad_body")}
    page = {"items": [], "nextCursor": None}
    httpserver.expect_ordered_request("/api/export/facilities").respond_with_data("boom", 503)
    httpserver.expect_ordered_request("/api/export/facilities").respond_with_json(page)
    httpserver.expect_ordered_request("/api/export/equipment").respond_with_data("{nope", 200)
    client = CondoitClient(base_url=httpserver.url_for(""), token="t", max_retries=1,
                           sleep=lambda s: None)  # fmt: skip
    assert client.fetch_page("facilities") == ([], None)
    with pytest.raises(CondoitError):
        client.fetch_page("equipment")
    assert {o: n(o) - before[o] for o in before} == {"ok": 1, "http_error": 1, "bad_body": 1}


def test_outbound_timeouts_and_refused_connections(httpserver):
    import socket

    from condoit.client import CondoitClient, CondoitError
    from masterbus.metrics.families import outbound_requests

    def n(outcome):
        return outbound_requests.labels("condoit", outcome)._value.get()

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    before = n("connection_error")
    client = CondoitClient(base_url=f"http://127.0.0.1:{port}", token="t", max_retries=2,
                           sleep=lambda s: None)  # fmt: skip
    with pytest.raises(CondoitError):
        client.fetch_page("facilities")
    assert n("connection_error") == before + 3

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts, never answers
    before = n("timeout")
    client = CondoitClient(base_url=f"http://127.0.0.1:{listener.getsockname()[1]}", token="t",
                           max_retries=0, read_timeout=0.2, sleep=lambda s: None)  # fmt: skip
    with pytest.raises(CondoitError):
        client.fetch_page("facilities")
    listener.close()
    assert n("timeout") == before + 1


def test_the_families_table_matches_the_spec():
    """Every application family the spec names is declared (and HELP'd) here."""
    application = [name for name in SPEC_FAMILIES if name in FAMILIES]
    assert len(application) == 13
    assert all(re.fullmatch(r"masterbus_[a-z_]+", name) for name in FAMILIES)


def test_label_values_outside_the_spec_are_refused():
    """operations.md §1's label sets are closed: a typo at a call site fails loudly instead
    of opening a new series."""
    from masterbus.metrics.families import count_cache, outbound_requests

    before = outbound_requests.labels("voltmetrics", "ok")._value.get()
    count_outbound("voltmetrics", "ok")
    assert outbound_requests.labels("voltmetrics", "ok")._value.get() == before + 1
    for system, outcome in [("photos", "ok"), ("condoit", "timed_out"), ("Condoit", "ok")]:
        with pytest.raises(ValueError, match="operations"):
            count_outbound(system, outcome)
    with pytest.raises(ValueError, match="cache result"):
        count_cache("expired")
