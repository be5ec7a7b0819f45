"""What one simulated day of operation writes, for the growth benchmark (growth_bench.py):
the rows the tables that grow with time gain in a day, with that day's timestamps, written
directly in SQL (and a few photo files)."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta
from pathlib import Path

PULLS_PER_DAY = 96
CHANGED_SHARE = 0.005
PUSHED_EVENTS_PER_DAY = 100
TOKENS_PER_DAY = 20
ORPHAN_FILES_PER_DAY = 3
REFERENCED_FILES = 20
MONTH_DAYS = 30  # a simulated month


def _exec(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(sql, params)


def write_day(d: int, start: datetime, ids: list[str], rng: random.Random, media: Path) -> None:
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
    folder = media / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(ORPHAN_FILES_PER_DAY):
        path = folder / f"orphan_{d}_{i}.jpg"
        path.write_bytes(b"\xff\xd8 orphan")
        stamp = (day + timedelta(hours=8 * i)).timestamp()
        os.utime(path, (stamp, stamp))


def write_referenced_files(start: datetime, media: Path) -> None:
    """A few fetched photos: their files are old but named by their rows, so they stay."""
    from equipment.models import Photo

    photos = list(Photo.objects.order_by("pk")[:REFERENCED_FILES])
    for photo in photos:
        name = f"photos/kept_{photo.pk}.jpg"
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(b"\xff\xd8 kept")
        stamp = (start - timedelta(days=30)).timestamp()
        os.utime(media / name, (stamp, stamp))
        Photo.objects.filter(pk=photo.pk).update(image=name)
