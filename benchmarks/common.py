"""Shared plumbing of the benchmark driver: paths, the benchmark database, child processes,
cached demo data and plain-text / markdown tables."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"
MANAGE = ROOT / "manage.py"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/masterbus_bench"
GENERATOR_COMMAND = ROOT / "condoit" / "management" / "commands" / "generate_demo_portfolio.py"
# Files whose content decides what the generator writes: a change regenerates cached data.
GENERATOR_SOURCES = (GENERATOR_COMMAND, *sorted((ROOT / "condoit" / "demo").glob("*.py")))


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the database ---------------------------------------------------------------------------


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL


def db_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def maintenance_url(url: str) -> str:
    """The same server, database ``postgres`` (to create/drop the benchmark database)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))


def libpq_url(url: str) -> str:
    """psycopg/libpq accept postgres:// and postgresql://; Django's scheme aliases are mapped."""
    parts = urlsplit(url)
    scheme = "postgresql" if parts.scheme in ("postgres", "postgresql", "pgsql") else parts.scheme
    return urlunsplit((scheme, *parts[1:]))


def check_postgres_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "pgsql"):
        sys.exit(
            f"benchmarks need PostgreSQL: DATABASE_URL has scheme {scheme!r} "
            f"(unset it to use {DEFAULT_DATABASE_URL})"
        )


def recreate_database(url: str, *, force: bool = False, template: str = "") -> None:
    """Drop and create the benchmark database (its name must say it is a benchmark one); with
    ``template``, as a copy of that database (which is only read)."""
    import psycopg
    from psycopg import sql

    name = db_name(url)
    if "bench" not in name and not force:
        sys.exit(
            f"refusing to drop database {name!r}: the benchmark database's name must contain "
            "'bench' (or pass --force-drop)"
        )
    if template == name:
        sys.exit(f"--from-db {template!r} is the benchmark database itself, which is dropped")
    with psycopg.connect(libpq_url(maintenance_url(url)), autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        if not template:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
            return
        create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(template))
        for attempt in range(30):  # a copy needs the template free of other sessions
            try:
                conn.execute(create)
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                log(f"database {template!r} is in use by another session: retrying in 2 s")
                time.sleep(2)


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(libpq_url(maintenance_url(url)), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db_name(url))
            )
        )


def connect(url: str, **kwargs):
    import psycopg

    return psycopg.connect(libpq_url(url), **kwargs)


def server_version(url: str) -> str:
    with connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
        return f"{version}, autovacuum {autovacuum}"


# --- child processes ------------------------------------------------------------------------


