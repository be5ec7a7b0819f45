"""A facility's NFPA 70B / 70E compliance (threatmap-api.md "Compliance"): the stored
summary, the next inspections due and the arc flash study."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from voltmetrics.choices import Source
from voltmetrics.engine.dates import add_months
from voltmetrics.models import EquipmentAssessment

from .facility_rows import get_facility
from .formatting import iso_ts
from .paging import codepoint

NEXT_INSPECTIONS_MAX = 20


def facility_compliance(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = get_facility(facility_id, payload=True)
    c = (f.a_payload or {}).get("compliance") or {}
    as_of = f.a_as_of
    due = []
    if as_of is not None:
        # Overdue first by days overdue (descending), then due soonest: one ascending order
        # of the due date. Never maintained with an unknown install date (the engine's null
        # due date) counts as due on the assessment date: due now, 0 days overdue.
        rows = (
            EquipmentAssessment.objects.filter(
                source=Source.LOCAL,
                equipment__facility=f,
                equipment__deleted_at__isnull=True,
            )
            .annotate(due=Coalesce(F("next_due"), Value(as_of)))
            .order_by("due", codepoint("equipment__name"), codepoint("equipment__external_id"))
            .values_list("equipment__external_id", "equipment__name", "equipment__type", "due")
        )[:NEXT_INSPECTIONS_MAX]
        due = [
            {
                "equipment_id": ext,
                "equipment_name": name,
                "equipment_type": typ,
                "due_date": d.isoformat(),
                "days_overdue": max(0, (as_of - d).days),
            }
            for ext, name, typ, d in rows
        ]
    counts = {"total": 0, "compliant": 0, "non_compliant": 0}
    body = {
        "facility_id": f.external_id,
        "facility_name": f.name,
        "compliance_summary": {
            "overall_compliance": c.get("overall"),
            "nfpa_70b_compliance": c.get("nfpa_70b"),
            "nfpa_70e_compliance": c.get("nfpa_70e"),
            "compliance_status": c.get("status"),
        },
        "nfpa_70b": {
            "compliance_percentage": c.get("nfpa_70b"),
            "equipment_counts": {**counts, **(c.get("nfpa_70b_counts") or {})},
            "inspection_status": {
                "up_to_date": 0,
                "due_soon": 0,
                "overdue": 0,
                **(c.get("inspection_status") or {}),
            },
            "next_inspections_due": due,
        },
        "nfpa_70e": {
            "compliance_percentage": c.get("nfpa_70e"),
            "arc_flash_study": c.get("study") or _study(f.arc_flash_study_date),
            "equipment_counts": {**counts, **(c.get("nfpa_70e_counts") or {})},
            "arc_flash_label_status": {
                "present": 0,
                "missing": 0,
                **(c.get("label_status") or {}),
            },
        },
        "last_updated": iso_ts(f.last_updated),
    }
    return body, f.last_updated


def _study(last: date | None) -> dict:
    """The arc flash study of a facility never assessed (risk-model.md §5: current while the
    study date + 5 years is on or after today)."""
    if last is None:
        return {"last_study_date": None, "next_study_due": None, "status": "missing"}
    due = add_months(last, 60)
    status = "current" if due >= datetime.now(UTC).date() else "expired"
    return {
        "last_study_date": last.isoformat(),
        "next_study_due": due.isoformat(),
        "status": status,
    }
