"""The recompute pipeline (risk-model.md §10–§11): import → outbox → recompute → stored rows."""

from datetime import date

import pytest
from django.utils import timezone

from equipment.models import Equipment
from facilities.choices import ChangeSource, RecordKind
from facilities.models import Facility, RecordChange
from facilities.services import changes_record
from tests import factories as f
from voltmetrics import engine
from voltmetrics.choices import Source
from voltmetrics.engine import (
    ConductorIn,
    EquipmentIn,
    FacilityIn,
    MaintenanceIn,
    ObservationsIn,
    default_model,
)
from voltmetrics.inputs import facility_records
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    PortfolioAssessment,
    PortfolioSnapshot,
)
from voltmetrics.services import recompute_pending, risk_recompute

from .conftest import AS_OF, T1, T2

pytestmark = pytest.mark.django_db


def fa(ext) -> FacilityAssessment:
    return FacilityAssessment.objects.get(facility__external_id=ext, source=Source.LOCAL)


def ea(ext) -> EquipmentAssessment:
    return EquipmentAssessment.objects.get(equipment__external_id=ext, source=Source.LOCAL)


def portfolio() -> PortfolioAssessment:
    return PortfolioAssessment.objects.get(source=Source.LOCAL)


def test_import_leaves_pending_changes_that_recompute_drains(world):
    pending = RecordChange.objects.filter(recomputed_at__isnull=True)
    # 2 facilities + 3 equipment + 1 maintenance record
    assert pending.count() == 6
    assert not EquipmentAssessment.objects.exists()

    stats = recompute_pending()

    assert stats.facilities == 2 and stats.equipment == 3
    assert not RecordChange.objects.filter(recomputed_at__isnull=True).exists()
    rows = EquipmentAssessment.objects.all()
    assert rows.count() == 3
    assert {r.algorithm_version for r in rows} == {"1.0"}
    assert {r.source for r in rows} == {Source.LOCAL}
    assert all(r.served for r in rows)
    assert fa("fac_alpha").equipment_count == 2
    assert fa("fac_beta").equipment_count == 1
    assert {a.algorithm_version for a in FacilityAssessment.objects.all()} == {"1.0"}
    p = portfolio()
    assert p.algorithm_version == "1.0"
    assert p.payload["total_facilities"] == 2
    assert p.payload["total_equipment"] == 3
    assert len(p.payload["risk_trends"]) == 6
    # Nothing left to do.
    assert recompute_pending() is None


def test_change_to_one_equipment_recomputes_only_its_facility(world, import_export, records):
    recompute_pending()
    beta_before = fa("fac_beta").computed_at
    beta_eq_before = ea("eq_beta").computed_at
    alpha_before = fa("fac_alpha").computed_at
    panel_before = ea("eq_panel")
    portfolio_before = portfolio().computed_at

    panel = dict(records["equipment"][0], loadPercent=100, updatedAt=T2)
    import_export(equipment=[panel])
    assert list(
        RecordChange.objects.filter(recomputed_at__isnull=True).values_list(
            "external_id", flat=True
        )
    ) == ["eq_panel"]
    stats = recompute_pending()

    assert stats.facilities == 1
    assert fa("fac_beta").computed_at == beta_before
    assert ea("eq_beta").computed_at == beta_eq_before
    assert fa("fac_alpha").computed_at > alpha_before
    after = ea("eq_panel")
    assert after.computed_at > panel_before.computed_at
    loading = next(x for x in after.factors if x["factor"] == "loading")
    assert loading["score"] == 100  # L ≥ 100 → 100 (§3 loading)
    assert after.risk_score > panel_before.risk_score
    assert portfolio().computed_at > portfolio_before


