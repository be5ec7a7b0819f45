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

import json
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

PULLS_PER_DAY = 96
CHANGED_SHARE = 0.005
PUSHED_EVENTS_PER_DAY = 100
TOKENS_PER_DAY = 20
ORPHAN_FILES_PER_DAY = 3
REFERENCED_FILES = 20
MONTH_DAYS = 30  # a simulated month
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


# --- one simulated day ----------------------------------------------------------------------


def _exec(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)


def _day(d: int, start: datetime, ids: list[str], rng: random.Random, media: Path) -> None:
    from django.db import transaction

    day = start + timedelta(days=d)
    changed = rng.sample(ids, max(1, round(len(ids) * CHANGED_SHARE)))
    pushed = rng.sample(ids, min(len(ids), PUSHED_EVENTS_PER_DAY))
    with transaction.atomic():
        _sync_runs(d, day)
        _changes(day, changed, pushed)
        _processed_events(d, day, pushed)
        _jobs(d, day, changed)
        _tokens(d, day)
        if d % MONTH_DAYS == 0 and d:
            _snapshots(day)
    _orphan_files(d, day, media)


def _sync_runs(d: int, day: datetime) -> None:
    _exec(
        """
        INSERT INTO facilities_syncrun (source, label, started_at, finished_at, status, created,
            updated, unchanged, rejected, deleted, warnings, error)
        SELECT 'pull', 'facilities, equipment, maintenance records',
               %(day)s + i * interval '15 minutes', %(day)s + i * interval '15 minutes' + interval '20 seconds',
               CASE WHEN i = 0 THEN 'partial' ELSE 'succeeded' END,
               0, %(per_pull)s, 0, CASE WHEN i = 0 THEN 2 ELSE 0 END, 0, '[]', ''
        FROM generate_series(0, %(last)s) AS i
        """,
        {"day": day, "per_pull": 5, "last": PULLS_PER_DAY - 1},
    )
    _exec(
        """
        INSERT INTO facilities_syncrun (source, label, started_at, finished_at, status, created,
            updated, unchanged, rejected, deleted, warnings, error)
        VALUES ('push', %(label)s, %(day)s, %(day)s + interval '1 day', 'succeeded', 0,
                %(n)s, 0, 0, 0, '[]', '')
        """,
        {"label": f"events {day:%Y-%m-%d}", "day": day, "n": PUSHED_EVENTS_PER_DAY},
    )
    # The day's first pull rejected 2 records, re-run the next day — except once a month,
    # when one stays open (its run is then kept for good).
    open_one = d % MONTH_DAYS == 15
    _exec(
        """
        INSERT INTO facilities_rejectedrecord (sync_run_id, kind, record_id, line, field,
            reason, raw, raw_truncated, rerun_at, rerun_outcome)
        SELECT r.id, 'equipment', 'eq_rejected_' || r.id || '_' || i, NULL, 'facilityId',
               'unknown facility', '{"id": "x"}', false,
               CASE WHEN %(open)s AND i = 1 THEN NULL ELSE %(day)s + interval '1 day' END,
               CASE WHEN %(open)s AND i = 1 THEN '' ELSE 'created (sync run #0)' END
        FROM facilities_syncrun r, generate_series(1, 2) AS i
        WHERE r.source = 'pull' AND r.started_at = %(day)s
        """,
        {"day": day, "open": open_one},
    )


def _changes(day: datetime, changed: list[str], pushed: list[str]) -> None:
    # Pulled changes spread over the day's pulls; handled a minute later by both consumers.
    _exec(
        """
        INSERT INTO facilities_recordchange (kind, external_id, facility_external_id, source,
            created_at, recomputed_at, pushed_at)
        SELECT 'equipment', ext, '', src,
               %(day)s + (n %% %(pulls)s) * interval '15 minutes',
               %(day)s + (n %% %(pulls)s) * interval '15 minutes' + interval '1 minute',
               %(day)s + (n %% %(pulls)s) * interval '15 minutes' + interval '1 minute'
        FROM (SELECT ext, n, 'pull' AS src FROM unnest(%(changed)s::text[]) WITH ORDINALITY AS t(ext, n)
              UNION ALL
              SELECT ext, n, 'push' FROM unnest(%(pushed)s::text[]) WITH ORDINALITY AS t(ext, n)) AS c
        """,
        {"day": day, "pulls": PULLS_PER_DAY, "changed": changed, "pushed": pushed},
    )


def _processed_events(d: int, day: datetime, pushed: list[str]) -> None:
    _exec(
        """
        INSERT INTO facilities_processedevent (event_id, event_type, occurred_at, received_at,
            outcome)
        SELECT 'evt_' || md5(%(d)s || '_' || n), 'equipment.updated',
               %(day)s + n * interval '10 minutes', %(day)s + n * interval '10 minutes', 'applied'
        FROM unnest(%(pushed)s::text[]) WITH ORDINALITY AS t(ext, n)
        """,
        {"d": d, "day": day, "pushed": pushed},
    )


