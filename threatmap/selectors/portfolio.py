"""The whole-portfolio overview (threatmap-api.md "Portfolio summary"), from the stored portfolio
assessment; for some facilities only (a bound consumer's, a named portfolio's: consumers.md
§1), aggregated from their stored assessments and snapshots with the same formulas
(``voltmetrics.portfolio.portfolio_figures_of``)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from consumers.portfolios import facility_counts
from equipment.models import Equipment
from facilities.models import Facility
from voltmetrics.choices import Source
from voltmetrics.models import PortfolioAssessment
from voltmetrics.portfolio import portfolio_figures_of

from .formatting import iso_ts, latest


def portfolio_summary(*, facility_pks=None) -> tuple[dict, datetime | None]:
    """The summary over every facility, or over ``facility_pks`` (pks or a subquery of them)."""
    pa = (
        PortfolioAssessment.objects.filter(source=Source.LOCAL)
        .only("computed_at", "as_of", *(() if facility_pks is not None else ("payload",)))
        .first()
    )
    facilities, equipment = Facility.objects.all(), Equipment.objects.all()
    if facility_pks is not None:
        facilities = facilities.filter(pk__in=facility_pks)
        equipment = equipment.filter(facility_id__in=facility_pks)
    last = latest(
        pa.computed_at if pa else None,
        facilities.aggregate(m=Max("condoit_updated_at"))["m"],
        equipment.aggregate(m=Max("condoit_updated_at"))["m"],
    )
    if facility_pks is not None:
        p = portfolio_figures_of(facility_pks, as_of=pa.as_of if pa else None)
    else:
        p = pa.payload if pa else {}
    total = p.get("total_facilities")
    if total is None:
        total = Facility.objects.filter(deleted_at__isnull=True).count()
    body = {
        "total_facilities": total,
        "total_equipment": p.get("total_equipment", 0),
        "risk_overview": {
            "average_risk_score": None,
            "high_risk_facilities": 0,
            "critical_risk_equipment": 0,
            "high_risk_equipment": 0,
            **(p.get("risk_overview") or {}),
        },
        "compliance_overview": {
            "nfpa_70b_compliance": None,
            "nfpa_70e_compliance": None,
            "overall_compliance": None,
            **(p.get("compliance_overview") or {}),
        },
        "risk_trends": list(p.get("risk_trends") or ()),
        "highest_risk_facilities": [
            {
                "facility_id": h["facility_id"],
                "facility_name": h["facility_name"],
                "risk_score": h.get("risk_score"),
                "location": h.get("location") or "",
                "critical_equipment_count": h.get("critical_equipment_count", 0),
            }
            for h in p.get("highest_risk_facilities") or ()
        ],
        "last_updated": iso_ts(last),
    }
    return body, last


def portfolio_list(*, portfolios: list[dict]) -> tuple[dict, datetime | None]:
    """``{"portfolios": [{slug, name, facility_count}]}`` of these portfolios (``{"pk",
    "slug", "name"}``, in order); one query."""
    counts = facility_counts([p["pk"] for p in portfolios]) if portfolios else {}
    body = {
        "portfolios": [
            {"slug": p["slug"], "name": p["name"], "facility_count": counts.get(p["pk"], 0)}
            for p in portfolios
        ]
    }
    return body, None
