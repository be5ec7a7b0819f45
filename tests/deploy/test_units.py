"""The process files of deploy/ (systemd units, the Procfile) and the environment they read.

The units are parsed as systemd parses them (one ``Key=value`` per line, keys may repeat) and
checked for what docs/deployment.md promises of them; their commands must name this tree's
executables, configuration files and modules. When ``systemd-analyze`` is on the machine,
``systemd-analyze verify`` checks them too (with /srv/masterbus pointed at this tree).
``.env.example`` must name every setting masterbus/settings.py reads and every variable of
docs/deployment.md's environment list, in a form systemd's EnvironmentFile= reads.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from masterbus.queues import QUEUES

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
PROCFILE = ROOT / "deploy" / "Procfile"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOYMENT_MD = ROOT / "docs" / "deployment.md"
INSTALL_DIR = "/srv/masterbus"
ENV_FILE = "/etc/masterbus/masterbus.env"
UNITS = ("masterbus-web.service", "masterbus-worker@.service", "masterbus-beat.service")
TARGET = "masterbus.target"

_spec = importlib.util.spec_from_file_location(
    "unit_command", ROOT / "deploy" / "smoke" / "unit_command.py"
)
unit_command = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(unit_command)
escape = unit_command.escape


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``{section: [(key, value), …]}``, as systemd reads a unit file (comments on lines of
    their own, ``\\`` continues a line, keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            assert line.endswith("]"), f"{path.name}:{number}: bad section header {line!r}"
            current = line[1:-1]
            assert current not in sections, f"{path.name}: section [{current}] twice"
            sections[current] = []
            continue
        assert current is not None, f"{path.name}:{number}: {line!r} outside any section"
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), (
            f"{path.name}:{number}: not a Key=value line: {line!r}"
        )
        sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit.get(section, []) if k == key]


def one(unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, f"[{section}] {key}= appears {len(found)} times"
    return found[0]


def seconds(value: str) -> float:
    """A systemd time span: "45", "45s", "5min", "1min 30s"."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def local(path: str) -> Path:
    """A path of the installation (/srv/masterbus/…) in this tree."""
    assert path.startswith(INSTALL_DIR + "/"), f"{path} is not under {INSTALL_DIR}"
    return ROOT / path[len(INSTALL_DIR) + 1 :]


def check_celery_app(argv: list[str]) -> None:
    """``celery -A masterbus …``: the app module exists and defines the Celery app."""
    app_name = argv[argv.index("-A") + 1]
    module = importlib.import_module(f"{app_name}.celery")
    assert module.app.main == app_name


def check_gunicorn_config(config: Path) -> None:
    assert config.is_file(), f"no gunicorn config at {config}"
    conf = runpy.run_path(str(config))
    module, _, attr = conf["wsgi_app"].partition(":")
    assert importlib.util.find_spec(module) is not None, f"no module {module}"
    assert attr == "application"
    assert Path(conf["chdir"]) == ROOT
    return conf


@pytest.fixture(scope="module")
def units():
    return {name: parse_unit(SYSTEMD / name) for name in (*UNITS, TARGET)}


# --- the units --------------------------------------------------------------------------------


def test_every_service_runs_as_masterbus_with_the_environment_file_and_stops_on_sigterm(units):
    for name in UNITS:
        unit = units[name]
        assert one(unit, "Service", "User") == "masterbus", name
        assert one(unit, "Service", "Group") == "masterbus", name
        assert one(unit, "Service", "WorkingDirectory") == INSTALL_DIR, name
        assert one(unit, "Service", "EnvironmentFile") == ENV_FILE, name
        assert one(unit, "Service", "KillSignal") == "SIGTERM", name
        assert one(unit, "Service", "Restart") == "on-failure", name
        assert 30 <= seconds(one(unit, "Service", "TimeoutStopSec")) <= 600, name
        assert one(unit, "Unit", "PartOf") == TARGET, name
        assert one(unit, "Install", "WantedBy") == TARGET, name


