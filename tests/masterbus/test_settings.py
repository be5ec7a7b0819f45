import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "MASTERBUS_ENV")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    out = manage("check", MASTERBUS_ENV="production", ALLOWED_HOSTS="masterbus.example.com")
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr


def test_production_passes_check_deploy():
    out = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        MASTERBUS_ENV="production",
        SECRET_KEY="k" * 20 + "Q7#r!x9" + "z" * 30,
        ALLOWED_HOSTS="masterbus.example.com",
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_embedded_default_needs_no_configuration():
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    out = subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.conf import settings as s;"
         "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'],"
         " s.CELERY_TASK_ALWAYS_EAGER)"],
        cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "masterbus.settings"},
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.split() == [
        "django.db.backends.sqlite3", "django.core.cache.backends.locmem.LocMemCache", "True"
    ]
