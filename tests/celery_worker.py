"""A real Celery worker subprocess for the end-to-end tests (PostgreSQL + Redis + a broker).

``celery_worker(env_extra, name=...)`` starts ``celery -A masterbus worker`` against the
*test* database pytest-django created, on a queue of its own, waits until it is ready, yields
a :class:`Worker`, and stops it afterwards. If the block fails, the worker's output is shown
with the failure.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connection

from masterbus.celery import app as celery_app

BASE_DIR = Path(settings.BASE_DIR)
CELERY = Path(sys.executable).with_name("celery")
DEADLINE = 60  # seconds for the worker to start, and for each thing a test waits for

T = TypeVar("T")


def database_url() -> str:
    db = connection.settings_dict  # the test database pytest-django created
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen
    queue: str
    log_path: Path

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-8000:]
        except OSError:
            return "(no output)"

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for(self, check: Callable[[], T], what: str, deadline: float = DEADLINE) -> T:
        """Poll ``check`` until it returns something truthy, and return that; fail the test
        with the worker's output if the worker exits or ``deadline`` seconds pass first."""
        until = time.monotonic() + deadline
        while time.monotonic() < until:
            if not self.alive():
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            result = check()
            if result:
                return result
            time.sleep(0.25)
        pytest.fail(f"no {what} within {deadline}s; worker:\n{self.output()}")


@contextlib.contextmanager
def celery_worker(
    env_extra: dict[str, str],
    *,
    include: str = "",
    name: str = "e2e",
    concurrency: int = 0,
    queue: str | None = None,
) -> Iterator[Worker]:
    """``concurrency`` > 0 runs the prefork pool with that many children (default: solo).
    ``queue``: consume that queue (workers given the same one share its tasks)."""
    assert CELERY.exists(), f"no celery executable at {CELERY}"
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "set CELERY_BROKER_URL to run this test"
    # A queue of our own (unless given): other runs on the same broker neither take our tasks
    # nor lose theirs.
    queue = queue or f"{settings.CELERY_TASK_DEFAULT_QUEUE}.{name}.{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE": queue,
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)
    log_file = tempfile.NamedTemporaryFile(prefix=f"{name}-worker-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    cmd = [
        str(CELERY), "-A", "masterbus", "worker", "-l", "info", "-Q", queue,
        *(["-P", "prefork", "-c", str(concurrency)] if concurrency else ["-P", "solo"]),
        "-n", f"{name}-{os.getpid()}@%h", "--without-heartbeat", "--without-mingle",
        "--without-gossip",
    ]  # fmt: skip
    if include:
        cmd += ["--include", include]
    process = subprocess.Popen(
        cmd, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    worker = Worker(process, queue, log_path)
    try:
        worker.wait_for(lambda: " ready." in worker.output(), "ready worker")
        try:
            yield worker
        except BaseException:
            # Shown with the failure (pytest prints what a failed test wrote).
            sys.stderr.write(f"\n--- celery worker output ---\n{worker.output()}\n")
            raise
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log_file.close()
        log_path.unlink(missing_ok=True)
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
