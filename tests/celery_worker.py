"""A real Celery worker subprocess for the end-to-end tests (PostgreSQL + Redis + a broker).

``celery_worker(env_extra, name=..., queues=[...])`` starts ``celery -A masterbus worker``
against the *test* database pytest-django created, consuming the given logical queues
(masterbus/queues.py; default: all of them) under a queue prefix of its own, waits until it
is ready, yields a :class:`Worker`, and stops it afterwards. If the block fails, the worker's
output is shown with the failure.

The prefix (CELERY_QUEUE_PREFIX) keeps runs sharing a broker apart: other runs neither take
our tasks nor lose theirs. While the block runs, this process sends its tasks under the same
prefix (the setting is overridden), so tasks routed by name — sent by the test, or by the live
server's requests — reach this worker. A second worker of the same test passes
``prefix=first.prefix`` to consume other queues of the same set; a test that queues tasks
before its workers start takes a prefix from :func:`queue_prefix` and overrides the setting
itself meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from masterbus.celery import app as celery_app
from masterbus.queues import DEFAULT, QUEUES, queue_name

BASE_DIR = Path(settings.BASE_DIR)
CELERY = Path(sys.executable).with_name("celery")
DEADLINE = 60  # seconds for the worker to start, and for each thing a test waits for

T = TypeVar("T")

# Prefixes of the workers running now: the first worker of a prefix owns its queues.
_running: dict[str, int] = {}


def queue_prefix(name: str) -> str:
    """A CELERY_QUEUE_PREFIX of its own for a test's workers."""
    return f"test.{name}.{uuid.uuid4().hex[:8]}."


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
    prefix: str
    queues: tuple[str, ...]  # the logical queues it consumes
    log_path: Path

    def queue_name(self, queue: str) -> str:
        """The broker's name of the logical ``queue`` under this worker's prefix."""
        return queue_name(queue, self.prefix)

    @property
    def queue(self) -> str:
        """One queue this worker consumes (``default`` when it does), for a task sent to it
        explicitly (``send_task(..., queue=worker.queue)``) rather than by its route."""
        return self.queue_name(DEFAULT if DEFAULT in self.queues else self.queues[0])

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
    queues: Sequence[str] = QUEUES,
    prefix: str | None = None,
) -> Iterator[Worker]:
    """``concurrency`` > 0 runs the prefork pool with that many children (default: solo).
    ``queues``: the logical queues it consumes; ``prefix``: another worker's, to share its
    queue set, or one from :func:`queue_prefix` (default: a new one). The first worker of a
    prefix deletes all six of its queues when it stops, the others only their own."""
    assert CELERY.exists(), f"no celery executable at {CELERY}"
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "set CELERY_BROKER_URL to run this test"
    queues = tuple(queues)
    assert queues and set(queues) <= set(QUEUES), f"unknown queues in {queues}"
    if prefix is None:
        prefix = queue_prefix(name)
    owner = not _running.get(prefix)
    names = [queue_name(q, prefix) for q in queues]
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE_PREFIX": prefix,
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        **env_extra,
    }
    with celery_app.connection_for_write() as conn:
        for queue in names:
            conn.default_channel.queue_purge(queue)
    log_file = tempfile.NamedTemporaryFile(prefix=f"{name}-worker-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    cmd = [
        str(CELERY), "-A", "masterbus", "worker", "-l", "info", "-Q", ",".join(names),
        *(["-P", "prefork", "-c", str(concurrency)] if concurrency else ["-P", "solo"]),
        "-n", f"{name}-{os.getpid()}@%h", "--without-heartbeat", "--without-mingle",
        "--without-gossip",
    ]  # fmt: skip
    if include:
        cmd += ["--include", include]
    process = subprocess.Popen(
        cmd, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )
    worker = Worker(process, prefix, queues, log_path)
    _running[prefix] = _running.get(prefix, 0) + 1
    try:
        worker.wait_for(lambda: " ready." in worker.output(), "ready worker")
        # This process (the test, the live server) sends its tasks under the same prefix.
        with override_settings(CELERY_QUEUE_PREFIX=prefix):
            try:
                yield worker
            except BaseException:
                # Shown with the failure (pytest prints what a failed test wrote).
                sys.stderr.write(f"\n--- celery worker output ---\n{worker.output()}\n")
                raise
    finally:
        _running[prefix] -= 1
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log_file.close()
        log_path.unlink(missing_ok=True)
        # Our queues; the owner of the prefix also those no worker of the test consumed.
        doomed = [queue_name(q, prefix) for q in QUEUES] if owner else names
        with celery_app.connection_for_write() as conn:
            for queue in doomed:
                conn.default_channel.queue_delete(queue)
