"""The VoltMetrics client against a fake VoltMetrics on loopback: retries with backoff,
Retry-After, timeouts, the circuit breaker, and validation of every answer."""

import logging
import time

import pytest

from voltmetrics.integration.client import CircuitBreaker, VoltMetricsClient, VoltMetricsError

from . import fake_voltmetrics as fv

pytestmark = pytest.mark.django_db


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


def client(**kw):
    kw.setdefault("sleep", Sleeps())
    return VoltMetricsClient(**kw)


def eq_item(ext="eq_1"):
    return {"id": ext, "type": "panel"}


CALC = {"algorithm_version": fv.ALGORITHM, "recalculate_all": False}


def test_ingest_answers_the_job_and_sends_the_api_key(vm):
    c = client()
    answer = c.ingest_equipment([eq_item("eq_1"), eq_item("eq_2")], CALC)
    assert answer.status == "processing" and answer.count == 2 and answer.job_id
    seen = vm.requests("POST", "/ingest/equipment")[0]
    assert seen.api_key == fv.API_KEY
    assert seen.body["calculation_settings"] == CALC
    assert [i["id"] for i in seen.body["equipment"]] == ["eq_1", "eq_2"]
    assert c.ingest_facility({"id": "fac_1"}, CALC).job_id
    assert c.ingest_maintenance([{"id": "mr_1", "equipment_id": "eq_1"}], CALC).count == 1
    job = c.get_job(answer.job_id)
    assert (job.job_id, job.status, job.results_available) == (answer.job_id, "processing", False)
    assert c.get_algorithms().current_version == fv.ALGORITHM


def test_results_are_parsed(vm):
    c = client()
    c.ingest_equipment([eq_item("eq_1")], CALC)
    c.ingest_facility({"id": "fac_1"}, CALC)
    vm.scores["eq_1"] = 77
    r = c.get_equipment_result("eq_1")
    assert (r.equipment_id, r.risk_score, r.risk_rating, r.algorithm_version) == (
        "eq_1", 77, "High", fv.ALGORITHM,
    )  # fmt: skip
    assert r.risk_factors[0] == {"factor": "age", "score": 80, "weight": 0.35, "description": "old"}
    assert r.calculation_timestamp.tzinfo is not None
    fr = c.get_facility_result("fac_1")
    assert (fr.risk_score, fr.risk_level, fr.overall_compliance) == (42, "Medium", 88)


def test_5xx_is_retried_with_backoff_then_succeeds(vm):
    vm.add_fault(fv.status(500), times=2)
    sleeps = Sleeps()
    answer = client(sleep=sleeps).ingest_equipment([eq_item()], CALC)
    assert answer.job_id
    assert len(vm.requests("POST")) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)


def test_429_honours_retry_after(vm, settings):
    settings.VOLTMETRICS_BACKOFF_CAP = 10
    vm.add_fault(fv.status(429, {"Retry-After": "3"}), times=1)
    sleeps = Sleeps()
    assert client(sleep=sleeps).get_algorithms().current_version
    assert sleeps == [3.0]


def test_a_read_timeout_is_retried(vm, settings):
    settings.VOLTMETRICS_READ_TIMEOUT = 0.2
    vm.add_fault(fv.slow(1.0), path="GET /algorithms", times=1)
    sleeps = Sleeps()
    started = time.monotonic()
    assert client(sleep=sleeps).get_algorithms().current_version == fv.ALGORITHM
    assert time.monotonic() - started < 1.0
    assert len(sleeps) == 1


def test_retries_are_bounded(vm):
    vm.add_fault(fv.status(503), times=None)
    with pytest.raises(VoltMetricsError) as err:
        client().get_algorithms()
    assert err.value.kind == "unavailable" and err.value.status == 503
    assert "after 3 attempt(s)" in err.value.message
    assert len(vm.requests("GET")) == 3


def test_connection_refused_is_unavailable(vm_settings):
    vm_settings.VOLTMETRICS_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    with pytest.raises(VoltMetricsError) as err:
        client().get_algorithms()
    assert err.value.kind == "unavailable"


