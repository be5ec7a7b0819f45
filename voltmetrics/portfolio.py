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
from .models import FacilityAssessment, PortfolioAssessment, PortfolioSnapshot
from .snapshots import portfolio_point_from_facilities, snapshots_fill, trend_point


def portfolio_recompute(*, as_of: date | None = None, model: ModelParams | None = None):
    """Portfolio figures (§7) from the stored facility assessments; trend from snapshots."""
    as_of = as_of or utc_today()
    model = model or model_current()
    # Only the columns and the three compliance figures: the payloads themselves are large.
    rows = [
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
        overall in FacilityAssessment.objects.filter(
            source=Source.LOCAL, facility__deleted_at__isnull=True
        ).values_list(
            "facility__external_id", "facility__name", "facility__city", "facility__state",
            "equipment_count", "risk_score", "risk_level", "critical_equipment_count",
            "high_risk_equipment_count", "age_days_sum", "age_known",
            "payload__compliance__nfpa_70b", "payload__compliance__nfpa_70e",
            "payload__compliance__overall",
        )
    ]  # fmt: skip
    total_facilities = Facility.objects.filter(deleted_at__isnull=True).count()
    summaries = rows
    # Facilities never assessed (no equipment ever) still count in total_facilities.
    result = engine.assess_portfolio(summaries)
    payload = result.to_dict()
    payload["total_facilities"] = total_facilities
    where = {a.facility_id: a.location for a in rows}
    for item in payload["highest_risk_facilities"]:
        item["location"] = where.get(item["facility_id"], "")
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
    live = [a for a in rows if a.equipment_count > 0 and a.risk_score is not None]
    point = trend_point(
        [a.risk_score for a in live],
        sum(a.equipment_count for a in rows),
        sum(a.age_days_sum for a in rows),
        sum(a.age_known for a in rows),
    )
    out.append({"month": engine.month_label(as_of), **point})
    return out
