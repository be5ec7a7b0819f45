"""Staff edits through the change forms become overrides and outbox rows."""

import datetime

import pytest
from django.urls import reverse

from facilities.models import Facility, FieldOverride, RecordChange

from . import factories as f
from .conftest import form_post_data

pytestmark = pytest.mark.django_db


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def post_edit(client, obj, **changes):
    url = change_url(obj)
    data = form_post_data(client.get(url))
    data.update(changes)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


@pytest.fixture
def eq():
    fac = f.facility(external_id="fac_main")
    eq = f.equipment(fac, name="Panel A", external_id="eq_a", manufacturer="Square D")
    f.conductor(eq)
    f.photo(eq)
    for _ in range(3):
        f.maintenance(eq)
    RecordChange.objects.all().delete()
    return eq


def test_unchanged_save_writes_nothing(admin_client, eq):
    post_edit(admin_client, eq)
    assert not FieldOverride.objects.exists()
    assert not RecordChange.objects.exists()
    eq.refresh_from_db()
    assert eq.changed_at is None


def test_equipment_edit_creates_override_and_change(admin_client, admin_user, eq):
    post_edit(admin_client, eq, name="Panel A (north)", install_date="2010-06-01")
    eq.refresh_from_db()
    assert eq.name == "Panel A (north)"
    assert eq.install_date == datetime.date(2010, 6, 1)
    assert eq.changed_at is not None
    overrides = {o.field: o for o in FieldOverride.objects.filter(external_id="eq_a")}
    assert set(overrides) == {"name", "install_date"}
    assert overrides["name"].kind == "equipment"
    assert overrides["name"].value == "Panel A (north)"
    assert overrides["name"].condoit_value == "Panel A"
    assert overrides["name"].created_by == admin_user
    assert overrides["install_date"].value == "2010-06-01"
    assert overrides["install_date"].condoit_value == "2005-03-15"
    change = RecordChange.objects.get()
    assert (change.kind, change.external_id, change.facility_external_id, change.source) == (
        "equipment",
        "eq_a",
        "fac_main",
        "staff",
    )

    # A second edit keeps Condoit's value, not the first staff value.
    post_edit(admin_client, eq, name="Panel A (south)")
    ov = FieldOverride.objects.get(external_id="eq_a", field="name")
    assert (ov.value, ov.condoit_value) == ("Panel A (south)", "Panel A")
    assert RecordChange.objects.count() == 2


def test_change_form_shows_override_table(admin_client, eq):
    post_edit(admin_client, eq, manufacturer="Eaton")
    response = admin_client.get(change_url(eq))
    text = response.text
    assert 'class="staff-overrides"' in text
    table = text[text.index('class="staff-overrides"') :]
    table = table[: table.index("</table>")]
    assert "<td>manufacturer</td><td>Eaton</td><td>Square D</td>" in table
    # and on the field itself
    assert "Condoit&#x27;s value: Square D" in text or "Condoit's value: Square D" in text


def test_own_fields_record_a_change_without_override(admin_client, eq):
    post_edit(admin_client, eq, life_years_override="25", interval_months_override="6")
    eq.refresh_from_db()
    assert (eq.life_years_override, eq.interval_months_override) == (25.0, 6)
    assert not FieldOverride.objects.exists()
    assert RecordChange.objects.get().source == "staff"


def test_class_edit_retypes_the_equipment(admin_client, eq):
    post_edit(admin_client, eq, equipment_class="Dry Type Transformer")
    eq.refresh_from_db()
    assert (eq.type, eq.class_mapped) == ("transformer", True)
    ov = FieldOverride.objects.get(field="equipment_class")
    assert (ov.value, ov.condoit_value) == ("Dry Type Transformer", "Panelboard")


def test_feeds_from_edit_overrides_the_condoit_reference(admin_client, eq):
    upstream = f.equipment(eq.facility, external_id="eq_up", name="MSB")
    post_edit(admin_client, eq, feeds_from=str(upstream.pk))
    eq.refresh_from_db()
    assert eq.feeds_from == upstream and eq.feeds_from_external_id == "eq_up"
    ov = FieldOverride.objects.get(external_id="eq_a")
    assert (ov.field, ov.value, ov.condoit_value) == ("feeds_from_external_id", "eq_up", "")


def test_moving_equipment_records_both_facilities(admin_client, eq):
    main = eq.facility
    other = f.facility(external_id="fac_other", name="Other Site")
    post_edit(admin_client, eq, facility=str(other.pk))
    eq.refresh_from_db()
    assert eq.facility == other
    ov = FieldOverride.objects.get(external_id="eq_a")
    # stored under the column the ingestion overrides (its cleaned facility_id)
    assert (ov.field, ov.value, ov.condoit_value) == ("facility_id", other.pk, main.pk)
    assert set(RecordChange.objects.values_list("facility_external_id", flat=True)) == {
        "fac_main",
        "fac_other",
    }
    text = admin_client.get(change_url(eq)).text
    assert f"<td>facility</td><td>Other Site (fac_other)</td><td>{main}</td>" in text

    # removing the override moves it back
    admin_client.post(
        reverse("admin:facilities_fieldoverride_delete", args=[ov.pk]), {"post": "yes"}
    )
    eq.refresh_from_db()
    assert eq.facility == main