def test_a_4xx_is_not_retried(vm):
    vm.add_fault(fv.status(422), times=None)
    with pytest.raises(VoltMetricsError) as err:
        client().ingest_equipment([eq_item()], CALC)
    assert err.value.kind == "rejected" and err.value.status == 422
    assert "HTTP_422: injected 422" in err.value.message
    assert len(vm.requests("POST")) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "not valid JSON"),
        (fv.equipment_result("eq_1", 140, "2025-01-01T00:00:00Z"), "outside 0–100"),
        (fv.equipment_result("eq_1", -1, "2025-01-01T00:00:00Z"), "outside 0–100"),
        (fv.equipment_result("eq_1", True, "2025-01-01T00:00:00Z"), "must be a number"),
        (fv.equipment_result("eq_1", 50, "yesterday"), "not an ISO 8601"),
        (fv.equipment_result("eq_1", 50, "2025-01-01T00:00:00"), "UTC offset"),
        (fv.equipment_result("eq_2", 50, "2025-01-01T00:00:00Z"), "not the equipment asked"),
        ({"equipment_id": "eq_1"}, "risk_assessment is missing"),
        ([1, 2], "must be an object"),
    ],
)
def test_a_malformed_equipment_result_is_refused(vm, body, reason):
    vm.bodies["eq_1"] = body
    with pytest.raises(VoltMetricsError) as err:
        client().get_equipment_result("eq_1")
    assert err.value.kind == "invalid"
    assert reason in err.value.message


@pytest.mark.parametrize(
    "garbled",
    [
        fv.raw('{"job_id": "job_1", "sta'),  # cut short: not valid JSON
        fv.answer({"job_id": "job_1"}),  # status missing
        fv.raw("<html><body>Bad gateway</body></html>"),
    ],
)
def test_a_garbled_get_is_asked_again(vm, garbled):
    c = client()
    job_id = c.ingest_equipment([eq_item()], CALC).job_id
    vm.add_fault(garbled, path="GET /jobs/", times=2)
    sleeps = Sleeps()
    c.sleep = sleeps
    answer = c.get_job(job_id)
    assert (answer.job_id, answer.status) == (job_id, "processing")
    assert len(vm.requests("GET", "/jobs/")) == 3
    assert len(sleeps) == 2 and all(0 <= s <= 0.05 for s in sleeps)
    assert CircuitBreaker().state() == "closed"


def test_a_get_that_stays_garbled_is_invalid_after_the_retries(vm, vm_settings):
    vm_settings.VOLTMETRICS_BREAKER_THRESHOLD = 1
    vm.bodies["eq_1"] = '{"equipment_id": "eq_1", "risk_'
    with pytest.raises(VoltMetricsError) as err:
        client().get_equipment_result("eq_1")
    assert err.value.kind == "invalid" and err.value.status == 200
    assert "not valid JSON" in err.value.message and "after 3 attempts" in err.value.message
    assert len(vm.requests("GET")) == 3
    assert CircuitBreaker().state() == "closed"  # the service answered: it is up


def test_an_out_of_range_get_is_not_asked_again(vm):
    vm.bodies["eq_1"] = fv.equipment_result("eq_1", 101, "2025-01-01T00:00:00Z")
    with pytest.raises(VoltMetricsError, match="risk_score 101 is outside 0–100"):
        client().get_equipment_result("eq_1")
    assert len(vm.requests("GET")) == 1


def test_a_garbled_post_is_not_sent_again(vm):
    vm.add_fault(fv.raw('{"job_id": "j'), path="POST /ingest/equipment", times=1)
    with pytest.raises(VoltMetricsError, match="not valid JSON") as err:
        client().ingest_equipment([eq_item()], CALC)
    assert err.value.kind == "invalid"
    assert len(vm.requests("POST")) == 1


@pytest.mark.parametrize("rating", [["High"], {"level": "High"}, None, 3])
def test_a_rating_of_the_wrong_type_is_refused(vm, rating):
    body = fv.equipment_result("eq_1", 50, "2025-01-01T00:00:00Z")
    body["risk_assessment"]["risk_rating"] = rating
    vm.bodies["eq_1"] = body
    with pytest.raises(VoltMetricsError, match="is not one of Low, Medium, High") as err:
        client().get_equipment_result("eq_1")
    assert err.value.kind == "invalid"


