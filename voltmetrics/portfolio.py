"""The portfolio assessment (risk-model.md §7): aggregated from the stored facility
assessments, with its trend from the monthly portfolio snapshots (back-filled where missing)
and a live point for ``as_of``."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from django.utils import timezone

from facilities.models import Facility
from masterbus.changes import announce, figures_changed

from . import engine
from .choices import Source
from .current import model_current, utc_today
from .engine import ModelParams
from .models import FacilityAssessment, FacilitySnapshot, PortfolioAssessment, PortfolioSnapshot
from .snapshots import portfolio_point_from_facilities, snapshots_fill, trend_point


def _facility_rows(facility_pks=None) -> list[SimpleNamespace]:
    """The stored local assessments of the active facilities (of ``facility_pks`` when given)
    as the engine's portfolio input: one query, only the columns and the three compliance
    figures (the payloads themselves are large)."""
    qs = FacilityAssessment.objects.filter(source=Source.LOCAL, facility__deleted_at__isnull=True)
    if facility_pks is not None:
        qs = qs.filter(facility_id__in=facility_pks)
    return [
        SimpleNamespace(
            facility_id=ext,
            facility_name=name,
            location=", ".join(p for p in (city, state) if p),
            equipment_count=n,
            risk_score=score,
            risk_level=level or None,
            critical_equipment_count=critical,
            high_risk_equipment_count=high,
            age_days_sum=days,
            age_known=known,
            compliance=SimpleNamespace(nfpa_70b=c70b, nfpa_70e=c70e, overall=overall),
        )
        for ext, name, city, state, n, score, level, critical, high, days, known, c70b, c70e,
        overall in qs.values_list(
            "facility__external_id", "facility__name", "facility__city", "facility__state",
            "equipment_count", "risk_score", "risk_level", "critical_equipment_count",
            "high_risk_equipment_count", "age_days_sum", "age_known",
            "payload__compliance__nfpa_70b", "payload__compliance__nfpa_70e",
            "payload__compliance__overall",
        )
    ]  # fmt: skip


def _aggregate(rows: list[SimpleNamespace], total_facilities: int) -> dict:
    # Facilities never assessed (no equipment ever) still count in total_facilities.
    payload = engine.assess_portfolio(rows).to_dict()
    payload["total_facilities"] = total_facilities
    where = {a.facility_id: a.location for a in rows}
    for item in payload["highest_risk_facilities"]:
        item["location"] = where.get(item["facility_id"], "")
    return payload


def _live_point(rows: list[SimpleNamespace], as_of: date) -> dict:
    live = [a for a in rows if a.equipment_count > 0 and a.risk_score is not None]
    point = trend_point(
        [a.risk_score for a in live],
        sum(a.equipment_count for a in rows),
        sum(a.age_days_sum for a in rows),
        sum(a.age_known for a in rows),
    )
    return {"month": engine.month_label(as_of), **point}


def portfolio_recompute(*, as_of: date | None = None, model: ModelParams | None = None):
    """Portfolio figures (§7) from the stored facility assessments; trend from snapshots."""
    as_of = as_of or utc_today()
    model = model or model_current()
    rows = _facility_rows()
    payload = _aggregate(rows, Facility.objects.filter(deleted_at__isnull=True).count())
    payload["risk_trends"] = _portfolio_trend(rows, as_of, model)
    obj, _ = PortfolioAssessment.objects.update_or_create(
        source=Source.LOCAL,
        defaults={
            "algorithm_version": model.version,
            "as_of": as_of,
            "payload": payload,
            "computed_at": timezone.now(),
        },
    )
    announce(figures_changed, facility_ids=(), portfolio=True)
    return obj


def _portfolio_trend(rows: list[SimpleNamespace], as_of: date, model: ModelParams):
    months = engine.history_points(as_of)[:-1]
    stored = {
        s.month: s for s in PortfolioSnapshot.objects.filter(month__in=months, backfilled=False)
    }
    backfill = [d for d in months if d not in stored]
    if backfill:
        # Every active facility needs its snapshot of the month first: the portfolio point
        # aggregates all of them, not just the ones just recomputed.
        snapshots_fill(months=backfill, model=model)
        now = timezone.now()
        for d in backfill:
            stored[d], _ = PortfolioSnapshot.objects.update_or_create(
                month=d,
                defaults={
                    **portfolio_point_from_facilities(d),
                    "algorithm_version": model.version,
                    "backfilled": True,
                    "computed_at": now,
                },
            )
    out = []
    for d in months:
        snap = stored[d]
        out.append(
            {
                "month": engine.month_label(d),
                "risk_score": snap.risk_score,
                "equipment_count": snap.equipment_count,
                "equipment_age": snap.equipment_age,
            }
        )
    out.append(_live_point(rows, as_of))
    return out


def portfolio_figures_of(facility_pks, *, as_of: date | None = None) -> dict:
    """The portfolio figures (§7) over some facilities only (a bound consumer's, consumers.md
    §1), in the payload shape of the stored portfolio assessment: aggregated by the engine
    from the facilities' stored assessments, with the trend's months from their stored
    monthly snapshots and the live point for ``as_of`` (default: today). Nothing is stored.

    ``facility_pks`` is a collection of facility pks or a queryset of them. Three queries,
    whatever their number."""
    as_of = as_of or utc_today()
    rows = _facility_rows(facility_pks)
    total = Facility.objects.filter(pk__in=facility_pks, deleted_at__isnull=True).count()
    payload = _aggregate(rows, total)
    months = engine.history_points(as_of)[:-1]
    per_month: dict[date, list] = {m: [] for m in months}
    for month, score, n, days, known in FacilitySnapshot.objects.filter(
        month__in=months, facility_id__in=facility_pks, facility__deleted_at__isnull=True
    ).values_list("month", "risk_score", "equipment_count", "age_days_sum", "age_known"):
        per_month[month].append((score, n, days, known))
    trend = []
    for m in months:
        snaps = per_month[m]
        point = trend_point(
            [s for s, n, _, _ in snaps if n > 0 and s is not None],
            sum(n for _, n, _, _ in snaps),
            sum(d for _, _, d, _ in snaps),
            sum(k for _, _, _, k in snaps),
        )
        trend.append({"month": engine.month_label(m), **point})
    trend.append(_live_point(rows, as_of))
    payload["risk_trends"] = trend
    return payload
