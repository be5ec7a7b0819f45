"""Re-running rejected records (after staff fixed a mapping or a parent arrived).

Each rejected record still whole is put through the Ingestor again as one sync run of its
own, and the rejection is marked with what became of it.
"""

from __future__ import annotations

import orjson
from django.utils import timezone

from facilities.choices import SyncSource
from facilities.models import RejectedRecord, SyncRun

from .ingestor import Ingestor
from .schema import CLEANERS


def rerun_rejected(ids: list[int]) -> dict[str, int]:
    """Re-run rejected records (after staff fixed a mapping or a parent arrived)."""
    rejected = list(RejectedRecord.objects.filter(pk__in=ids, rerun_at__isnull=True))
    ing = Ingestor(
        source=SyncSource.RERUN,
        label=f"re-run of {len(rejected)} rejected record(s)",
        track_outcomes=True,
    )
    skipped = 0
    attempted: list[tuple[RejectedRecord, int]] = []
    for rec in rejected:
        if rec.raw_truncated or rec.kind not in CLEANERS:
            rec.rerun_outcome = "cannot re-run: raw record incomplete or kind unknown"
            skipped += 1
            continue
        try:
            raw = orjson.loads(rec.raw)
        except orjson.JSONDecodeError:
            rec.rerun_outcome = "cannot re-run: raw record is not JSON"
            skipped += 1
            continue
        attempted.append((rec, len(ing.outcomes)))
        ing.add(rec.kind, raw, line=rec.line)
        ing.flush()
    run = ing.finish()
    now = timezone.now()
    for rec, index in attempted:
        outcome = ing.outcomes[index] if index < len(ing.outcomes) else None
        rec.rerun_at = now
        if outcome is None:
            rec.rerun_outcome = "deferred"
        elif outcome.result == "rejected":
            rec.rerun_outcome = f"rejected again: {outcome.field} {outcome.reason}"[:500]
        else:
            rec.rerun_outcome = f"{outcome.result} (sync run #{run.pk})"
    RejectedRecord.objects.bulk_update(rejected, ["rerun_at", "rerun_outcome"])
    return {**run_counts(run), "skipped": skipped}


def run_counts(run: SyncRun) -> dict[str, int]:
    return {
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "rejected": run.rejected,
        "deleted": run.deleted,
    }
