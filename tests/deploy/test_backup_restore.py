"""docs/maintenance.md, "Backup and restore": a ``pg_dump -Fc`` restored with ``pg_restore``
into an empty database gives an identical ``manage.py export_threatmap`` (operations.md §5)."""

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from masterbus.models import ApiKey

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parents[2]


def _url(name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _run(*args, **env):
    done = subprocess.run(
        args, cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.skipif(not shutil.which("pg_dump"), reason="needs pg_dump and pg_restore")
def test_a_restore_into_an_empty_database_gives_an_identical_export(tmp_path, settings):
    settings.PUBLIC_BASE_URL = ""  # signed photo URLs carry an expiry that moves with the clock
    portfolio = tmp_path / "portfolio.json"
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command(
        "generate_demo_portfolio",
        facilities=3,
        equipment_per_facility=6,
        seed=5,
        out=str(portfolio),
        **quiet,
    )
    call_command("import_condoit", str(portfolio), "--no-progress", **quiet)
    call_command("recompute_risk", "--no-progress", **quiet)
    call_command("create_api_key", "--name", "kept", "--scope", "threatmap:read", **quiet)
    before = tmp_path / "before.json"
    call_command("export_threatmap", "--out", str(before), **quiet)
    assert before.read_text().count('"riskScore"') >= 3

    source = connection.settings_dict["NAME"]
    restored = f"{source}_restore"
    dump = tmp_path / "masterbus.dump"
    _run("pg_dump", "-Fc", "-d", _url(source), "-f", str(dump))
    admin = _url("postgres")
    _run("psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{restored}"')
    _run("psql", admin, "-qc", f'CREATE DATABASE "{restored}" TEMPLATE template0')
    try:
        _run("pg_restore", "--no-owner", "--exit-on-error", "-d", _url(restored), str(dump))
        after = tmp_path / "after.json"
        _run(
            sys.executable, "manage.py", "export_threatmap", "--out", str(after),
            DATABASE_URL=_url(restored), PUBLIC_BASE_URL="",
        )  # fmt: skip
        assert after.read_bytes() == before.read_bytes()
        keys = _run(
            "psql", _url(restored), "-Atc", "SELECT name, digest FROM masterbus_apikey"
        ).stdout.split()
        assert keys == [f"kept|{ApiKey.objects.get().digest}"]
    finally:
        _run("psql", admin, "-qc", f'DROP DATABASE IF EXISTS "{restored}"')
