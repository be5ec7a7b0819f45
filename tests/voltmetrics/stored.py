"""Every stored risk figure, for tests that compare two ways of computing them."""

from __future__ import annotations

from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    PortfolioAssessment,
    PortfolioSnapshot,
)


def stored() -> dict:
    """Every stored figure, keyed; ids and computation times left out."""
    skip = {"id", "computed_at"}

    def rows(model, key):
        out = {}
        for obj in model.objects.all():
            values = {k: v for k, v in vars(obj).items() if not k.startswith("_") and k not in skip}
            out[tuple(values[k] for k in key)] = values
        return out

    return {
        "equipment": rows(EquipmentAssessment, ("equipment_id", "source")),
        "facilities": rows(FacilityAssessment, ("facility_id", "source")),
        "snapshots": rows(FacilitySnapshot, ("facility_id", "month")),
        "portfolio": rows(PortfolioAssessment, ("source",)),
        "portfolio_snapshots": rows(PortfolioSnapshot, ("month",)),
    }


def clear() -> None:
    for model in (
        EquipmentAssessment, FacilityAssessment, FacilitySnapshot, PortfolioAssessment,
        PortfolioSnapshot,
    ):  # fmt: skip
        model.objects.all().delete()