def test_facility_edit(admin_client, admin_user):
    fac = f.facility(external_id="fac_x", outdoor_exposure="minimal", humidity_avg=40)
    post_edit(admin_client, fac, outdoor_exposure="severe", humidity_avg="55.5")
    fac.refresh_from_db()
    assert fac.outdoor_exposure == "severe"
    overrides = {o.field: (o.value, o.condoit_value) for o in FieldOverride.objects.all()}
    assert overrides == {"outdoor_exposure": ("severe", "minimal"), "humidity_avg": (55.5, 40.0)}
    change = RecordChange.objects.get()
    assert (change.kind, change.external_id, change.facility_external_id, change.source) == (
        "facility",
        "fac_x",
        "fac_x",
        "staff",
    )


def test_facility_datetime_edit_is_stored_as_iso(admin_client):
    fac = f.facility(last_inspection_at=datetime.datetime(2024, 6, 1, 15, tzinfo=datetime.UTC))
    data_changes = {"last_inspection_at_0": "2024-07-02", "last_inspection_at_1": "08:30:00"}
    post_edit(admin_client, fac, **data_changes)
    ov = FieldOverride.objects.get(field="last_inspection_at")
    assert datetime.datetime.fromisoformat(ov.value) == Facility.objects.get().last_inspection_at
    assert datetime.datetime.fromisoformat(ov.condoit_value) == datetime.datetime(
        2024, 6, 1, 15, tzinfo=datetime.UTC
    )


def test_maintenance_edit(admin_client, eq):
    mr = eq.maintenance.first()
    post_edit(admin_client, mr, technician="R. Roe", findings="hot lug")
    overrides = {o.field: (o.value, o.condoit_value) for o in FieldOverride.objects.all()}
    assert overrides == {"technician": ("R. Roe", "J. Doe"), "findings": ("hot lug", "ok")}
    assert {o.kind for o in FieldOverride.objects.all()} == {"maintenanceRecord"}
    change = RecordChange.objects.get()
    assert (change.kind, change.external_id, change.facility_external_id) == (
        "maintenanceRecord",
        mr.external_id,
        "fac_main",
    )


def test_removing_an_override_gives_the_field_back_to_condoit(admin_client, eq):
    post_edit(admin_client, eq, name="Staff name", install_date="2011-01-01")
    ov = FieldOverride.objects.get(field="name")
    RecordChange.objects.all().delete()
    response = admin_client.post(
        reverse("admin:facilities_fieldoverride_delete", args=[ov.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    eq.refresh_from_db()
    assert eq.name == "Panel A"
    assert eq.install_date == datetime.date(2011, 1, 1)  # the other override stays
    assert list(FieldOverride.objects.values_list("field", flat=True)) == ["install_date"]
    assert RecordChange.objects.get().source == "staff"

    # the bulk action does the same
    response = admin_client.post(
        reverse("admin:facilities_fieldoverride_changelist"),
        {
            "action": "remove_overrides",
            "_selected_action": [str(FieldOverride.objects.get().pk)],
            "index": "0",
        },
    )
    assert response.status_code == 302
    eq.refresh_from_db()
    assert eq.install_date == datetime.date(2005, 3, 15)
    assert not FieldOverride.objects.exists()


def test_mirrors_cannot_be_added_or_deleted(admin_client, eq):
    assert admin_client.get(reverse("admin:equipment_equipment_add")).status_code == 403
    response = admin_client.get(reverse("admin:equipment_equipment_delete", args=[eq.pk]))
    assert response.status_code == 403


def test_maintenance_moved_to_other_equipment_names_the_equipment_it_left(admin_client, eq):
    other_fac = f.facility(external_id="fac_other")
    other = f.equipment(other_fac, name="Panel Z", external_id="eq_z")
    RecordChange.objects.all().delete()
    mr = eq.maintenance.first()
    post_edit(admin_client, mr, equipment=str(other.pk))
    changes = set(RecordChange.objects.values_list("kind", "external_id", "facility_external_id"))
    assert changes == {
        ("maintenanceRecord", mr.external_id, "fac_main"),
        ("maintenanceRecord", mr.external_id, "fac_other"),
        # the equipment the record left: its figures change too
        ("equipment", "eq_a", "fac_main"),
    }


def test_maintenance_edit_in_place_names_no_other_equipment(admin_client, eq):
    mr = eq.maintenance.first()
    post_edit(admin_client, mr, technician="R. Roe")
    assert not RecordChange.objects.filter(kind="equipment").exists()
