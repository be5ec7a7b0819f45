"""Risk as the facility and equipment admin lists show it: the relations their risk filters
and sorts join (only when one is used, so an unfiltered, unsorted list and its counts do not
pay for them), and each page's figures prefetched in one query, so a list's query count does
not grow with its rows. The same figures as the pages (``voltmetrics/admin_selectors.py``):
a facility's built-in assessment, an equipment's served one, and its built-in condition and
NFPA 70B status.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, FilteredRelation, OuterRef, Prefetch, Q, QuerySet

from .choices import Source
from .models import EquipmentAssessment, FacilityAssessment

# The relations a list filters and sorts on (joined only when a filter or a sort names them).
FACILITY_RISK = "r_fa"  # the facility's built-in assessment (its served figures)
SERVED = "r_sa"  # the equipment's served assessment
LOCAL = "r_la"  # the equipment's built-in assessment (condition, NFPA 70B)

FACILITY_ROW_FIELDS = (
    "facility_id", "source", "risk_score", "risk_level", "overall_compliance",
    "compliance_status",
)  # fmt: skip
EQUIPMENT_ROW_FIELDS = (
    "equipment_id", "source", "served", "risk_score", "rating", "condition",
    "maintenance_status",
)  # fmt: skip


def facilities_with_risk(qs: QuerySet) -> QuerySet:
    """Facilities with their served figures: the relation ``r_fa`` to filter and sort on
    (``r_fa__risk_score`` …), and each row's built-in assessment prefetched (one query for a
    page of rows; read it with :func:`facility_row_risk`)."""
    return qs.annotate(
        **{
            FACILITY_RISK: FilteredRelation(
                "assessments", condition=Q(assessments__source=Source.LOCAL)
            )
        }
    ).prefetch_related(
        Prefetch(
            "assessments",
            queryset=FacilityAssessment.objects.filter(source=Source.LOCAL).only(
                *FACILITY_ROW_FIELDS
            ),
            to_attr="risk_rows",
        )
    )


def facility_row_risk(facility) -> FacilityAssessment | None:
    """A row of :func:`facilities_with_risk`: its built-in assessment (None: not computed)."""
    return next(iter(getattr(facility, "risk_rows", ())), None)


def equipment_with_risk(qs: QuerySet) -> QuerySet:
    """Equipment with its figures: the relations ``r_sa`` (served) and ``r_la`` (built-in) to
    filter and sort on, and each row's assessments prefetched (one query for a page of rows;
    read them with :func:`equipment_row_risk`)."""
    return qs.annotate(
        **{
            SERVED: FilteredRelation("assessments", condition=Q(assessments__served=True)),
            LOCAL: FilteredRelation("assessments", condition=Q(assessments__source=Source.LOCAL)),
        }
    ).prefetch_related(
        Prefetch(
            "assessments",
            queryset=EquipmentAssessment.objects.only(*EQUIPMENT_ROW_FIELDS),
            to_attr="risk_rows",
        )
    )


@dataclass(frozen=True)
class RowRisk:
    risk_score: int | None
    rating: str
    source: str
    condition: str
    maintenance_status: str


def equipment_row_risk(equipment) -> RowRisk:
    """A row of :func:`equipment_with_risk`: the served score and rating (the built-in ones
    when none is flagged served, as the API) and the built-in condition and NFPA 70B status."""
    rows = getattr(equipment, "risk_rows", ())
    local = next((a for a in rows if a.source == Source.LOCAL), None)
    served = next((a for a in rows if a.served), None) or local
    return RowRisk(
        risk_score=served.risk_score if served else None,
        rating=served.rating if served else "",
        source=served.source if served else "",
        condition=local.condition if local else "",
        maintenance_status=local.maintenance_status if local else "",
    )


def overdue_equipment(facility_ref: str = "pk") -> Exists:
    """Some active equipment of the facility (``OuterRef(facility_ref)``) is overdue for
    NFPA 70B maintenance (its built-in assessment says so)."""
    return Exists(
        EquipmentAssessment.objects.filter(
            source=Source.LOCAL,
            maintenance_status="overdue",
            equipment__facility_id=OuterRef(facility_ref),
            equipment__deleted_at__isnull=True,
        )
    )