def _jobs(d: int, day: datetime, changed: list[str]) -> None:
    # One job per pull (each pull changed something), a callback each; every 50th failed;
    # once a month one left processing (awaiting its retry).
    _exec(
        """
        INSERT INTO voltmetrics_job (job_id, kind, items, status, submitted_at, completed_at,
            results_fetched_at, attempts, last_error, failed_items, retries, next_retry_at)
        SELECT 'job_' || md5(%(d)s || '_' || i), 'equipment', %(items)s::jsonb,
               CASE WHEN %(stuck)s AND i = 0 THEN 'processing'
                    WHEN i %% 50 = 7 THEN 'failed' ELSE 'completed' END,
               %(day)s + i * interval '15 minutes' + interval '1 minute',
               CASE WHEN %(stuck)s AND i = 0 THEN NULL
                    ELSE %(day)s + i * interval '15 minutes' + interval '6 minutes' END,
               CASE WHEN %(stuck)s AND i = 0 THEN NULL
                    ELSE %(day)s + i * interval '15 minutes' + interval '6 minutes' END,
               1, '', '{}', 0,
               CASE WHEN %(stuck)s AND i = 0 THEN %(day)s + interval '400 days' ELSE NULL END
        FROM generate_series(0, %(last)s) AS i
        """,
        {"d": d, "day": day, "last": PULLS_PER_DAY - 1, "stuck": d % MONTH_DAYS == 20,
         "items": json.dumps(changed[:5])},
    )  # fmt: skip
    _exec(
        """
        INSERT INTO voltmetrics_webhookevent (event_id, event_type, job_id, payload, received_at)
        SELECT 'cb_' || md5(%(d)s || '_' || i), 'calculation_complete',
               'job_' || md5(%(d)s || '_' || i),
               '{}', %(day)s + i * interval '15 minutes' + interval '6 minutes'
        FROM generate_series(0, %(last)s) AS i
        """,
        {"d": d, "day": day, "last": PULLS_PER_DAY - 1},
    )


def _tokens(d: int, day: datetime) -> None:
    _exec(
        """
        INSERT INTO token_blacklist_outstandingtoken (user_id, jti, token, created_at, expires_at)
        SELECT NULL, md5('jti_' || %(d)s || '_' || i), 'token', %(day)s + i * interval '1 hour',
               %(day)s + i * interval '1 hour' + interval '7 days'
        FROM generate_series(0, %(last)s) AS i
        """,
        {"d": d, "day": day, "last": TOKENS_PER_DAY - 1},
    )
    _exec(
        """
        INSERT INTO token_blacklist_blacklistedtoken (token_id, blacklisted_at)
        SELECT id, created_at + interval '1 day' FROM token_blacklist_outstandingtoken
        WHERE created_at >= %(day)s AND created_at < %(day)s + interval '1 day'
          AND extract(hour FROM created_at - %(day)s)::int %% 2 = 0
        """,
        {"day": day},
    )


def _snapshots(day: datetime) -> None:
    month_end = (day - timedelta(days=1)).date()
    _exec(
        """
        INSERT INTO voltmetrics_facilitysnapshot (facility_id, month, risk_score,
            equipment_count, equipment_age, age_days_sum, age_known, algorithm_version,
            backfilled, computed_at)
        SELECT id, %(month)s, 40, 200, 12.5, 0, 0, '1.0', false, %(day)s
        FROM facilities_facility
        ON CONFLICT DO NOTHING
        """,
        {"month": month_end, "day": day},
    )
    _exec(
        """
        INSERT INTO voltmetrics_portfoliosnapshot (month, risk_score, equipment_count,
            equipment_age, algorithm_version, backfilled, computed_at)
        VALUES (%(month)s, 40, 100000, 12.5, '1.0', false, %(day)s)
        ON CONFLICT DO NOTHING
        """,
        {"month": month_end, "day": day},
    )


def _orphan_files(d: int, day: datetime, media: Path) -> None:
    import os

    folder = media / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(ORPHAN_FILES_PER_DAY):
        path = folder / f"orphan_{d}_{i}.jpg"
        path.write_bytes(b"\xff\xd8 orphan")
        stamp = (day + timedelta(hours=8 * i)).timestamp()
        os.utime(path, (stamp, stamp))


def _referenced_files(start: datetime, media: Path) -> None:
    """A few fetched photos: their files are old but named by their rows, so they stay."""
    import os

    from equipment.models import Photo

    photos = list(Photo.objects.order_by("pk")[:REFERENCED_FILES])
    for photo in photos:
        name = f"photos/kept_{photo.pk}.jpg"
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(b"\xff\xd8 kept")
        stamp = (start - timedelta(days=30)).timestamp()
        os.utime(media / name, (stamp, stamp))
        Photo.objects.filter(pk=photo.pk).update(image=name)


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
        _referenced_files(start, media)
        for d in range(months * MONTH_DAYS):
            _day(d, start, ids, rng, media)
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