def child_env(url: str, *, celery_eager: bool | None = None, **extra: str) -> dict[str, str]:
    """Environment of every child: the benchmark database, production-like DEBUG off.

    DEBUG=True would make Django keep the SQL of the last 9,000 queries in memory, which is
    not how the import runs in production and would distort peak memory.

    ``celery_eager=False`` sets CELERY_TASK_ALWAYS_EAGER=false: without a broker the settings
    default to eager tasks, and every import batch's ``recompute_soon`` would then run a
    recompute inside the timed child. Children that write records must pass it.
    ``extra`` adds (or overrides) variables.
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="masterbus.settings",
        DEBUG=env.get("BENCH_DEBUG", "0"),
        PYTHONUNBUFFERED="1",
    )
    if celery_eager is not None:
        env["CELERY_TASK_ALWAYS_EAGER"] = "true" if celery_eager else "false"
    env.update(extra)
    return env


@dataclass
class ChildResult:
    wall_s: float
    user_s: float
    sys_s: float
    peak_rss_mb: float  # MiB
    returncode: int
    stdout: str
    stderr: str

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_child(argv: list[str], *, env: dict[str, str]) -> ChildResult:
    """Run one child, measuring its wall time and its own rusage (os.wait4: this child only)."""
    out_path = DATA_DIR / ".child.stdout"
    err_path = DATA_DIR / ".child.stderr"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildResult(
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,  # Linux: KiB
        returncode=proc.returncode,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )


def manage(
    *args: str, env: dict[str, str], check: bool = True, skip_checks: bool = True
) -> ChildResult:
    """``manage.py ARGS [--skip-checks]``: system checks (which import every URLconf) are not
    what is measured, and must not stop a benchmark of code they do not concern."""
    argv = [sys.executable, str(MANAGE), *args] + (["--skip-checks"] if skip_checks else [])
    res = run_child(argv, env=env)
    if check and res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        sys.exit(f"manage.py {' '.join(args)} failed with exit code {res.returncode}")
    return res


def migrate(url: str) -> None:
    manage("migrate", "--no-input", "-v", "0", env=child_env(url))


# --- demo data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    facilities: int
    per_facility: int

    @classmethod
    def parse(cls, text: str) -> Size:
        try:
            f, m = text.lower().split("x")
            size = cls(int(f), int(m))
        except ValueError:
            raise ValueError(f"size must look like 500x200, got {text!r}") from None
        if size.facilities <= 0 or size.per_facility <= 0:
            raise ValueError(f"size must be positive, got {text!r}")
        return size

    def __str__(self) -> str:
        return f"{self.facilities}x{self.per_facility}"

    @property
    def equipment(self) -> int:
        return self.facilities * self.per_facility


def generator_fingerprint() -> str:
    h = hashlib.sha256()
    for path in GENERATOR_SOURCES:
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()[:10]


def wait_for_generator(timeout_s: float = 1200) -> None:
    cmd = GENERATOR_COMMAND
    deadline = time.monotonic() + timeout_s
    while not cmd.exists():
        if time.monotonic() > deadline:
            sys.exit(f"{cmd.relative_to(ROOT)} does not exist: no demo data generator")
        log(f"waiting for {cmd.relative_to(ROOT)} to exist …")
        time.sleep(30)


def demo_file(size: Size, *, seed: int, as_of: str, url: str, fmt: str = "json") -> Path:
    """The cached export file for this size, seed and generator version (generated once)."""
    wait_for_generator()
    path = DATA_DIR / (
        f"portfolio-{size}-seed{seed}-{as_of}-{generator_fingerprint()}.{fmt}"
    )
    if path.exists():
        return path
    log(f"generating {path.name} …")
    res = manage(
        "generate_demo_portfolio",
        "--facilities", str(size.facilities),
        "--equipment-per-facility", str(size.per_facility),
        "--seed", str(seed),
        "--as-of", as_of,
        "--format", fmt,
        "--out", str(path),
        env=child_env(url),
        skip_checks=False,  # the generator runs none
    )  # fmt: skip
    log(f"generated in {res.wall_s:.1f} s: {res.stdout.strip().splitlines()[0]}")
    return path


# --- reporting ------------------------------------------------------------------------------


def machine_summary(url: str) -> dict[str, str]:
    try:
        mem_kb = int(
            next(line for line in Path("/proc/meminfo").read_text().splitlines()
                 if line.startswith("MemTotal")).split()[1]
        )  # fmt: skip
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        mem = "?"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        commit = commit + ("+uncommitted changes" if dirty else "")
    except OSError:
        commit = "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "commit": commit or "?",
        "cpus": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "postgresql": server_version(url),
        "platform": platform.platform(terse=True),
    }


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(headers) + " |",
           "|" + "|".join(["---"] + ["--:"] * (len(headers) - 1)) + "|"]  # fmt: skip
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# --- Reports: the parts every section's report shares ---------------------------------------


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_checks(checks) -> None:
    """Each target as ``PASS/FAIL  text: value`` on the terminal."""
    for text, ok, value in checks:
        print(f"  {mark(ok)}  {text}: {value}")


def checks_table(checks) -> list[str]:
    """The targets as a Markdown table (lines)."""
    return [
        "| target | result | value |",
        "|---|---|--:|",
        *(f"| {text} | {mark(ok)} | {value} |" for text, ok, value in checks),
    ]


def results_head(section: str, title: str, url: str, *, unit: str, shared: str = "") -> list[str]:
    """The first lines of ``benchmarks/results/<section>.md``: title, how to read it, date,
    commit and machine (``shared``: what else ran on it)."""
    m = machine_summary(url)
    return [
        f"# {title} benchmark results",
        "",
        f"Written by `benchmarks/run {section}`; see `benchmarks/README.md` for what each "
        f"figure means. Compare ratios within one run: absolute {unit} depend on the machine.",
        "",
        f"- date: {m['date']}; commit: {m['commit']}",
        f"- machine: {m['cpus']} CPUs, {m['memory']} RAM, {m['platform']}; "
        f"Python {m['python']}; PostgreSQL {m['postgresql']}{shared}",
    ]


def ratio(value: float) -> str:
    """A ratio as the reports write it: ``5.73×``."""
    return f"{value:.2f}×"


@dataclass
class Part:
    """One measurement of a section made of several (``scale``): its heading, what it did,
    its table and its targets."""

    title: str
    lines: list[str]
    headers: list[str]
    rows: list[list[str]]
    checks: list[tuple[str, bool, str]] = field(default_factory=list)


def write_parts(section: str, title: str, url: str, parts: list[Part], *, unit: str) -> bool:
    """``benchmarks/results/<section>.md``: the shared head, then each part under its own
    heading with its table and targets. Prints the targets; True when every one passed."""
    lines = results_head(section, title, url, unit=unit)
    for part in parts:
        print(part.title)
        print_checks(part.checks)
        lines += ["", f"## {part.title}", "", *part.lines, "", md_table(part.headers, part.rows)]
        if part.checks:
            lines += ["", *checks_table(part.checks)]
    lines.append("")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{section}.md"
    path.write_text("\n".join(lines))
    log(f"wrote {path.relative_to(ROOT)}")
    return all(ok for part in parts for _, ok, _ in part.checks)
