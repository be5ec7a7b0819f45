"""Risk on the facility and equipment lists: columns, sorting, filters, paging, bad
parameters, and query counts that do not grow with the rows."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from equipment.models import Equipment
from facilities.models import Facility
from voltmetrics.admin_risk import EquipmentRiskAdmin, FacilityRiskAdmin
from voltmetrics.choices import Source
from voltmetrics.models import EquipmentAssessment, FacilityAssessment
from voltmetrics.services import risk_recompute

from . import factories as af
from .risk_fixtures import AS_OF, build_risk_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def risk_world(db, import_export):
    return build_risk_world(import_export)


FACILITIES = "admin:facilities_facility_changelist"
EQUIPMENT = "admin:equipment_equipment_changelist"


def changelist(client, name, params=None):
    response = client.get(reverse(name), params or {})
    assert response.status_code == 200
    return response


def ids(client, name, params=None) -> list[str]:
    return [o.external_id for o in changelist(client, name, params).context["cl"].result_list]


def column(client, name, field) -> int:
    """The index of a column in the changelist (its ``o=`` sort parameter)."""
    return list(changelist(client, name).context["cl"].list_display).index(field)


def facility_scores() -> dict[str, int | None]:
    scores = dict(
        FacilityAssessment.objects.filter(source=Source.LOCAL).values_list(
            "facility__external_id", "risk_score"
        )
    )
    return {ext: scores.get(ext) for ext in Facility.objects.values_list("external_id", flat=True)}


def served_scores() -> dict[str, int | None]:
    scores = dict(
        EquipmentAssessment.objects.filter(served=True).values_list(
            "equipment__external_id", "risk_score"
        )
    )
    return {ext: scores.get(ext) for ext in Equipment.objects.values_list("external_id", flat=True)}


def by_score(scores: dict, *, descending: bool, pks: dict) -> list[str]:
    """Highest first (not computed last), or lowest first (not computed first); ties by
    primary key descending, as the admin breaks them."""
    known = [k for k, v in scores.items() if v is not None]
    unknown = [k for k, v in scores.items() if v is None]
    if descending:
        known.sort(key=lambda k: (-scores[k], -pks[k]))
        return known + sorted(unknown, key=lambda k: -pks[k])
    known.sort(key=lambda k: (scores[k], -pks[k]))
    return sorted(unknown, key=lambda k: -pks[k]) + known


# --- columns and sorting ------------------------------------------------------------------------


def test_facility_list_shows_risk_and_compliance_columns(admin_client, risk_world):
    response = changelist(admin_client, FACILITIES)
    stored = FacilityAssessment.objects.get(facility=risk_world["alpha"], source=Source.LOCAL)
    row = next(r for r in response.text.split("<tr")[1:] if risk_world["alpha"].external_id in r)
    assert f'<td class="field-risk_score_column">{stored.risk_score}</td>' in row
    assert f'mb-risk-{stored.risk_level.lower()}">{stored.risk_level}</span>' in row
    assert f'<td class="field-overall_compliance_column">{stored.overall_compliance}%</td>' in row
    assert f">{stored.compliance_status}</span>" in row
    delta = next(r for r in response.text.split("<tr")[1:] if "fac_delta" in r)
    assert '<td class="field-risk_score_column">—</td>' in delta


def test_facility_list_sorts_by_risk_score_and_compliance(admin_client, risk_world):
    pks = dict(Facility.objects.values_list("external_id", "pk"))
    scores = facility_scores()
    col = column(admin_client, FACILITIES, "risk_score_column")
    assert ids(admin_client, FACILITIES, {"o": f"-{col}"}) == by_score(
        scores, descending=True, pks=pks
    )
    assert ids(admin_client, FACILITIES, {"o": f"{col}"}) == by_score(
        scores, descending=False, pks=pks
    )
    overall = dict(
        FacilityAssessment.objects.filter(source=Source.LOCAL).values_list(
            "facility__external_id", "overall_compliance"
        )
    )
    overall = {ext: overall.get(ext) for ext in pks}
    col = column(admin_client, FACILITIES, "overall_compliance_column")
    assert ids(admin_client, FACILITIES, {"o": f"-{col}"}) == by_score(
        overall, descending=True, pks=pks
    )


def test_equipment_list_shows_served_score_rating_and_condition(admin_client, risk_world):
    response = changelist(admin_client, EQUIPMENT)
    row = next(r for r in response.text.split("<tr")[1:] if "eq_swbd" in r)
    assert '<td class="field-risk_score_column">55</td>' in row  # VoltMetrics' figure
    assert 'mb-risk-medium">Medium</span>' in row
    local = EquipmentAssessment.objects.get(equipment__external_id="eq_swbd", source="local")
    assert local.condition and f'<td class="field-condition_column">{local.condition}</td>' in row


def test_equipment_list_sorts_by_served_score(admin_client, risk_world):
    pks = dict(Equipment.objects.values_list("external_id", "pk"))
    scores = served_scores()
    assert scores["eq_delta"] is None and scores["eq_swbd"] == 55
    for field in ("risk_score_column", "rating_column"):
        col = column(admin_client, EQUIPMENT, field)
        assert ids(admin_client, EQUIPMENT, {"o": f"-{col}"}) == by_score(
            scores, descending=True, pks=pks
        )
        assert ids(admin_client, EQUIPMENT, {"o": f"{col}"}) == by_score(
            scores, descending=False, pks=pks
        )


@pytest.mark.parametrize("name", [FACILITIES, EQUIPMENT])
def test_pages_sorted_by_score_follow_one_another(admin_client, risk_world, monkeypatch, name):
    """Keys first, then rows: each page holds the next rows of the one ordering."""
    model, model_admin, scores = {
        FACILITIES: (Facility, FacilityRiskAdmin, facility_scores),
        EQUIPMENT: (Equipment, EquipmentRiskAdmin, served_scores),
    }[name]
    monkeypatch.setattr(model_admin, "list_per_page", 2)
    pks = dict(model.objects.values_list("external_id", "pk"))
    expected = by_score(scores(), descending=True, pks=pks)
    assert len(expected) in (4, 6)
    col = column(admin_client, name, "risk_score_column")
    shown = []
    for p in range(1, len(expected) // 2 + 1):
        page = ids(admin_client, name, {"o": f"-{col}", "p": p})
        assert len(page) == 2
        shown += page
    assert shown == expected


def test_a_search_through_the_facility_keeps_the_sort_and_the_pages(
    admin_client, risk_world, monkeypatch
):
    monkeypatch.setattr(EquipmentRiskAdmin, "list_per_page", 2)
    pks = dict(Equipment.objects.values_list("external_id", "pk"))
    of_alpha = set(risk_world["alpha"].equipment.values_list("external_id", flat=True))
    alpha = {k: v for k, v in served_scores().items() if k in of_alpha}
    expected = by_score(alpha, descending=True, pks=pks)
    col = column(admin_client, EQUIPMENT, "risk_score_column")
    shown = []
    for p in (1, 2):
        shown += ids(admin_client, EQUIPMENT, {"q": "Alpha Plant", "o": f"-{col}", "p": p})
    assert shown == expected and len(expected) == 4


# --- filters ------------------------------------------------------------------------------------


def test_facility_filters_narrow_to_the_matching_facilities(admin_client, risk_world):
    fa = {
        a.facility.external_id: a
        for a in FacilityAssessment.objects.filter(source=Source.LOCAL).select_related("facility")
    }
    every = set(Facility.objects.values_list("external_id", flat=True))
    for level in ("Low", "Medium", "High", "Critical"):
        expected = {ext for ext, a in fa.items() if a.risk_level == level}
        assert set(ids(admin_client, FACILITIES, {"risk_level": level})) == expected
    assert set(ids(admin_client, FACILITIES, {"risk_level": "none"})) == {"fac_gamma", "fac_delta"}
    statuses = {a.compliance_status for a in fa.values() if a.compliance_status}
    assert statuses
    for status in ("Compliant", "Warning", "Out of Compliance"):
        expected = {ext for ext, a in fa.items() if a.compliance_status == status}
        assert set(ids(admin_client, FACILITIES, {"compliance": status})) == expected
    assert set(ids(admin_client, FACILITIES, {"compliance": "none"})) == {
        "fac_gamma",
        "fac_delta",
    }
    overdue = set(
        EquipmentAssessment.objects.filter(
            source=Source.LOCAL, maintenance_status="overdue"
        ).values_list("equipment__facility__external_id", flat=True)
    )
    assert overdue == {"fac_alpha"}
    assert set(ids(admin_client, FACILITIES, {"overdue": "yes"})) == overdue
    assert set(ids(admin_client, FACILITIES, {"overdue": "no"})) == every - overdue
    both = {"overdue": "yes", "risk_level": fa["fac_alpha"].risk_level}
    assert ids(admin_client, FACILITIES, both) == ["fac_alpha"]


def test_equipment_filters_narrow_to_the_matching_equipment(admin_client, risk_world):
    served = {
        a.equipment.external_id: a
        for a in EquipmentAssessment.objects.filter(served=True).select_related("equipment")
    }
    every = set(Equipment.objects.values_list("external_id", flat=True))
    seen = set()
    for rating in ("Low", "Medium", "High", "Critical"):
        expected = {ext for ext, a in served.items() if a.rating == rating}
        assert set(ids(admin_client, EQUIPMENT, {"rating": rating})) == expected
        seen |= expected
    assert {"Critical", "Medium", "Low"} <= {a.rating for a in served.values()}
    assert set(ids(admin_client, EQUIPMENT, {"rating": "none"})) == every - seen == {"eq_delta"}
    local = {
        a.equipment.external_id: a.maintenance_status
        for a in EquipmentAssessment.objects.filter(source=Source.LOCAL).select_related("equipment")
    }
    for status in ("overdue", "due_soon", "up_to_date"):
        expected = {ext for ext, s in local.items() if s == status}
        assert set(ids(admin_client, EQUIPMENT, {"nfpa70b": status})) == expected
    assert {"eq_xfmr", "eq_gaps"} <= set(ids(admin_client, EQUIPMENT, {"nfpa70b": "overdue"}))
    assert set(ids(admin_client, EQUIPMENT, {"served_by": "voltmetrics"})) == {"eq_swbd"}
    assert set(ids(admin_client, EQUIPMENT, {"served_by": "local"})) == every - {
        "eq_swbd",
        "eq_delta",
    }
    sorted_and_filtered = ids(
        admin_client,
        EQUIPMENT,
        {"rating": "Critical", "o": f"-{column(admin_client, EQUIPMENT, 'risk_score_column')}"},
    )
    assert sorted_and_filtered == sorted(
        (ext for ext, a in served.items() if a.rating == "Critical"),
        key=lambda ext: -served[ext].risk_score,
    )


@pytest.mark.parametrize(
    ("name", "params"),
    [
        (FACILITIES, {"risk_level": "Severe"}),
        (FACILITIES, {"compliance": "<script>"}),
        (EQUIPMENT, {"rating": "critical'; drop table x"}),
        (EQUIPMENT, {"nfpa70b": "\x00"}),
        (EQUIPMENT, {"served_by": "elsewhere"}),
    ],
)
def test_an_unknown_filter_value_lists_nothing_and_never_fails(
    admin_client, risk_world, name, params
):
    assert ids(admin_client, name, params) == []


@pytest.mark.parametrize("name", [FACILITIES, EQUIPMENT])
def test_a_bad_sort_parameter_is_ignored(admin_client, risk_world, name):
    for o in ("abc", "-999", "2.x"):
        changelist(admin_client, name, {"o": o})


# --- query counts -------------------------------------------------------------------------------


def build(n: int):
    """n facilities of two equipment each, all alike: Low, up to date, out of compliance
    (no arc flash study)."""
    for _ in range(n):
        fac = af.facility()
        for _ in range(2):
            eq = af.equipment(fac)
            af.conductor(eq)
            af.maintenance(eq, performed_at=datetime.datetime(2025, 2, 1, tzinfo=datetime.UTC))


@pytest.mark.parametrize(
    ("name", "field", "params"),
    [
        (FACILITIES, "risk_score_column", {}),
        (FACILITIES, "risk_score_column", {"risk_level": "Low", "overdue": "no"}),
        (FACILITIES, "overall_compliance_column", {"compliance": "Out of Compliance"}),
        (EQUIPMENT, "risk_score_column", {}),
        (EQUIPMENT, "risk_score_column", {"rating": "Low"}),
        (EQUIPMENT, "condition_column", {"nfpa70b": "up_to_date", "served_by": "local"}),
    ],
)
def test_risk_lists_run_as_many_queries_for_30_rows_as_for_3(admin_client, name, field, params):
    """Sorted by a risk column and filtered, 3 rows or 30: the same queries."""
    admin_client.get(reverse(name))  # warm the session and content types

    def count(rows):
        query = {"o": f"-{column(admin_client, name, field)}", **params}
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(reverse(name), query)
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == rows
        return len(ctx.captured_queries)

    rows = 1 if name == FACILITIES else 2  # per facility built; every one matches
    build(3)
    risk_recompute(as_of=AS_OF)
    few = count(3 * rows)
    build(27)
    risk_recompute(as_of=AS_OF)
    many = count(30 * rows)
    assert many == few
