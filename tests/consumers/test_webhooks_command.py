"""``manage.py create_subscription`` (consumers.md §6): the id, then the secret alone on the
last line; bad arguments exit non-zero with a one-line reason and create nothing."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from standardwebhooks import Webhook

from consumers.models import Portfolio, Subscription
from consumers.webhooks.secrets import signing_secrets

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command("create_subscription", *args, stdout=out)
    return out.getvalue().splitlines()


def test_creates_and_prints_the_id_then_the_secret_alone(settings):
    Portfolio.objects.create(slug="acme", name="Acme")
    lines = run(
        "--url", "https://hooks.example.com/in", "--event", "facility.risk_changed",
        "--event", "sync.run_finished", "--portfolio", "acme", "--description", "Acme's planner",
    )  # fmt: skip
    sub = Subscription.objects.get()
    assert lines[0].startswith(f"Subscription {sub.pk} created")
    secret = lines[-1]
    assert secret.startswith("whsec_") and " " not in secret
    Webhook(secret)  # the library reads it unchanged
    assert signing_secrets(sub) == [secret]
    assert sub.event_types == ["facility.risk_changed", "sync.run_finished"]
    assert [p.slug for p in sub.portfolios.all()] == ["acme"]
    assert sub.description == "Acme's planner" and sub.active and sub.paused_at is None


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--url", "https://x.example.com", "--event", "facility.exploded"], "unknown event type"),
        (["--url", "https://x.example.com", "--event", "test"], "unknown event type"),
        (["--url", "https://x.example.com", "--portfolio", "nope"], "unknown portfolio"),
        (["--url", "ftp://x.example.com/in"], "must start with https://"),
        (["--url", "not a url"], "must start with https://"),
        (["--url", "http://x.example.com/in"], "http is refused unless WEBHOOK_ALLOW_HTTP"),
        (["--url", "https://10.0.0.5/in"], "private address"),
        (["--url", "https://user:pw@x.example.com/in"], "user name or password"),
    ],
)
def test_bad_arguments_create_nothing(settings, args, reason):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE = False
    Portfolio.objects.create(slug="acme", name="Acme")
    with pytest.raises(CommandError) as exc:
        run(*args)
    message = str(exc.value)
    assert reason in message and "\n" not in message and "Nothing created" in message
    assert Subscription.objects.count() == 0


def test_http_is_accepted_when_allowed(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    lines = run("--url", "http://hooks.example.com/in")
    assert lines[-1].startswith("whsec_") and Subscription.objects.count() == 1


@pytest.mark.services  # the child process needs the test database by URL (PostgreSQL)
def test_bad_arguments_exit_non_zero_from_the_command_line(tmp_path):
    import os
    import subprocess
    import sys

    from django.conf import settings

    from tests.celery_worker import database_url

    env = {**os.environ, "WEBHOOK_ALLOW_HTTP": "false", "DATABASE_URL": database_url()}
    res = subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "create_subscription", "--url",
         "gopher://x.example.com", "--skip-checks"],
        capture_output=True, text=True, env=env,
        cwd=settings.BASE_DIR, timeout=60,
    )  # fmt: skip
    assert res.returncode != 0 and res.stdout == ""
    assert res.stderr.strip().count("\n") == 0 and "https://" in res.stderr
