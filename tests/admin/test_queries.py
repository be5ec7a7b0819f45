"""Changelists and change forms run a fixed number of queries, whatever the row count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from facilities.choices import RecordKind
from facilities.services import changes_record, override_set

from . import factories as f

pytestmark = pytest.mark.django_db


def build(n: int):
    for _ in range(n):
        fac = f.facility()
        eq = f.equipment(fac)
        f.conductor(eq)
        f.maintenance(eq)
        override_set(
            kind=RecordKind.EQUIPMENT,
            external_id=eq.external_id,
            field="name",
            value="x",
            condoit_value="y",
        )
        changes_record(
            kind=RecordKind.EQUIPMENT, items=[(eq.external_id, fac.external_id)], source="staff"
        )


def count_queries(client, url, expect_rows):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == expect_rows
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "name",
    [
        "facilities_facility",
        "equipment_equipment",
        "equipment_maintenancerecord",
        "facilities_fieldoverride",
        "facilities_recordchange",
    ],
)
def test_changelist_queries_do_not_grow_with_rows(admin_client, name):
    url = reverse(f"admin:{name}_changelist")
    build(3)
    admin_client.get(url)  # warm the session and content types
    few = count_queries(admin_client, url, 3)
    build(27)
    many = count_queries(admin_client, url, 30)
    assert many == few


def test_change_forms_queries_do_not_grow_with_children(admin_client):
    fac = f.facility()
    eq = f.equipment(fac)

    def add_children(n):
        for _ in range(n):
            f.equipment(fac)
            f.conductor(eq)
            f.photo(eq)
            f.maintenance(eq)

    add_children(3)
    fac_url = reverse("admin:facilities_facility_change", args=[fac.pk])
    eq_url = reverse("admin:equipment_equipment_change", args=[eq.pk])
    admin_client.get(fac_url)
    admin_client.get(eq_url)
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as fac_ctx:
            assert admin_client.get(fac_url).status_code == 200
        with CaptureQueriesContext(connection) as eq_ctx:
            assert admin_client.get(eq_url).status_code == 200
        counts.append((len(fac_ctx.captured_queries), len(eq_ctx.captured_queries)))
        add_children(27)
    assert counts[0] == counts[1]


def test_inlines_are_capped(admin_client):
    fac = f.facility()
    eq = f.equipment(fac)
    for _ in range(60):
        f.maintenance(eq)
    response = admin_client.get(reverse("admin:equipment_equipment_change", args=[eq.pk]))
    formset = next(
        s.formset
        for s in response.context["inline_admin_formsets"]
        if s.opts.model.__name__ == "MaintenanceRecord"
    )
    shown = [form.instance for form in formset.forms]
    assert len(shown) == 50
    newest = list(eq.maintenance.order_by("-performed_at")[:50])
    assert [m.pk for m in shown] == [m.pk for m in newest]
    assert "60 records" in response.text