def test_soft_deleted_equipment_drops_out(world, import_export, records):
    recompute_pending()
    assert portfolio().payload["total_equipment"] == 3
    gone = dict(records["equipment"][1], deletedAt=T2, updatedAt=T2)
    import_export(equipment=[gone])
    recompute_pending()

    assert not EquipmentAssessment.objects.filter(equipment__external_id="eq_xfmr").exists()
    alpha = fa("fac_alpha")
    assert alpha.equipment_count == 1
    assert alpha.critical_equipment_count == 0
    assert sum(alpha.payload["risk_distribution"].values()) == 1
    assert alpha.risk_score == ea("eq_panel").risk_score  # the panel now weighs alone
    assert portfolio().payload["total_equipment"] == 2


def test_soft_deleted_facility_drops_out(world, import_export, records):
    recompute_pending()
    import_export(facilities=[dict(records["facilities"][1], deletedAt=T2, updatedAt=T2)])
    recompute_pending()

    assert not FacilityAssessment.objects.filter(facility__external_id="fac_beta").exists()
    assert not EquipmentAssessment.objects.filter(equipment__external_id="eq_beta").exists()
    assert portfolio().payload["total_facilities"] == 1
    assert portfolio().payload["total_equipment"] == 2


def test_staff_change_is_picked_up(world):
    recompute_pending()
    before = ea("eq_beta")
    # What a staff edit in the admin leaves behind: the row changed, an outbox row "staff".
    Equipment.objects.filter(external_id="eq_beta").update(
        load_percent=100, changed_at=timezone.now()
    )
    changes_record(
        kind=RecordKind.EQUIPMENT, items=[("eq_beta", "fac_beta")], source=ChangeSource.STAFF
    )
    stats = recompute_pending()

    assert stats.facilities == 1
    after = ea("eq_beta")
    assert after.risk_score > before.risk_score
    assert not RecordChange.objects.filter(source="staff", recomputed_at__isnull=True).exists()


def test_maintenance_change_finds_its_facility(world, import_export):
    """Maintenance outbox rows carry no facility id: the drain looks it up."""
    recompute_pending()
    alpha_before = fa("fac_alpha").computed_at
    beta_before = fa("fac_beta").computed_at
    import_export(
        maintenance=[
            f.maintenance("eq_beta", id="mr_new", updatedAt=T1, performedAt="2025-01-10T08:00:00Z")
        ]
    )
    assert RecordChange.objects.get(recomputed_at__isnull=True).facility_external_id == ""
    recompute_pending()
    assert fa("fac_beta").computed_at > beta_before
    assert fa("fac_alpha").computed_at == alpha_before
    assert ea("eq_beta").last_service == date(2025, 1, 10)


# --- stored figures are the engine's --------------------------------------------------------

# The factory records, by hand (risk-model.md inputs): humidity 45 %, 72 °F, minimal exposure.
ALPHA_IN = FacilityIn(
    id="fac_alpha",
    name="Alpha Plant",
    year_built=1990,
    humidity_avg=45.0,
    temperature_avg_f=72.0,
    outdoor_exposure="minimal",
    arc_flash_study_date=date(2023, 5, 1),
    equipment=(
        EquipmentIn(
            id="eq_panel",
            name="Panel A",
            type="panel",
            install_date=date(2005, 3, 15),
            conductors=(ConductorIn("copper", "lug"),),
            observations=ObservationsIn(corrosion="none", rust="minimal", wear="none"),
            load_percent=55.0,
            label_present=True,
            maintenance=(MaintenanceIn("mr_panel", "preventive", date(2024, 3, 1)),),
            incident_energy=4.2,
            ppe_category=2,
        ),
        EquipmentIn(
            id="eq_xfmr",
            name="Transformer T1",
            type="transformer",
            install_date=date(1980, 6, 1),
            conductors=(ConductorIn("aluminum", "crimped"),),
            observations=ObservationsIn(
                corrosion="moderate", rust="moderate", wear="severe", heat_discoloration=True
            ),
            load_percent=92.0,
            label_present=False,
            serves_critical_load=True,
        ),
    ),
)


