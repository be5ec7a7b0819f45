"""The facility list and a facility's detail (threatmap-api.md "Lists", "Facility detail")."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F
from django.db.models.fields.json import KeyTransform

from ..params import FacilityListParams
from .equipment_rows import active_equipment, equipment_items
from .facility_rows import active_facilities, facility_item, get_facility
from .formatting import iso_date, max_ts
from .paging import COMPLIANCE_LABEL, LEVEL_LABEL, codepoint, page, search, severity

SEARCH_FIELDS = ("name", "street", "city", "state", "zip", "contractor")


def _sort_key(sort: str):
    return {
        "name": codepoint("name"),
        "risk_score": F("a_risk_score"),
        "risk_rating": severity("fa__risk_level"),
        "last_updated": F("last_updated"),
    }[sort]


def _items(rows) -> list[dict]:
    return [facility_item(f) for f in rows]


def facility_list(*, params: FacilityListParams, facility_pks=None) -> tuple[dict, datetime | None]:
    """The list's page; over ``facility_pks`` only (pks or a subquery of them) when given."""
    qs = active_facilities()
    if facility_pks is not None:
        qs = qs.filter(pk__in=facility_pks)
    qs = search(qs, params.search, SEARCH_FIELDS)
    if params.risk_level:
        qs = qs.filter(fa__risk_level=LEVEL_LABEL[params.risk_level])
    if params.compliance_status:
        qs = qs.filter(fa__compliance_status=COMPLIANCE_LABEL[params.compliance_status])
    body = page(
        qs,
        params,
        rows_key="facilities",
        sort_key=_sort_key,
        items=_items,
        page_annotations={"a_distribution": KeyTransform("risk_distribution", "fa__payload")},
    )
    return body, max_ts(i["last_updated"] for i in body["facilities"])


def facility_detail(*, facility_id: str) -> tuple[dict, datetime | None]:
    f = get_facility(facility_id, payload=True)
    p = f.a_payload or {}
    f.a_distribution = p.get("risk_distribution")
    item = facility_item(f)
    ids = [i for i in p.get("top_threats") or () if isinstance(i, str)]
    threats = []
    if ids:
        found = {
            e.external_id: e for e in active_equipment().filter(facility=f, external_id__in=ids)
        }
        threats = equipment_items(found[i] for i in ids if i in found)
    item.update(
        last_arc_flash_analysis=iso_date(f.arc_flash_study_date),
        last_infrared_scan=iso_date(f.infrared_scan_date),
        system_age=p.get("system_age"),
        facility_age=p.get("facility_age"),
        average_equipment_risk=p.get("average_equipment_risk"),
        humidity_risk=p.get("humidity_risk"),
        conductor_type_breakdown={
            "copper": 0,
            "aluminum": 0,
            **(p.get("conductor_type_breakdown") or {}),
        },
        risk_factors=[
            {"factor": c["category"], "score": c["score"], "description": c["description"]}
            for c in p.get("risk_categories") or ()
        ],
        historical_risk=list(p.get("historical_risk") or ()),
        forecast=list(p.get("forecast") or ()),
        top_threats=threats,
    )
    return item, f.last_updated
