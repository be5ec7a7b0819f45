"""A facility's risks (threatmap-api.md "Risks"): the stored summary, categories, trend,
forecast and recommendations, and its high-risk equipment."""

from __future__ import annotations

from datetime import datetime

from voltmetrics.choices import Rating
from voltmetrics.models import EquipmentAssessment

from .facility_rows import EMPTY_DISTRIBUTION, get_facility
from .formatting import iso_ts
from .paging import codepoint


def facility_risks(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = get_facility(facility_id, payload=True)
    p = f.a_payload or {}
    dist = {**EMPTY_DISTRIBUTION, **(p.get("risk_distribution") or {})}
    rows = (
        EquipmentAssessment.objects.filter(
            served=True,
            rating__in=(Rating.HIGH, Rating.CRITICAL),
            equipment__facility=f,
            equipment__deleted_at__isnull=True,
        )
        .order_by("-risk_score", codepoint("equipment__name"), codepoint("equipment__external_id"))
        .values_list(
            "equipment__external_id", "equipment__name", "equipment__type", "rating",
            "risk_score", "primary_risk_factor", "equipment__building", "equipment__room",
        )
    )  # fmt: skip
    body = {
        "facility_id": f.external_id,
        "facility_name": f.name,
        "risk_summary": {
            "risk_score": f.a_risk_score,
            "risk_level": f.a_risk_level or None,
            "critical_risk_equipment_count": dist["critical"],
            "high_risk_equipment_count": dist["high"],
            "medium_risk_equipment_count": dist["medium"],
            "low_risk_equipment_count": dist["low"],
        },
        "risk_categories": list(p.get("risk_categories") or ()),
        "historical_trend": list(p.get("historical_risk") or ()),
        "forecast": list(p.get("forecast") or ()),
        "high_risk_items": [
            {
                "equipment_id": ext,
                "equipment_name": name,
                "equipment_type": typ,
                "risk_level": rating,
                "risk_score": score,
                "primary_risk_factor": primary or None,
                "location": ", ".join(x for x in (building, room) if x),
            }
            for ext, name, typ, rating, score, primary, building, room in rows
        ],
        "risk_recommendation": {
            "priority_actions": [
                {
                    "action": a["action"],
                    "affected_equipment": list(a.get("affected_equipment") or ()),
                    "risk_reduction": a.get("risk_reduction"),
                    "compliance_gain": a.get("compliance_gain"),
                    "estimated_cost": a.get("estimated_cost"),
                    "urgency": a.get("urgency"),
                }
                for a in p.get("recommendations") or ()
            ]
        },
        "last_updated": iso_ts(f.last_updated),
    }
    return body, f.last_updated