def test_stored_figures_equal_the_engine(world):
    risk_recompute(as_of=AS_OF)
    model = default_model()
    expected = engine.assess_facility(ALPHA_IN, model, AS_OF)
    for ext, result in expected.equipment_results.items():
        row = ea(ext)
        assert (row.risk_score, row.rating) == (result.risk_score, result.rating)
        assert row.critical_threat == result.critical_threat
        assert row.primary_risk_factor == result.primary_risk_factor
        assert row.factors == [x.to_dict() for x in result.risk_factors]
        assert row.as_of == AS_OF
    row = fa("fac_alpha")
    assert (row.risk_score, row.risk_level) == (expected.risk_score, expected.risk_level)
    assert row.overall_compliance == expected.compliance.overall
    assert row.payload["risk_categories"] == [c.to_dict() for c in expected.risk_categories]
    assert row.payload["forecast"] == engine.facility_forecast(ALPHA_IN, model, AS_OF)


def test_hand_worked_panel_score(world):
    """Panel A at 2025-03-15, worked from risk-model.md §3–§6 by hand:

    age: 2005-03-15 → 7305 days = 20.0 years; r = 20/35; 80·r = 45.714…
    material: copper, lug → 20
    maintenance: 2024-03-01 → 379 days = 12.452 months > 12 → 30 + 35·0.452/12 = 31.317…
    environmental: H = 2.5·(45−40) = 12.5, T = 0, X = 0 → 0.5·12.5 = 6.25
    loading: 55 ≤ 60 → 0
    condition: 0.4·0 + 0.3·25 + 0.3·0 = 7.5
    score = 0.35·45.714 + 0.2·20 + 0.2·31.317 + 0.1·6.25 + 0.1·0 + 0.05·7.5
          = 16 + 4 + 6.263 + 0.625 + 0 + 0.375 = 27.26 → 27, Low
    compliance: 70B baseline 2024-03-01 + 12 months < as_of → overdue → 0; 70E study current,
    label present → 100; overall round((0 + 100)/2) = 50 → Out of Compliance.
    """
    risk_recompute(as_of=AS_OF)
    panel = ea("eq_panel")
    assert (panel.risk_score, panel.rating) == (27, "Low")
    assert panel.maintenance_status == "overdue"
    assert panel.next_due == date(2025, 3, 1)
    beta = fa("fac_beta")
    assert beta.equipment_count == 1
    # Beta Works' only panel weighs alone (importance 1): the facility score is its score.
    assert beta.risk_score == ea("eq_beta").risk_score


def test_backfill_stores_five_past_months_per_facility_and_portfolio(world):
    stats = risk_recompute(as_of=AS_OF)
    months = [date(2024, 10, 31), date(2024, 11, 30), date(2024, 12, 31), date(2025, 1, 31),
              date(2025, 2, 28)]  # fmt: skip
    assert stats.snapshots_backfilled == 10
    for ext in ("fac_alpha", "fac_beta"):
        snaps = FacilitySnapshot.objects.filter(facility__external_id=ext).order_by("month")
        assert [s.month for s in snaps] == months
        assert all(s.backfilled and s.algorithm_version == "1.0" for s in snaps)
    model = default_model()
    alpha = FacilitySnapshot.objects.filter(facility__external_id="fac_alpha")
    for s in alpha:
        want = engine.facility_snapshot(ALPHA_IN, model, s.month)
        assert (s.risk_score, s.equipment_count, s.equipment_age) == (
            want["risk_score"], want["equipment_count"], want["equipment_age"])  # fmt: skip
    facilities = [r.facility for batch in facility_records() for r in batch]
    ports = PortfolioSnapshot.objects.order_by("month")
    assert [p.month for p in ports] == months
    for p in ports:
        want = engine.portfolio_snapshot(facilities, model, p.month)
        assert p.backfilled
        assert (p.risk_score, p.equipment_count, p.equipment_age) == (
            want["risk_score"], want["equipment_count"], want["equipment_age"])  # fmt: skip
    history = fa("fac_alpha").payload["historical_risk"]
    assert [h["month"] for h in history] == [
        "Oct 2024", "Nov 2024", "Dec 2024", "Jan 2025", "Feb 2025", "Mar 2025"]  # fmt: skip
    assert history[-1]["risk_score"] == fa("fac_alpha").risk_score
    # Back-filled months are recomputed from the records known now; frozen ones stay.
    FacilitySnapshot.objects.filter(month=date(2025, 2, 28)).update(backfilled=False)
    PortfolioSnapshot.objects.filter(month=date(2025, 2, 28)).update(backfilled=False)
    assert risk_recompute(as_of=AS_OF).snapshots_backfilled == 8


