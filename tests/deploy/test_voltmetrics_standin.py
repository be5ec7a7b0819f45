"""The VoltMetrics stand-in (deploy/smoke/voltmetrics_standin.py) answers MasterBus's own
client: a pushed 500-item job completes, and its results are fetched concurrently, each once,
over the client's keep-alive connections; every answer waits --slow-ms; a wrong key is
refused, an unknown job is 404, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from voltmetrics.integration.client import CircuitBreaker, VoltMetricsClient, VoltMetricsError
from voltmetrics.integration.fetch import EQUIPMENT, FACILITY, fetch_results

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "deploy" / "smoke" / "voltmetrics_standin.py"
KEY = "standin-test-key"
CALC = {"algorithm_version": "standin-1.0.0", "recalculate_all": False}


@pytest.fixture
def standin(tmp_path, settings):
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(STANDIN), "--api-key", KEY, "--port-file", str(port_file),
         "--slow-ms", "5"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        until = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < until, "the stand-in did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        settings.VOLTMETRICS_URL = url
        settings.VOLTMETRICS_API_KEY = KEY
        settings.VOLTMETRICS_FETCH_CONCURRENCY = 8
        CircuitBreaker().reset()
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stderr.close()
        CircuitBreaker().reset()


def stats(url: str, action: str = "stats") -> dict:
    method = "POST" if action == "reset" else "GET"
    request = urllib.request.Request(f"{url}/_standin/{action}", method=method)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_a_500_item_job_is_fetched_once_each_over_keep_alive_connections(standin):
    process, url = standin
    ids = [f"eq_{n:04d}" for n in range(500)]
    with VoltMetricsClient() as client:
        job = client.ingest_equipment([{"id": e, "type": "panel"} for e in ids], CALC)
        status = client.get_job(job.job_id)
        assert (status.status, status.items_processed) == ("completed", 500)
        stats(url, "reset")
        started = time.monotonic()
        fetched = fetch_results(client, [(EQUIPMENT, e) for e in ids])
        took = time.monotonic() - started
        again = fetch_results(client, [(EQUIPMENT, "eq_0007"), (FACILITY, "fac_1")])

    assert len(fetched.answers) == 500 and not fetched.errors and not fetched.unasked
    answer = fetched.answers[(EQUIPMENT, "eq_0007")]
    assert again.answers[(EQUIPMENT, "eq_0007")] == answer  # the same id, the same result
    assert 0 <= answer.risk_score <= 100 and answer.algorithm_version == "standin-1.0.0"
    assert again.answers[(FACILITY, "fac_1")].overall_compliance is not None
    got = stats(url)
    assert (got["result_gets"], got["distinct_results"]) == (502, 501)
    assert got["routes"]["GET /results/equipment/{id}"] == 501
    assert 2 <= got["max_in_flight"] <= 8
    assert got["connections"] <= 8  # one keep-alive session, as many connections as threads
    assert took >= 500 * 0.005 / 8  # every answer waited --slow-ms


def test_a_wrong_key_and_an_unknown_job_are_refused_and_sigterm_stops_it(standin):
    process, url = standin
    with VoltMetricsClient(api_key="wrong") as client, pytest.raises(VoltMetricsError) as bad:
        client.get_equipment_result("eq_1")
    assert (bad.value.kind, bad.value.status) == ("rejected", 401)
    with VoltMetricsClient() as client, pytest.raises(VoltMetricsError) as unknown:
        client.get_job("job_nobody_made")
    assert unknown.value.status == 404 and "NOT_FOUND" in unknown.value.message
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
