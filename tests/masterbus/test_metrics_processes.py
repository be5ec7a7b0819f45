"""Metrics across processes: a real Celery worker's prefork children count their tasks into
PROMETHEUS_MULTIPROC_DIR; production refuses to start without a metrics token; the route is
absent when metrics are off."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, multiprocess

from masterbus.celery import app as celery_app
from tests.celery_worker import celery_worker
from tests.masterbus.test_settings import manage

STRONG_KEY = "k" * 20 + "Q7#r!x9" + "z" * 30


def test_production_refuses_to_start_without_a_metrics_token():
    out = manage("check", MASTERBUS_ENV="production", SECRET_KEY=STRONG_KEY,
                 ALLOWED_HOSTS="masterbus.example.com", METRICS_TOKEN="")  # fmt: skip
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()[-1]
    assert "METRICS_TOKEN is required in production (or set METRICS_ENABLED=false)" in last


def test_production_starts_without_a_token_when_metrics_are_off():
    out = manage(
        "shell", "-c",
        "from django.urls import resolve, Resolver404\n"
        "try:\n    resolve('/metrics'); print('present')\n"
        "except Resolver404:\n    print('absent')",
        MASTERBUS_ENV="production", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="x.example.com",
        METRICS_ENABLED="false", METRICS_TOKEN="",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "absent"


@pytest.mark.e2e
@pytest.mark.services
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_prefork_children_count_their_tasks_into_the_multiprocess_directory(tmp_path):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))

    def succeeded() -> float:
        return (
            registry.get_sample_value(
                "masterbus_task_runs_total",
                {"task": "voltmetrics.tasks.recompute_pending_task", "state": "succeeded"},
            )
            or 0.0
        )

    with celery_worker(
        {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, name="e2e-metrics", concurrency=2
    ) as worker:
        for _ in range(4):
            celery_app.send_task("voltmetrics.tasks.recompute_pending_task")
        worker.wait_for(lambda: succeeded() >= 4 or None, "four counted task runs")
        assert len(list(tmp_path.glob("counter_*.db"))) >= 1
        durations = registry.get_sample_value(
            "masterbus_task_duration_seconds_count",
            {"task": "voltmetrics.tasks.recompute_pending_task"},
        )
        assert durations == succeeded()


def _count_in_a_process(directory, task: str, times: int) -> None:
    import os
    import subprocess
    import sys

    code = (
        "from masterbus.metrics.families import task_runs\n"
        f"for _ in range({times}): task_runs.labels({task!r}, 'succeeded').inc()\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60,
                   cwd=str(__import__("django.conf").conf.settings.BASE_DIR))  # fmt: skip


def test_a_scrape_adds_up_every_services_directory(tmp_path, monkeypatch):
    """The systemd units give the web and each worker a directory of their own; the web's
    METRICS_MULTIPROC_DIRS glob reports them together."""
    from masterbus.metrics.registry import _ProcessFiles, multiprocess_dirs

    web, worker, other = tmp_path / "web", tmp_path / "worker-masterbus", tmp_path / "x.txt"
    web.mkdir(), worker.mkdir(), other.write_text("not a directory")
    _count_in_a_process(web, "t.web", 2)
    _count_in_a_process(worker, "t.shared", 3)
    _count_in_a_process(web, "t.shared", 4)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(web))

    def value(task):
        for fam in _ProcessFiles().collect():
            for s in fam.samples:
                if s.name == "masterbus_task_runs_total" and s.labels["task"] == task:
                    return s.value
        return None

    monkeypatch.delenv("METRICS_MULTIPROC_DIRS", raising=False)
    assert multiprocess_dirs() == [str(web)]
    assert (value("t.web"), value("t.shared")) == (2, 4)
    monkeypatch.setenv("METRICS_MULTIPROC_DIRS", f"{tmp_path}/*")
    assert multiprocess_dirs() == [str(web), str(worker)]
    assert (value("t.web"), value("t.shared")) == (2, 7)