def test_web_runs_gunicorn_with_the_shipped_config(units):
    unit = units["masterbus-web.service"]
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert local(argv[0]) == ROOT / ".venv" / "bin" / "gunicorn"
    assert argv[1:] == ["-c", f"{INSTALL_DIR}/deploy/gunicorn.conf.py"]
    conf = check_gunicorn_config(local(argv[2]))
    # systemd waits longer than gunicorn's own graceful stop before it kills anything.
    assert seconds(one(unit, "Service", "TimeoutStopSec")) > conf["graceful_timeout"]
    assert one(unit, "Service", "Type") == "notify"  # gunicorn's arbiter notifies systemd


def test_worker_is_a_template_whose_instance_is_the_queue(units):
    unit = units["masterbus-worker@.service"]
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert local(argv[0]) == ROOT / ".venv" / "bin" / "celery"
    assert argv[1:4] == ["-A", "masterbus", "worker"]
    # %I: the instance unescaped, so masterbus-worker@ingest\x2cvoltmetrics consumes two queues.
    assert "--queues=%I" in argv
    check_celery_app(argv)
    # The default instance (systemctl enable masterbus-worker@.service) consumes every queue.
    default = one(unit, "Install", "DefaultInstance")
    assert unescape(default).split(",") == list(QUEUES)
    assert escape(",".join(QUEUES)) == default


def unescape(instance: str) -> str:
    """systemd's %I: \\xNN escapes decoded."""
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), instance)


@pytest.mark.skipif(shutil.which("systemd-escape") is None, reason="no systemd-escape")
def test_the_smoke_runs_escape_queues_as_systemd_does():
    for name in ("recompute", ",".join(QUEUES), "site-b.ingest,site-b.default"):
        ours = escape(name)
        theirs = subprocess.run(["systemd-escape", name], capture_output=True, text=True,
                                check=True).stdout.strip()  # fmt: skip
        assert ours == theirs and unescape(ours) == name


def test_the_smoke_expands_the_worker_units_command_for_its_instance():
    cmd = subprocess.run(
        [sys.executable, str(ROOT / "deploy/smoke/unit_command.py"), "masterbus-worker@.service",
         "--instance", "ingest,default"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\0")[:-1]  # fmt: skip
    assert cmd[0] == str(ROOT / ".venv" / "bin" / "celery")
    assert "--queues=ingest,default" in cmd
    assert [a for a in cmd if a.startswith("--hostname=")] == [
        f"--hostname=ingest\\x2cdefault@{socket.gethostname()}"
    ]


def test_beat_is_one_database_scheduled_beat(units):
    unit = units["masterbus-beat.service"]
    argv = shlex.split(one(unit, "Service", "ExecStart"))
    assert local(argv[0]) == ROOT / ".venv" / "bin" / "celery"
    assert argv[1:4] == ["-A", "masterbus", "beat"]
    check_celery_app(argv)
    # The scheduler comes from the settings: django-celery-beat's, the schedules in the database.
    module, _, cls = settings.CELERY_BEAT_SCHEDULER.partition(":")
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    assert hasattr(importlib.import_module(module), cls)
    assert not (SYSTEMD / "masterbus-beat@.service").exists()  # not a template: one beat


def test_web_and_workers_get_a_fresh_prometheus_directory_of_their_own(units):
    seen = set()
    for name in ("masterbus-web.service", "masterbus-worker@.service"):
        unit = units[name]
        runtime = one(unit, "Service", "RuntimeDirectory")
        env = dict(v.split("=", 1) for v in values(unit, "Service", "Environment"))
        # RuntimeDirectory= is created empty at each start and removed at each stop.
        assert env["PROMETHEUS_MULTIPROC_DIR"] == f"/run/{runtime}", name
        assert "RuntimeDirectoryPreserve" not in dict(unit["Service"]), name
        seen.add(runtime)
    assert len(seen) == 2  # never shared between services (each start empties its own)
    beat = units["masterbus-beat.service"]
    assert not values(beat, "Service", "RuntimeDirectory")


def test_the_target_groups_them_and_starts_with_the_system(units):
    target = units[TARGET]
    assert one(target, "Install", "WantedBy") == "multi-user.target"
    # Enabling puts each unit into the target; it does not pull in beat by itself, so a
    # second host running the target never starts a second beat.
    assert not values(target, "Unit", "Wants")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    env_file = tmp_path / "masterbus.env"
    env_file.write_text("MASTERBUS_ENV=production\n")
    for path in SYSTEMD.iterdir():
        text = path.read_text().replace(INSTALL_DIR, str(ROOT)).replace(ENV_FILE, str(env_file))
        (tmp_path / path.name).write_text(text)
    names = ["masterbus-web.service", "masterbus-worker@recompute.service",
             f"masterbus-worker@{escape(','.join(QUEUES))}.service",
             "masterbus-beat.service", TARGET]  # fmt: skip
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(f"./{n}" for n in names)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = result.stdout + result.stderr
    ours = [line for line in output.splitlines() if "masterbus" in line]
    assert result.returncode == 0 and not ours, output


# --- the Procfile -----------------------------------------------------------------------------


def procfile() -> dict[str, str]:
    entries = {}
    for line in PROCFILE.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_]+):\s*(.+)$", line)  # honcho's and foreman's rule
        if m:
            assert m.group(1) not in entries
            entries[m.group(1)] = m.group(2)
    return entries