def test_backfilled_months_follow_records_that_arrive_later(world, import_export, records):
    """A month back-filled before all records were in is not frozen with the partial view."""
    from tests import factories as f

    risk_recompute(as_of=AS_OF)
    jan = date(2025, 1, 31)
    before = PortfolioSnapshot.objects.get(month=jan).equipment_count
    fac = records["facilities"][0]
    late = f.equipment(fac["id"], id="eq_late", installDate="2000-01-01")
    import_export(facilities=[fac], equipment=[late])
    risk_recompute(as_of=AS_OF)
    assert PortfolioSnapshot.objects.get(month=jan).equipment_count == before + 1
    snap = FacilitySnapshot.objects.get(facility__external_id=fac["id"], month=jan)
    assert snap.equipment_count == 1 + sum(
        1 for e in records["equipment"] if e["facilityId"] == fac["id"]
    )


def test_incremental_recompute_backfills_the_whole_portfolio_month(world):
    """Recomputing one facility must not store a portfolio month from that facility alone."""
    alpha = Facility.objects.get(external_id="fac_alpha")
    risk_recompute(facility_pks=[alpha.pk], as_of=AS_OF)
    feb = PortfolioSnapshot.objects.get(month=date(2025, 2, 28))
    assert feb.equipment_count == 3  # Alpha's 2 and Beta's 1
    assert FacilitySnapshot.objects.filter(
        facility__external_id="fac_beta", month=date(2025, 2, 28)
    ).exists()


def test_equipment_installed_after_as_of_is_not_assessed(world):
    risk_recompute(as_of=date(2012, 1, 1))  # Beta's panel arrives 2012-09-30
    assert not EquipmentAssessment.objects.filter(equipment__external_id="eq_beta").exists()
    beta = fa("fac_beta")
    assert beta.equipment_count == 0 and beta.risk_score is None


def test_maintenance_before_the_history_window_is_reduced_without_changing_figures(
    db, import_export
):
    """The loader keeps only each equipment's latest record before the history window; every
    figure equals the one computed from the full history."""
    from tests import factories as f
    from voltmetrics.figures import facility_figures

    fac = f.facility(id="fac_hist")
    eqs = [f.equipment("fac_hist", id=f"eq_h{i}", installDate="1999-05-01") for i in range(3)]
    dates = ["2019-03-01", "2023-07-15", "2024-10-31", "2024-11-01", "2025-01-20", "2025-03-14"]
    mrs = [
        f.maintenance(eq["id"], id=f"mr_{eq['id']}_{d}", performedAt=f"{d}T23:30:00-05:00")
        for n, eq in enumerate(eqs)
        for d in dates[n:]
    ]
    import_export(facilities=[fac], equipment=eqs, maintenance=mrs)
    model = default_model()
    window = engine.history_points(AS_OF)[0]  # 2024-10-31
    (full,) = [r for batch in facility_records() for r in batch]
    (trimmed,) = [r for batch in facility_records(history_from=window) for r in batch]
    kept = sum(len(e.maintenance) for e in trimmed.facility.equipment)
    assert kept < sum(len(e.maintenance) for e in full.facility.equipment)
    a = facility_figures(full.facility, model, AS_OF)
    b = facility_figures(trimmed.facility, model, AS_OF)
    assert a.payload() == b.payload()
    assert {k: v.to_dict() for k, v in a.local.items()} == {
        k: v.to_dict() for k, v in b.local.items()
    }
