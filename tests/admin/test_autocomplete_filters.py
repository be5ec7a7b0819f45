"""Facility (and equipment) list filters are autocomplete widgets: the page never lists every
facility, its query count does not grow with them, and the selection filters and stays."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consumers.models import Portfolio, PortfolioFacility
from facilities.choices import RecordKind
from facilities.models import Facility
from facilities.services import override_set

from . import factories as f

pytestmark = pytest.mark.django_db

EQUIPMENT_LIST = reverse("admin:equipment_equipment_changelist")


def many_facilities(n: int) -> list[Facility]:
    start = Facility.objects.count()
    Facility.objects.bulk_create(
        Facility(
            external_id=f"bulk_fac_{start + i}",
            name=f"Bulk Facility {start + i}",
            condoit_created_at=f.TS,
            condoit_updated_at=f.TS,
        )
        for i in range(n)
    )
    return list(Facility.objects.filter(external_id__startswith="bulk_fac_"))


def facility_filter(html: str) -> str:
    """The facility filter's block of the changelist's sidebar."""
    match = re.search(r'<details data-filter-title="facility".*?</details>', html, flags=re.DOTALL)
    assert match, "no facility filter in the sidebar"
    return match.group(0)


def result_ids(response) -> set[str]:
    assert response.status_code == 200
    return {o.external_id for o in response.context["cl"].result_list}


def test_equipment_list_has_no_option_per_facility(admin_client):
    many_facilities(600)
    fac = f.facility(name="Needle Plant")
    f.equipment(fac)
    response = admin_client.get(EQUIPMENT_LIST)
    assert response.status_code == 200
    html = response.text
    assert html.count("<option") <= 30  # actions and the other filters' widgets, not facilities
    assert "Bulk Facility" not in html
    block = facility_filter(html)
    assert 'class="autocomplete-list-filter admin-autocomplete"' in block
    assert 'data-model-name="equipment"' in block and 'data-field-name="facility"' in block
    assert reverse("admin:autocomplete") in block
    # The admin's bundled select2 and the filter's own script: no CDN.
    assert "admin/js/vendor/select2/select2.full" in html
    assert "facilities/admin/autocomplete_filter.js" in html
    assert "<script>" not in block and "style=" not in block


def test_equipment_list_queries_do_not_grow_with_facilities(admin_client):
    fac = f.facility()
    f.equipment(fac)
    admin_client.get(EQUIPMENT_LIST)  # warm the session and content types

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(EQUIPMENT_LIST).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    many_facilities(600)
    assert count() == few


def test_filtering_by_one_facility_lists_its_equipment_and_keeps_it_selected(admin_client):
    many_facilities(600)
    a, b = f.facility(name="Alpha Plant"), f.facility(name="Beta Depot")
    a1, a2 = f.equipment(a), f.equipment(a)
    f.equipment(b)
    response = admin_client.get(EQUIPMENT_LIST + f"?facility__id__exact={a.pk}")
    assert result_ids(response) == {a1.external_id, a2.external_id}
    block = facility_filter(response.text)
    # Only the chosen facility is an option, and it is selected.
    assert block.count("<option") == 2  # the empty choice (to clear) and the facility
    assert re.search(rf'<option value="{a.pk}" selected>Alpha Plant \({a.external_id}\)', block)
    # "All" clears it, keeping nothing of the filter.
    assert 'href="?"' in block


def test_selected_facility_with_other_filters_and_the_alias_parameter(admin_client):
    a, b = f.facility(name="Alpha Plant"), f.facility(name="Beta Depot")
    kept = f.equipment(a, name="Copper Panel", manufacturer="Eaton")
    f.equipment(a, name="Other Panel")
    f.equipment(b, name="Copper Panel", manufacturer="Eaton")
    response = admin_client.get(EQUIPMENT_LIST + f"?facility__id__exact={a.pk}&q=copper")
    assert result_ids(response) == {kept.external_id}
    block = facility_filter(response.text)
    assert 'href="?q=copper"' in block  # "All" keeps the search
    # Links into the list (the facility page's) use facility__exact: the same selection.
    response = admin_client.get(EQUIPMENT_LIST + f"?facility__exact={a.pk}")
    assert len(result_ids(response)) == 2
    assert f'<option value="{a.pk}" selected>' in facility_filter(response.text)


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999999", "-"])
def test_bad_facility_value_is_the_admins_invalid_lookup_not_a_500(admin_client, value):
    f.equipment(f.facility())
    response = admin_client.get(EQUIPMENT_LIST, {"facility__id__exact": value})
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    response = admin_client.get(EQUIPMENT_LIST, {"facility__exact": value})
    assert response.status_code == 302


def test_unknown_facility_lists_nothing_and_selects_nothing(admin_client):
    f.equipment(f.facility())
    response = admin_client.get(EQUIPMENT_LIST + "?facility__id__exact=987654")
    assert result_ids(response) == set()
    assert "selected>" not in facility_filter(response.text)


def test_autocomplete_view_answers_the_filters_search(admin_client):
    many_facilities(30)
    needle = f.facility(name="Needle Works")
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "equipment", "model_name": "equipment", "field_name": "facility",
         "term": "needle"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["results"] == [{"id": str(needle.pk), "text": str(needle)}]


def test_maintenance_filters_by_facility_and_by_equipment(admin_client):
    a, b = f.facility(), f.facility()
    ea, eb = f.equipment(a, name="Alpha Board"), f.equipment(b)
    ma, mb = f.maintenance(ea), f.maintenance(eb)
    url = reverse("admin:equipment_maintenancerecord_changelist")
    response = admin_client.get(url + f"?equipment__facility__id__exact={b.pk}")
    assert result_ids(response) == {mb.external_id}
    response = admin_client.get(url + f"?equipment__id__exact={ea.pk}")
    assert result_ids(response) == {ma.external_id}
    assert f'<option value="{ea.pk}" selected>{ea}</option>' in response.text


def test_overrides_filter_by_facility_covers_its_records(admin_client):
    a, b = f.facility(), f.facility()
    ea, eb = f.equipment(a), f.equipment(b)
    ma = f.maintenance(ea)
    mine = [
        override_set(kind=RecordKind.FACILITY, external_id=a.external_id, field="name",
                     value="x", condoit_value="y"),
        override_set(kind=RecordKind.EQUIPMENT, external_id=ea.external_id, field="name",
                     value="x", condoit_value="y"),
        override_set(kind=RecordKind.MAINTENANCE, external_id=ma.external_id,
                     field="technician", value="x", condoit_value="y"),
    ]  # fmt: skip
    override_set(
        kind=RecordKind.EQUIPMENT, external_id=eb.external_id, field="name", value="x",
        condoit_value="y",
    )  # fmt: skip
    url = reverse("admin:facilities_fieldoverride_changelist")
    response = admin_client.get(url + f"?facility={a.pk}")
    assert response.status_code == 200
    assert {o.pk for o in response.context["cl"].result_list} == {o.pk for o in mine}
    assert f'<option value="{a.pk}" selected>' in response.text
    response = admin_client.get(url + "?facility=nope")
    assert response.status_code == 302 and response["Location"].endswith("?e=1")


def test_portfolios_filter_by_facility(admin_client):
    a, b = f.facility(), f.facility()
    holds_a = Portfolio.objects.create(slug="north", name="North")
    other = Portfolio.objects.create(slug="south", name="South")
    PortfolioFacility.objects.create(portfolio=holds_a, facility=a)
    PortfolioFacility.objects.create(portfolio=other, facility=b)
    url = reverse("admin:consumers_portfolio_changelist")
    response = admin_client.get(url + f"?facilities__id__exact={a.pk}")
    assert response.status_code == 200
    assert [p.slug for p in response.context["cl"].result_list] == ["north"]


@pytest.mark.parametrize(
    "name",
    [
        "voltmetrics_equipmentassessment",
        "voltmetrics_facilityassessment",
        "voltmetrics_facilitysnapshot",
    ],
)
def test_risk_lists_filter_facilities_by_autocomplete(admin_client, name):
    many_facilities(600)
    response = admin_client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    assert "Bulk Facility" not in response.text
    assert 'class="autocomplete-list-filter admin-autocomplete"' in facility_filter(response.text)


def test_facets_on_with_a_facility_selected(admin_client):
    """"Show counts" counts the other filters' choices; the facility filter shows its
    selection as usual."""
    a = f.facility(name="Alpha Plant")
    f.equipment(a)
    f.equipment(f.facility())
    response = admin_client.get(EQUIPMENT_LIST + f"?facility__id__exact={a.pk}&_facets=True")
    assert response.status_code == 200
    assert len(result_ids(response)) == 1
    assert f'<option value="{a.pk}" selected>' in facility_filter(response.text)
