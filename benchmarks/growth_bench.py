"""Growth benchmark: a year of operation in compressed time, pruned every night
(operations.md §3).

The ``--size`` portfolio (default 500×200: 100,000 equipment) is imported once (untimed).
Then each simulated day writes what a day of operation adds to the tables that grow with
time — directly, in SQL, with the day's timestamps (running a year of real pulls and
recomputes would take days):

- 96 pull sync runs (every 15 minutes), the first with 2 rejected records that are re-run
  the next day, and once a month one rejection nobody re-runs (its run is kept for good);
  one push sync run gathering the day's pushed events;
- 0.5% of the equipment changed (pulled), plus the pushed events' changes, as record changes
  the recompute and the VoltMetrics drain handled within minutes; the pushed events' ids as
  processed events;
- one VoltMetrics job per pull that changed something (completed 5 minutes later, a few
  failed) and its callback event; one job left processing each month;
- refresh tokens (logins and rotations; a rotated one blacklisted), expiring after 7 days;
- orphan photo files (a replaced image whose delete failed), next to a set of referenced ones;
- on the first of each month, the monthly snapshots (every facility and the portfolio: kept
  forever, so they grow by design).

Each simulated night the real prune service runs (``masterbus.retention.prune(now=…)``,
VoltMetrics configured), then ``VACUUM ANALYZE`` of the pruned tables, as autovacuum would
(the benchmark server may run with autovacuum off; the report says). At the end of months 1,
6 and 12 every table's row count and size (``pg_total_relation_size``) is recorded.

Target: every pruned table flat once its retention window is full — at month 12 within 10%
of month 6 in rows (plus 50 rows of slack for small tables) and within 25% in size (plus
64 kB); the tables kept forever are reported, not judged.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import (
    RESULTS_DIR,
    ROOT,
    Size,
    checks_table,
    log,
    mark,
    md_table,
    print_checks,
    results_head,
    text_table,
)
from growth_day import (
    CHANGED_SHARE,
    MONTH_DAYS,
    ORPHAN_FILES_PER_DAY,
    PULLS_PER_DAY,
    PUSHED_EVENTS_PER_DAY,
    TOKENS_PER_DAY,
    write_day,
    write_referenced_files,
)

ROWS_SLACK, ROWS_FLAT = 50, 1.10
SIZE_SLACK, SIZE_FLAT = 64 * 1024, 1.25

# (table, what it holds, kept forever?)
TABLES = (
    ("facilities_syncrun", "sync runs", False),
    ("facilities_rejectedrecord", "rejected records", False),
    ("facilities_processedevent", "processed Condoit event ids", False),
    ("facilities_recordchange", "record changes (outbox)", False),
    ("voltmetrics_job", "VoltMetrics jobs", False),
    ("voltmetrics_webhookevent", "VoltMetrics callback events", False),
    ("token_blacklist_outstandingtoken", "refresh tokens", False),
    ("token_blacklist_blacklistedtoken", "blacklisted refresh tokens", False),
    ("voltmetrics_facilitysnapshot", "monthly facility snapshots", True),
    ("voltmetrics_portfoliosnapshot", "monthly portfolio snapshots", True),
)
FILES = "photo files (orphans + referenced)"


@dataclass
class Checkpoint:
    month: int
    rows: dict[str, int]
    bytes: dict[str, int]
    files: int
    deleted: dict[str, int]  # deleted during the month
    detail: dict[
        str, tuple[int, int, int, int]
    ]  # heap, indexes, free index pages (bytes); dead rows

    def in_use(self, table: str) -> int:
        """The table's size less its index pages deleted by VACUUM and not reused yet."""
        return self.bytes[table] - self.detail[table][2]


# --- measuring ------------------------------------------------------------------------------


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        for table, _, forever in TABLES:
            if not forever:
                cur.execute(f'VACUUM (ANALYZE, INDEX_CLEANUP ON) "{table}"')


def _free_index_bytes(cur, table: str) -> int:
    """Bytes of the table's index pages that VACUUM deleted (empty) and that are not reused
    yet (pgstattuple's ``pgstatindex``; 0 without the extension). A deleted B-tree page is
    reused only once no transaction of the *whole server* is older than its deletion: in
    real time that is the next night, in this compressed time any other session's longer
    transaction holds them back."""
    try:
        cur.execute(
            "SELECT coalesce(sum((pgstatindex(indexrelid::regclass)).deleted_pages), 0) "
            "FROM pg_index WHERE indrelid = %s::regclass",
            [table],
        )
    except Exception:
        return 0
    return int(cur.fetchone()[0]) * 8192


def _pgstattuple() -> bool:
    from django.db import connection

    try:
        with connection.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
    except Exception:
        return False
    return True


