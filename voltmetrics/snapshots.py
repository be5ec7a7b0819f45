"""Monthly snapshots (risk-model.md §8): the facility and portfolio rows of ended months — the
monthly task's, and back-filled ones where a history month has none — and the portfolio's
trend point, aggregated from facility figures (§7 trend rules)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from facilities.models import Facility
from masterbus.heartbeats import beat

from . import engine
from .current import model_current, utc_today
from .engine import ModelParams
from .inputs import facility_records
from .models import FacilitySnapshot, PortfolioSnapshot


@dataclass
class SnapshotStats:
    months: list[date] = field(default_factory=list)
    facility_snapshots: int = 0
    portfolio_snapshots: int = 0


SNAPSHOT_UPDATE_FIELDS = [
    "risk_score", "equipment_count", "equipment_age", "age_days_sum", "age_known",
    "algorithm_version", "backfilled", "computed_at",
]  # fmt: skip


def previous_month_end(today: date | None = None) -> date:
    """The last day of the month before ``today``'s (default: the UTC today)."""
    return (today or utc_today()).replace(day=1) - timedelta(days=1)


def snapshots_fill(
    *,
    months: Iterable[date],
    model: ModelParams | None = None,
    overwrite: bool = False,
) -> SnapshotStats:
    """Store facility and portfolio snapshots for month ends, computed by the engine at each
    month's last day from the records known now.

    ``overwrite=False`` (back-fill): only missing rows are written, flagged ``backfilled``.
    ``overwrite=True`` (the monthly snapshot): every active facility's row and the portfolio
    row for the month are (re)written with ``backfilled=False``. The portfolio point is
    aggregated from the facility snapshots of the month (§7 trend rules).
    """
    months = sorted({engine.month_end(m) for m in months})
    stats = SnapshotStats(months=months)
    if not months:
        return stats
    model = model or model_current()
    now = timezone.now()
    active = list(
        Facility.objects.filter(deleted_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    if overwrite:
        need = {pk: months for pk in active}
    else:
        have = set(
            FacilitySnapshot.objects.filter(month__in=months, facility_id__in=active).values_list(
                "facility_id", "month"
            )
        )
        need = {pk: [m for m in months if (pk, m) not in have] for pk in active}
        need = {pk: ms for pk, ms in need.items() if ms}
    for batch in facility_records(facility_pks=list(need)):
        rows = []
        for rec in batch:
            for m in need[rec.pk]:
                score, n, days, known = engine.facility_stats(rec.facility, model, m)
                rows.append(
                    FacilitySnapshot(
                        facility_id=rec.pk, month=m, risk_score=score if n else None,
                        equipment_count=n, equipment_age=engine.mean_age_years(days, known),
                        age_days_sum=days, age_known=known, algorithm_version=model.version,
                        backfilled=not overwrite, computed_at=now,
                    )
                )  # fmt: skip
        if overwrite:
            FacilitySnapshot.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["facility", "month"],
                update_fields=SNAPSHOT_UPDATE_FIELDS,
            )
        else:
            FacilitySnapshot.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        stats.facility_snapshots += len(rows)
    for m in months:
        point = portfolio_point_from_facilities(m)
        defaults = {
            **point,
            "algorithm_version": model.version,
            "backfilled": not overwrite,
            "computed_at": now,
        }
        if overwrite:
            PortfolioSnapshot.objects.update_or_create(month=m, defaults=defaults)
            stats.portfolio_snapshots += 1
        else:
            _, created = PortfolioSnapshot.objects.get_or_create(month=m, defaults=defaults)
            stats.portfolio_snapshots += int(created)
    return stats


def snapshot_month_write(*, month: date | None = None) -> SnapshotStats:
    """The monthly snapshot (beat, on the 1st): every active facility and the portfolio at
    the last day of ``month`` (default: the month that just ended). Replaces back-filled
    rows of that month."""
    month = engine.month_end(month) if month else previous_month_end()
    if month >= utc_today():
        raise ValueError(f"{month:%b %Y} has not ended yet; snapshots are of ended months")
    stats = snapshots_fill(months=[month], overwrite=True)
    beat("recompute.snapshot")
    return stats


def snapshots_backfill(*, months: int = 6, as_of: date | None = None) -> SnapshotStats:
    """Fill missing snapshots of the ``months − 1`` month ends before ``as_of``'s month (the
    history window of risk-model.md §8 without its live current month)."""
    as_of = as_of or utc_today()
    return snapshots_fill(months=engine.history_points(as_of, months)[:-1])


def trend_point(scores, count, days, known) -> dict:
    """One point of the portfolio trend from its facilities' scores, equipment and ages."""
    return {
        "risk_score": engine.round_half_up_ratio(sum(scores), len(scores)) if scores else None,
        "equipment_count": count,
        "equipment_age": engine.mean_age_years(days, known),
    }


def portfolio_point_from_facilities(month: date) -> dict:
    """The portfolio's trend point of ``month`` from the active facilities' snapshots."""
    snaps = list(
        FacilitySnapshot.objects.filter(month=month, facility__deleted_at__isnull=True).values_list(
            "risk_score", "equipment_count", "age_days_sum", "age_known"
        )
    )
    return trend_point(
        [s for s, n, _, _ in snaps if n > 0 and s is not None],
        sum(n for _, n, _, _ in snaps),
        sum(d for _, _, d, _ in snaps),
        sum(k for _, _, _, k in snaps),
    )
