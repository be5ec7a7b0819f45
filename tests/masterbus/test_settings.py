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
        METRICS_TOKEN="m" * 40,
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


OLD_LITERAL_KEY = "insecure-development-key-" + "x" * 40


def settings_of(*names, **env_overrides):
    """The named settings as a fresh process sees them (no SECRET_KEY, DEBUG or
    MASTERBUS_ENV from this one's environment unless given)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "MASTERBUS_ENV", "DEBUG", "SECRET_KEY_FILE")
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="masterbus.settings")
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        f"print(json.dumps([getattr(s, n) for n in {list(names)!r}]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_debug_is_off_unless_asked_for():
    assert settings_of("DEBUG") == [False]
    assert settings_of("DEBUG", DEBUG="true") == [True]


def test_secret_key_is_generated_once_per_installation_outside_the_repository(tmp_path):
    key_file = tmp_path / "state" / "secret_key"
    [first] = settings_of("SECRET_KEY", SECRET_KEY_FILE=str(key_file))
    [again] = settings_of("SECRET_KEY", SECRET_KEY_FILE=str(key_file))
    assert first == again == key_file.read_text().strip()
    assert len(first) >= 50 and first != OLD_LITERAL_KEY
    assert key_file.stat().st_mode & 0o777 == 0o600
    [other] = settings_of("SECRET_KEY", SECRET_KEY_FILE=str(tmp_path / "other" / "key"))
    assert other != first
    # The default place is outside the project (the per-user state directory).
    from masterbus.secret_key import default_path

    assert ROOT not in default_path().parents


def test_secret_key_from_the_environment_wins(tmp_path):
    key_file = tmp_path / "secret_key"
    assert settings_of("SECRET_KEY", SECRET_KEY="e" * 60, SECRET_KEY_FILE=str(key_file)) == [
        "e" * 60
    ]
    assert not key_file.exists()


def test_secret_key_file_without_a_usable_key_refuses_to_start(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("short\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "MASTERBUS_ENV")}
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        env={**env, "SECRET_KEY_FILE": str(key_file)}, timeout=60,
    )
    assert out.returncode != 0 and "no usable secret key" in out.stderr


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from masterbus.secret_key import installation_key

    path = tmp_path / "race" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: installation_key(path), range(32)))
    assert keys == {path.read_text().strip()}
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left
    assert path.stat().st_mode & 0o777 == 0o600


def test_every_documented_way_of_running_for_real_uses_production_mode():
    """Each shell block that starts gunicorn in the README or docs/ runs in production mode:
    the block itself, or one before it in the same document, sets MASTERBUS_ENV=production."""
    import re

    found = 0
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        production = False
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", doc.read_text(), re.S):
            production = production or bool(
                re.search(r"^(export )?MASTERBUS_ENV=production\b", block, re.M)
            )
            if re.search(r"^\S*gunicorn ", block, re.M):
                found += 1
                assert production, f"{doc.name}: {block}"
    assert found >= 2


def test_unknown_url_shows_no_route_listing_by_default():
    """With the default settings (no DEBUG in the environment) an unknown URL is a plain 404,
    not Django's technical page listing every route."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "MASTERBUS_ENV")}
    code = (
        "import django; django.setup(); from django.test import Client;"
        "r = Client().get('/no-such-page'); print(r.status_code, b'URLconf' in r.content)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**env, "DJANGO_SETTINGS_MODULE": "masterbus.settings"},
    )
    assert out.stdout.split()[-2:] == ["404", "False"], out.stdout + out.stderr