def test_an_unknown_rating_is_refused(vm):
    body = fv.equipment_result("eq_1", 50, "2025-01-01T00:00:00Z")
    body["risk_assessment"]["risk_rating"] = "Severe"
    vm.bodies["eq_1"] = body
    with pytest.raises(VoltMetricsError, match="'Severe' is not one of Low, Medium, High"):
        client().get_equipment_result("eq_1")


def test_a_bad_factor_is_refused(vm):
    body = fv.equipment_result("eq_1", 50, "2025-01-01T00:00:00Z")
    del body["risk_assessment"]["risk_factors"][1]["weight"]
    vm.bodies["eq_1"] = body
    with pytest.raises(VoltMetricsError, match=r"risk_factors\[1\]\.weight is missing"):
        client().get_equipment_result("eq_1")


def test_unknown_job_status_and_missing_job_id_are_refused(vm):
    vm.add_fault(fv.answer({"job_id": "j1", "status": "queued"}), path="GET /jobs/j1")
    with pytest.raises(VoltMetricsError, match="'queued' is not one of processing"):
        client().get_job("j1")
    vm.add_fault(fv.answer({"status": "processing"}, 202), path="POST /ingest/equipment")
    with pytest.raises(VoltMetricsError, match="job_id is missing"):
        client().ingest_equipment([eq_item()], CALC)


def test_facility_result_out_of_range_compliance(vm):
    body = fv.facility_result("fac_1", 50, "2025-01-01T00:00:00Z")
    body["compliance_summary"]["overall_compliance"] = 101
    vm.bodies["fac_1"] = body
    with pytest.raises(VoltMetricsError, match="overall_compliance 101 is outside"):
        client().get_facility_result("fac_1")


def test_the_breaker_opens_after_repeated_failures_and_half_opens_after_the_cool_down(
    vm, vm_settings, end_cool_down
):
    vm_settings.VOLTMETRICS_MAX_RETRIES = 0
    vm.add_fault(fv.status(500), times=3)
    for _ in range(3):
        with pytest.raises(VoltMetricsError, match="after 1 attempt"):
            client().get_algorithms()
    assert CircuitBreaker().state() == "open"
    with pytest.raises(VoltMetricsError, match="circuit breaker open"):
        client().get_algorithms()
    assert len(vm.requests("GET")) == 3  # the open breaker did not call
    end_cool_down()
    assert CircuitBreaker().state() == "half-open"
    # One probe goes through; it succeeds and closes the breaker.
    assert client().get_algorithms().current_version
    assert CircuitBreaker().state() == "closed"


def test_a_failed_probe_opens_the_breaker_again(vm, vm_settings, end_cool_down):
    vm_settings.VOLTMETRICS_MAX_RETRIES = 0
    vm.add_fault(fv.status(500), times=None)
    for _ in range(3):
        with pytest.raises(VoltMetricsError):
            client().get_algorithms()
    end_cool_down()
    with pytest.raises(VoltMetricsError, match="after 1 attempt"):
        client().get_algorithms()  # the probe
    assert CircuitBreaker().state() == "open"


def test_a_success_resets_the_failure_count(vm, vm_settings):
    vm_settings.VOLTMETRICS_MAX_RETRIES = 0
    vm.add_fault(fv.status(500), times=2)
    for _ in range(2):
        with pytest.raises(VoltMetricsError):
            client().get_algorithms()
    client().get_algorithms()
    vm.add_fault(fv.status(500), times=2)
    for _ in range(2):
        with pytest.raises(VoltMetricsError):
            client().get_algorithms()
    assert CircuitBreaker().state() == "closed"


def test_the_api_key_is_never_logged(vm, caplog):
    caplog.set_level(logging.DEBUG)
    vm.add_fault(fv.status(500), times=None)
    c = client()
    with pytest.raises(VoltMetricsError) as err:
        c.get_algorithms()
    assert fv.API_KEY not in caplog.text
    assert fv.API_KEY not in repr(c) and fv.API_KEY not in str(err.value)
