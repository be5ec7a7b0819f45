"""The whole-portfolio overview (threatmap-api.md "Portfolio summary"), from the stored portfolio
assessment."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Max

from equipment.models import Equipment
from facilities.models import Facility
from voltmetrics.choices import Source
from voltmetrics.models import PortfolioAssessment

from .formatting import iso_ts, latest


def portfolio_summary() -> tuple[dict, datetime | None]:
    pa = PortfolioAssessment.objects.filter(source=Source.LOCAL).first()
    last = latest(
        pa.computed_at if pa else None,
        Facility.objects.aggregate(m=Max("condoit_updated_at"))["m"],
        Equipment.objects.aggregate(m=Max("condoit_updated_at"))["m"],
    )
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