def test_procfile_runs_web_workers_and_beat_from_the_project_root():
    entries = procfile()
    assert list(entries) == ["web", "worker", "recompute", "beat"]
    web = shlex.split(entries["web"])
    assert web[0] == ".venv/bin/gunicorn" and (ROOT / web[0]).parent == ROOT / ".venv/bin"
    assert web[1:] == ["-c", "deploy/gunicorn.conf.py"]
    check_gunicorn_config(ROOT / web[2])
    consumed = []
    for name in ("worker", "recompute"):
        worker = shlex.split(entries[name])
        assert worker[:4] == [".venv/bin/celery", "-A", "masterbus", "worker"]
        check_celery_app(worker)
        (queues,) = [a.split("=", 1)[1] for a in worker if a.startswith("--queues=")]
        (node,) = [a.split("=", 1)[1] for a in worker if a.startswith("--hostname=")]
        assert node == f"{name}@%h"  # two workers on one host: two node names
        consumed += queues.split(",")
    # The recomputes on a worker of their own; together, every queue exactly once.
    assert shlex.split(entries["recompute"])[5] == "--queues=recompute"
    assert sorted(consumed) == sorted(QUEUES)
    beat = shlex.split(entries["beat"])
    assert beat[:4] == [".venv/bin/celery", "-A", "masterbus", "beat"]
    check_celery_app(beat)


# --- the environment --------------------------------------------------------------------------


def example_names() -> set[str]:
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))


def test_env_example_names_every_setting_settings_py_reads():
    source = (ROOT / "masterbus" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    assert {"DATABASE_URL", "SECRET_KEY", "CELERY_QUEUE_PREFIX"} <= read  # the pattern finds them
    assert read - example_names() == set()


def test_env_example_names_the_operations_settings():
    # operations.md §1, §2: the metrics and log settings production needs.
    assert {"METRICS_TOKEN", "METRICS_ENABLED", "PROMETHEUS_MULTIPROC_DIR", "LOG_FORMAT"} <= (
        example_names()
    )


def test_env_example_is_a_valid_environment_file():
    """systemd's EnvironmentFile= keeps whatever follows ``=`` (a trailing ``# comment``
    included): settings and comments are on lines of their own."""
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        m = re.match(r"^#? ?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            assert "#" not in m.group(2), f".env.example:{number}: comment after a value"
            assert not m.group(2).startswith(("'", '"')), f".env.example:{number}: quoted"
        else:
            assert line == "" or line.startswith("#"), f".env.example:{number}: {line!r}"


def deployment_environment() -> str:
    text = DEPLOYMENT_MD.read_text()
    m = re.search(r"^## \d+\. Environment\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "docs/deployment.md has no '## N. Environment' section"
    return m.group(1)


def test_every_variable_of_the_deployment_environment_list_is_in_env_example():
    section = deployment_environment()
    assigned = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", section, re.M))
    quoted = set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", section))
    assert {"MASTERBUS_ENV", "SECRET_KEY", "METRICS_TOKEN"} <= assigned
    assert (assigned | quoted) - example_names() == set()
