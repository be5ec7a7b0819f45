"""``manage.py create_api_key`` (consumers.md §6): the raw key once, on stdout alone; every
bad argument exits non-zero with a one-line reason and creates nothing."""

import io
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from masterbus.models import ApiKey, key_digest
from masterbus.services import api_key_expiry

pytestmark = pytest.mark.django_db

SUMMARY = "/api/v1/portfolio/summary"
ROOT = Path(__file__).resolve().parents[2]


def create(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_the_key_alone_on_stdout_and_it_reads_the_api(client):
    out, err = create("--name", "insurer", "--scope", "threatmap:read")
    raw = out.removesuffix("\n")
    assert out == raw + "\n" and "\n" not in raw and raw.startswith("mb_")
    assert raw not in err and "insurer" in err
    key = ApiKey.objects.get()
    assert key.digest == key_digest(raw) and key.name == "insurer"
    assert key.scopes == ["threatmap:read"]
    assert key.expires_at is None and key.rate_limit_per_minute is None
    assert client.get(SUMMARY, HTTP_X_API_KEY=raw).status_code == 200
    assert client.get(SUMMARY, HTTP_X_API_KEY=raw + "x").status_code == 401


def test_scopes_expiry_and_rate_limit_are_stored(client):
    day = (timezone.localdate() + timedelta(days=30)).isoformat()
    out, _ = create(
        "--name", "condoit bus", "--scope", "condoit:push", "--scope", "threatmap:read",
        "--scope", "condoit:push", "--expires", day, "--rate-limit", "250",
    )  # fmt: skip
    key = ApiKey.objects.get(digest=key_digest(out.strip()))
    assert key.scopes == ["condoit:push", "threatmap:read"]
    assert key.rate_limit_per_minute == 250 and key.effective_rate_limit == 250
    assert key.expires_at == timezone.make_aware(
        datetime.combine(date.fromisoformat(day) + timedelta(days=1), datetime.min.time())
    )
    r = client.get(SUMMARY, HTTP_X_API_KEY=out.strip())
    assert r.status_code == 200 and r["X-RateLimit-Limit"] == "250"


def test_a_key_expiring_today_works_through_today():
    today = date(2026, 3, 9)
    assert api_key_expiry("2026-03-09", today=today) == timezone.make_aware(datetime(2026, 3, 10))


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--name", "x", "--scope", "threatmap:write"], "Unknown scope(s): threatmap:write"),
        (["--name", "x", "--scope", "threatmap:read", "--scope", ""], "Unknown scope(s)"),
        (["--name", "x", "--scope", "threatmap:read", "--expires", "2030-02-30"], "YYYY-MM-DD"),
        (["--name", "x", "--scope", "threatmap:read", "--expires", "31/12/2030"], "YYYY-MM-DD"),
        (["--name", "x", "--scope", "threatmap:read", "--expires", "20301231"], "YYYY-MM-DD"),
        (["--name", "x", "--scope", "threatmap:read", "--expires", "2020-01-01"], "in the past"),
        (["--name", "x", "--scope", "threatmap:read", "--rate-limit", "0"], "positive"),
        (["--name", "x", "--scope", "threatmap:read", "--rate-limit", "-5"], "positive"),
        (["--name", "x", "--scope", "threatmap:read", "--rate-limit", "ten"], "positive"),
        (["--name", "x", "--scope", "threatmap:read", "--rate-limit", "1.5"], "positive"),
        (["--name", "", "--scope", "threatmap:read"], "needs a name"),
        (["--name", "   ", "--scope", "threatmap:read"], "needs a name"),
        (["--name", "n" * 101, "--scope", "threatmap:read"], "at most 100"),
    ],
)
def test_bad_arguments_fail_with_a_one_line_reason_and_create_nothing(args, reason):
    with pytest.raises(CommandError) as exc:
        create(*args)
    message = str(exc.value)
    assert reason in message and "\n" not in message and "no key created" in message
    assert not ApiKey.objects.exists()


def test_yesterday_is_in_the_past_but_today_is_not():
    today = timezone.localdate()
    with pytest.raises(CommandError, match="in the past"):
        create("--name", "x", "--scope", "threatmap:read",
               "--expires", (today - timedelta(days=1)).isoformat())  # fmt: skip
    assert not ApiKey.objects.exists()
    out, _ = create("--name", "x", "--scope", "threatmap:read", "--expires", today.isoformat())
    assert ApiKey.objects.get(digest=key_digest(out.strip())).expires_at > timezone.now()


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _manage(*args):
    env = {**os.environ, "DATABASE_URL": _database_url()}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "create_api_key", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_as_a_process_stdout_holds_the_key_alone_and_errors_exit_non_zero(client):
    """The real command line: system checks, settings and all."""
    assert "masterbus" in settings.INSTALLED_APPS
    ok = _manage("--name", "ci reader", "--scope", "threatmap:read")
    assert ok.returncode == 0, ok.stderr
    raw = ok.stdout.removesuffix("\n")
    assert ok.stdout == raw + "\n" and raw.startswith("mb_") and len(raw) == 46
    assert raw not in ok.stderr
    assert client.get(SUMMARY, HTTP_X_API_KEY=raw).status_code == 200

    bad = _manage("--name", "ci reader", "--scope", "everything")
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "Unknown scope(s): everything" in bad.stderr
    assert ApiKey.objects.count() == 1
