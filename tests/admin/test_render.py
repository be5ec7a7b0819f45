"""Every admin page of the MasterBus apps renders for staff, with data present."""

import pytest
from django.contrib import admin
from django.urls import reverse

from equipment.models import EquipmentClassMapping, MaterialMapping, TypeProfile

pytestmark = pytest.mark.django_db

MODELS = sorted(
    (m for m in admin.site._registry if m._meta.app_label in {"facilities", "equipment"}),
    key=lambda m: m._meta.label,
)
EXPECTED = {
    "facilities.Facility",
    "facilities.SyncRun",
    "facilities.RejectedRecord",
    "facilities.SyncCursor",
    "facilities.ProcessedEvent",
    "facilities.RecordChange",
    "facilities.FieldOverride",
    "equipment.Equipment",
    "equipment.MaintenanceRecord",
    "equipment.EquipmentClassMapping",
    "equipment.MaterialMapping",
    "equipment.TypeProfile",
}
# Condoit mirrors and sync bookkeeping are never created by hand.
ADDABLE = {"equipment.EquipmentClassMapping", "equipment.MaterialMapping", "equipment.TypeProfile"}


def one_object(model, world):
    by_label = {
        "facilities.Facility": world["facility"],
        "facilities.SyncRun": world["run"],
        "facilities.RejectedRecord": world["rejection"],
        "facilities.SyncCursor": world["cursor"],
        "facilities.ProcessedEvent": world["event"],
        "facilities.RecordChange": world["change"],
        "facilities.FieldOverride": world["override"],
        "equipment.Equipment": world["equipment"],
        "equipment.MaintenanceRecord": world["maintenance"],
        "equipment.EquipmentClassMapping": EquipmentClassMapping.objects.first(),
        "equipment.MaterialMapping": MaterialMapping.objects.first(),
        "equipment.TypeProfile": TypeProfile.objects.first(),
    }
    return by_label[model._meta.label]


def url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_all_expected_models_registered():
    assert {m._meta.label for m in MODELS} == EXPECTED


def test_site_header(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "MasterBus administration" in response.text


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_changelist_renders_with_rows(admin_client, world, model):
    obj = one_object(model, world)
    assert obj is not None
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    assert obj.pk in {o.pk for o in response.context["cl"].result_list}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_change_form_renders(admin_client, world, model):
    obj = one_object(model, world)
    response = admin_client.get(url(model, "change", obj.pk))
    assert response.status_code == 200
    assert response.context["original"].pk == obj.pk


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_add_form_where_allowed(admin_client, world, model):
    response = admin_client.get(url(model, "add"))
    assert response.status_code == (200 if model._meta.label in ADDABLE else 403)


@pytest.mark.parametrize(
    "model",
    [m for m in MODELS if admin.site._registry[m].list_filter],
    ids=lambda m: m._meta.label,
)
def test_every_filter_choice_renders(admin_client, world, model):
    """Click every choice of every list filter: each page renders."""
    response = admin_client.get(url(model, "changelist"))
    queries = set()
    for spec in response.context["cl"].filter_specs:
        for choice in spec.choices(response.context["cl"]):
            queries.add(choice["query_string"])
    assert queries
    for query in sorted(queries):
        page = admin_client.get(url(model, "changelist") + query)
        assert page.status_code == 200, query


def test_sync_run_page_shows_rejections_and_warnings(admin_client, world):
    response = admin_client.get(url(world["run"].__class__, "change", world["run"].pk))
    text = response.text
    assert "eq_bad" in text and "not a real date" in text and "installDate" in text
    assert "unmapped_class" in text and "Gizmo" in text
    assert "2024-02-30" in text  # the raw preview
    assert reverse("admin:equipment_equipmentclassmapping_unmapped") in text


def test_equipment_page_shows_inlines(admin_client, world):
    eq = world["equipment"]
    response = admin_client.get(url(eq.__class__, "change", eq.pk))
    text = response.text
    assert world["maintenance"].external_id in text
    assert eq.conductors.get().external_id in text
    assert "Not fetched yet" in text  # photo status, read-only
    assert f"?equipment__exact={eq.pk}" in text


def test_facility_page_lists_its_equipment(admin_client, world):
    fac = world["facility"]
    response = admin_client.get(url(fac.__class__, "change", fac.pk))
    assert world["equipment"].external_id in response.text
    assert f"?facility__exact={fac.pk}" in response.text


def test_condoit_fields_are_read_only(admin_client, world):
    fac = world["facility"]
    form = admin_client.get(url(fac.__class__, "change", fac.pk)).context["adminform"].form
    for name in ("external_id", "condoit_created_at", "condoit_updated_at", "deleted_at", "extra"):
        assert name not in form.fields
    eq = world["equipment"]
    form = admin_client.get(url(eq.__class__, "change", eq.pk)).context["adminform"].form
    for name in ("external_id", "condoit_updated_at", "type", "class_mapped", "content_hash"):
        assert name not in form.fields
    assert {"name", "facility", "feeds_from", "life_years_override"} <= set(form.fields)