def _measure(media: Path) -> tuple[dict[str, int], dict[str, int], int]:
    from django.db import connection

    rows, sizes, detail = {}, {}, {}
    with connection.cursor() as cur:
        for table, _, _ in TABLES:
            cur.execute(f'SELECT count(*), pg_total_relation_size(%s) FROM "{table}"', [table])
            rows[table], sizes[table] = cur.fetchone()
            cur.execute(
                "SELECT pg_relation_size(relid), pg_indexes_size(relid), n_dead_tup "
                "FROM pg_stat_user_tables WHERE relname = %s",
                [table],
            )
            heap, index, dead = cur.fetchone()
            detail[table] = (heap, index, _free_index_bytes(cur, table), dead)
    files = sum(1 for p in (media / "photos").rglob("*") if p.is_file())
    return rows, sizes, files, detail


def checkpoint_months(months: int) -> list[int]:
    """Months 1, 6 and 12 for a year; first, middle and last for a shorter run."""
    return sorted({1, max(1, months // 2), months})


def simulate(months: int, *, seed: int) -> tuple[list[Checkpoint], dict, float]:
    from django.db import connection
    from django.test import override_settings

    from equipment.models import Equipment
    from masterbus.retention import prune

    # One line per table per night is what the prune logs; 360 nights of it would bury the report.
    logging.getLogger("masterbus.retention").setLevel(logging.WARNING)
    rng = random.Random(seed)
    ids = list(Equipment.objects.values_list("external_id", flat=True))
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with connection.cursor() as cur:  # the import's outbox: handled by day 0's night
        cur.execute("UPDATE facilities_recordchange SET recomputed_at = created_at, "
                    "pushed_at = created_at")  # fmt: skip
    checkpoints: list[Checkpoint] = []
    deleted: dict[str, int] = {}
    prune_s = 0.0
    with (
        tempfile.TemporaryDirectory(prefix="growth-media-") as tmp,
        override_settings(
            MEDIA_ROOT=tmp, VOLTMETRICS_URL="http://voltmetrics.invalid", PRUNE_BATCH_SIZE=5000
        ),
    ):
        media = Path(tmp)
        if not _pgstattuple():
            log("pgstattuple not available: free index pages are not measured")
        write_referenced_files(start, media)
        for d in range(months * MONTH_DAYS):
            write_day(d, start, ids, rng, media)
            night = start + timedelta(days=d + 1, hours=3, minutes=45)
            t0 = time.perf_counter()
            result = prune(now=night)
            prune_s += time.perf_counter() - t0
            for label, n in result.counts.items():
                deleted[label] = deleted.get(label, 0) + n
            _vacuum()
            month = (d + 1) // MONTH_DAYS
            if (d + 1) % MONTH_DAYS == 0 and month in checkpoint_months(months):
                rows, sizes, files, detail = _measure(media)
                checkpoints.append(Checkpoint(month, rows, sizes, files, dict(deleted), detail))
                log(f"month {month}: " + ", ".join(f"{t} {rows[t]:,}" for t, _, _ in TABLES)
                    + f", {files} photo files")  # fmt: skip
            if (d + 1) % MONTH_DAYS == 0:
                deleted = {}
    return checkpoints, {"equipment": len(ids), "start": start.date()}, prune_s


# --- the report -----------------------------------------------------------------------------


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} kB" if n < 10 * 1024 * 1024 else f"{n / 1024 / 1024:,.1f} MB"


def flat_marks(cps: list[Checkpoint]) -> dict[str, tuple[bool, str]]:
    """Per pruned table (and the photo files): flat at the last checkpoint against the
    middle one, and the figures compared."""
    mid, last = cps[-2] if len(cps) > 1 else cps[0], cps[-1]
    marks = {}
    for table, _, forever in TABLES:
        if forever:
            continue
        r6, r12 = mid.rows[table], last.rows[table]
        s6, s12 = mid.in_use(table), last.in_use(table)
        ok = r12 <= r6 * ROWS_FLAT + ROWS_SLACK and s12 <= s6 * SIZE_FLAT + SIZE_SLACK
        marks[table] = (
            ok,
            f"{r6:,} → {r12:,} rows, {_kb(s6)} → {_kb(s12)} in use "
            f"({_kb(mid.bytes[table])} → {_kb(last.bytes[table])} in all)",
        )
    ok = last.files <= mid.files * ROWS_FLAT + ROWS_SLACK
    marks[FILES] = (ok, f"{mid.files} → {last.files} files")
    return marks


def verdicts(cps: list[Checkpoint]) -> list[tuple[str, bool, str]]:
    mid, last = cps[-2] if len(cps) > 1 else cps[0], cps[-1]
    what = {table: w for table, w, _ in TABLES} | {FILES: FILES}
    return [
        (f"{what[key]} flat (month {last.month} vs {mid.month})", ok, value)
        for key, (ok, value) in flat_marks(cps).items()
    ]


def table_rows(cps: list[Checkpoint]) -> tuple[list[str], list[list[str]]]:
    headers = ["table", "kept"]
    for cp in cps:
        headers += [f"rows m{cp.month}", f"size m{cp.month}"]
    headers.append("flat")
    marks = flat_marks(cps)
    rows = []
    for table, what, forever in TABLES:
        row = [f"{what} (`{table}`)", "forever" if forever else "pruned"]
        for cp in cps:
            row += [f"{cp.rows[table]:,}", _kb(cp.bytes[table])]
        row.append("—" if forever else mark(marks[table][0]))
        rows.append(row)
    row = [FILES, "pruned"]
    for cp in cps:
        row += [f"{cp.files:,}", "—"]
    row.append(mark(marks[FILES][0]))
    rows.append(row)
    return headers, rows


def deleted_rows(cps: list[Checkpoint]) -> tuple[list[str], list[list[str]]]:
    labels = sorted({label for cp in cps for label in cp.deleted})
    headers = ["pruned during month", *(f"m{cp.month}" for cp in cps)]
    return headers, [[label, *(f"{cp.deleted.get(label, 0):,}" for cp in cps)] for label in labels]


def detail_rows(cps: list[Checkpoint]) -> tuple[list[str], list[list[str]]]:
    headers = ["table", *(f"m{cp.month}: heap / indexes (free) / dead" for cp in cps)]
    rows = []
    for table, _, _ in TABLES:
        cells = []
        for cp in cps:
            heap, index, free, dead = cp.detail[table]
            cells.append(f"{_kb(heap)} / {_kb(index)} ({_kb(free)}) / {dead:,}")
        rows.append([f"`{table}`", *cells])
    return headers, rows


def report(cps, info, prune_s, wall_s, url, size: Size, seed: int, as_of: str) -> str:
    checks = verdicts(cps)
    print()
    print(f"Growth benchmark (PostgreSQL, {size}: {info['equipment']:,} equipment, "
          f"{len(cps) and cps[-1].month} simulated months)")  # fmt: skip
    print(text_table(*table_rows(cps)))
    print()
    print_checks(checks)
    print()
    print(text_table(*deleted_rows(cps)))
    print()
    print(text_table(*detail_rows(cps)))
    nights = cps[-1].month * MONTH_DAYS
    lines = [
        *results_head("growth", "Growth", url, unit="sizes and seconds"),
        f"- data: `generate_demo_portfolio --seed {seed} --as-of {as_of}`, {size}: "
        f"{info['equipment']:,} equipment, imported once; simulated from {info['start']} "
        f"for {nights} days (months of {MONTH_DAYS} days)",
        f"- every day: {PULLS_PER_DAY} pulls, {CHANGED_SHARE:.1%} of the equipment changed, "
        f"{PUSHED_EVENTS_PER_DAY} pushed events, a VoltMetrics job and callback per pull, "
        f"{TOKENS_PER_DAY} refresh tokens, {ORPHAN_FILES_PER_DAY} orphan photo files; monthly "
        "snapshots of every facility and the portfolio; VoltMetrics configured",
        f"- every night: `prune(now=…)` with the default settings, then `VACUUM ANALYZE` of the "
        f"pruned tables (autovacuum's job); {nights} prunes took {prune_s:.0f} s in all "
        f"({prune_s / nights * 1000:.0f} ms a night); the whole simulation {wall_s:.0f} s",
        "- flat: at the last month within 10% (+50 rows) of the middle one in rows and 25% "
        "(+64 kB) in size in use (`pg_total_relation_size` less the index pages VACUUM freed "
        "and not reused yet: see the last table); month 1 is before the 90-day sync-run "
        "window is full",
        "",
        md_table(*table_rows(cps)),
        "",
        *checks_table(checks),
        "",
        "## What each night pruned (summed over the month)",
        "",
        md_table(*deleted_rows(cps)),
        "",
        "## Where the bytes are",
        "",
        "Each table's heap and indexes (`pg_relation_size`, `pg_indexes_size`), of the "
        "indexes the pages VACUUM deleted and not reused yet (free; `pgstatindex`), and the "
        "dead rows the statistics count after the night's vacuum. A deleted index page is "
        "reused once no transaction on the whole server is older than its deletion: in real "
        "time, the next night; in this compressed time (a simulated night is a fraction of a "
        "second) any other session's longer transaction holds them back, so the flat target "
        "compares the size in use (the size less those free pages).",
        "",
        md_table(*detail_rows(cps)),
        "",
    ]
    return "\n".join(lines)


def run(url: str, *, size: Size, seed: int, as_of: str, months: int = 12) -> bool:
    import django

    django.setup()
    import recompute_bench

    recompute_bench.ensure_portfolio(url, size, seed=seed, as_of=as_of)
    log(f"simulating {months} months of operation, pruned every night …")
    started = time.perf_counter()
    cps, info, prune_s = simulate(months, seed=seed)
    wall = time.perf_counter() - started
    log(f"simulated in {wall:.0f} s (prunes {prune_s:.0f} s)")
    text = report(cps, info, prune_s, wall, url, size, seed, as_of)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "growth.md").write_text(text)
    log(f"wrote {(RESULTS_DIR / 'growth.md').relative_to(ROOT)}")
    return all(ok for _, ok, _ in verdicts(cps))
