"""Mapping edits in the admin re-type / re-map the mirrored records, with outbox rows."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from equipment.models import Conductor, Equipment, EquipmentClassMapping, MaterialMapping
from equipment.services import class_mapping_apply, material_mapping_apply
from facilities.choices import RecordKind
from facilities.models import RecordChange
from facilities.services import override_set

from . import factories as f

pytestmark = pytest.mark.django_db


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def widgets():
    fac = f.facility()
    unmapped = {"type": "other", "class_mapped": False}
    return fac, [
        f.equipment(fac, equipment_class="Widget Box", **unmapped),
        f.equipment(fac, equipment_class="WIDGET BOX", **unmapped),
        f.equipment(fac, equipment_class="  widget   Box ", **unmapped),
        f.equipment(fac, equipment_class="Widget Boxes", **unmapped),  # a different class
        f.equipment(fac, equipment_class="Widget Box", deleted_at=timezone.now(), **unmapped),
    ]


def test_unmapped_classes_page(admin_client, widgets):
    fac, _ = widgets
    f.equipment(fac, equipment_class="Gizmo", type="other", class_mapped=False)
    f.equipment(fac, equipment_class="Panelboard")  # mapped: not listed
    response = admin_client.get(reverse("admin:equipment_equipmentclassmapping_unmapped"))
    assert response.status_code == 200
    rows = {r["key"]: (r["live"], r["deleted"]) for r in response.context["rows"]}
    assert rows == {"widget box": (3, 1), "widget boxes": (1, 0), "gizmo": (1, 0)}
    assert [r["key"] for r in response.context["rows"]][0] == "widget box"  # most first
    add = reverse("admin:equipment_equipmentclassmapping_add")
    assert f"{add}?condoit_class=Gizmo" in response.text
    assert "Panelboard" not in response.text


def test_changelist_links_to_unmapped_page(admin_client):
    response = admin_client.get(reverse("admin:equipment_equipmentclassmapping_changelist"))
    assert reverse("admin:equipment_equipmentclassmapping_unmapped") in response.text


def test_add_form_is_prefilled(admin_client):
    response = admin_client.get(
        reverse("admin:equipment_equipmentclassmapping_add") + "?condoit_class=Widget+Box"
    )
    assert response.context["adminform"].form.initial["condoit_class"] == "Widget Box"


def test_saving_a_class_mapping_retypes_equipment(admin_client, widgets):
    fac, (e1, e2, e3, other, gone) = widgets
    RecordChange.objects.all().delete()
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_add"),
        {"condoit_class": "Widget Box", "type": "ups", "_save": "Save"},
    )
    assert response.status_code == 302
    assert "Re-typed 4 equipment." in messages_of(response)
    mapping = EquipmentClassMapping.objects.get(condoit_class="widget box")
    assert mapping.type == "ups"
    for eq in (e1, e2, e3, gone):
        eq.refresh_from_db()
        assert (eq.type, eq.class_mapped) == ("ups", True)
        assert eq.changed_at is not None
    other.refresh_from_db()
    assert (other.type, other.class_mapped, other.changed_at) == ("other", False, None)
    changes = RecordChange.objects.all()
    assert {(c.external_id, c.facility_external_id, c.source, c.kind) for c in changes} == {
        (eq.external_id, fac.external_id, "mapping", RecordKind.EQUIPMENT)
        for eq in (e1, e2, e3, gone)
    }

    # Changing the type of the mapping re-types them again.
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_change", args=[mapping.pk]),
        {"condoit_class": "widget box", "type": "generator", "_save": "Save"},
    )
    assert response.status_code == 302
    e1.refresh_from_db()
    assert e1.type == "generator"
    assert RecordChange.objects.count() == 8

    # Deleting the mapping makes them other and unmapped.
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_delete", args=[mapping.pk]),
        {"post": "yes"},
    )
    assert response.status_code == 302
    assert "Re-typed 4 equipment." in messages_of(response)
    for eq in (e1, e2, e3, gone):
        eq.refresh_from_db()
        assert (eq.type, eq.class_mapped) == ("other", False)
    assert RecordChange.objects.filter(source="mapping").count() == 12


def test_duplicate_class_mapping_in_another_case_is_a_form_error(admin_client):
    EquipmentClassMapping.objects.create(condoit_class="Widget Box", type="panel")
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_add"),
        {"condoit_class": "  WIDGET  box", "type": "ups", "_save": "Save"},
    )
    assert response.status_code == 200
    assert "condoit_class" in response.context["adminform"].form.errors


def test_renaming_a_mapping_releases_the_old_class(admin_client, widgets):
    fac, (e1, *_rest) = widgets
    gizmo = f.equipment(fac, equipment_class="Gizmo", type="other", class_mapped=False)
    mapping = EquipmentClassMapping.objects.create(condoit_class="widget box", type="ups")
    class_mapping_apply(mapping_key="widget box")
    e1.refresh_from_db()
    assert e1.type == "ups"
    admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_change", args=[mapping.pk]),
        {"condoit_class": "Gizmo", "type": "ups", "_save": "Save"},
    )
    e1.refresh_from_db()
    gizmo.refresh_from_db()
    assert (e1.type, e1.class_mapped) == ("other", False)
    assert (gizmo.type, gizmo.class_mapped) == ("ups", True)


def test_list_editable_type_change_retypes(admin_client):
    fac = f.facility()
    eq = f.equipment(fac, equipment_class="Panelboard", type="panel")
    mapping = EquipmentClassMapping.objects.get(condoit_class="panelboard")
    mappings = list(EquipmentClassMapping.objects.order_by("condoit_class"))
    data = {
        "form-TOTAL_FORMS": str(len(mappings)),
        "form-INITIAL_FORMS": str(len(mappings)),
        "_save": "Save",
    }
    for i, m in enumerate(mappings):
        data[f"form-{i}-id"] = str(m.pk)
        data[f"form-{i}-type"] = "switchboard" if m.pk == mapping.pk else m.type
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_changelist") + "?all=",
        data,
    )
    assert response.status_code == 302
    eq.refresh_from_db()
    assert eq.type == "switchboard"


def test_class_mapping_apply_is_idempotent_and_respects_type_override():
    fac = f.facility()
    plain = f.equipment(fac, equipment_class="Gizmo", type="other", class_mapped=False)
    pinned = f.equipment(fac, equipment_class="gizmo", type="meter", class_mapped=False)
    override_set(
        kind=RecordKind.EQUIPMENT,
        external_id=pinned.external_id,
        field="type",
        value="meter",
        condoit_value="other",
    )
    EquipmentClassMapping.objects.create(condoit_class="GIZMO", type="ups")
    assert class_mapping_apply(mapping_key="Gizmo") == 1
    assert class_mapping_apply(mapping_key="gizmo") == 0
    plain.refresh_from_db()
    pinned.refresh_from_db()
    assert plain.type == "ups" and pinned.type == "meter"


def test_saving_a_material_mapping_remaps_conductors(admin_client):
    fac = f.facility()
    eq1 = f.equipment(fac)
    eq2 = f.equipment(fac)
    c1 = f.conductor(eq1, "Cuivre", "")
    c2 = f.conductor(eq2, " CUIVRE ", "")
    c3 = f.conductor(eq2, "Zinc", "")
    RecordChange.objects.all().delete()
    response = admin_client.post(
        reverse("admin:equipment_materialmapping_add"),
        {"code": "cuivre", "material": "copper", "_save": "Save"},
    )
    assert response.status_code == 302
    assert "Re-mapped 2 conductors." in messages_of(response)
    assert Conductor.objects.get(pk=c1.pk).material == "copper"
    assert Conductor.objects.get(pk=c2.pk).material == "copper"
    assert Conductor.objects.get(pk=c3.pk).material == ""
    assert set(RecordChange.objects.values_list("external_id", "source")) == {
        (eq1.external_id, "mapping"),
        (eq2.external_id, "mapping"),
    }
    assert Equipment.objects.get(pk=eq1.pk).changed_at is not None

    mapping = MaterialMapping.objects.get(code="cuivre")
    admin_client.post(
        reverse("admin:equipment_materialmapping_delete", args=[mapping.pk]), {"post": "yes"}
    )
    assert Conductor.objects.get(pk=c1.pk).material == ""
    assert material_mapping_apply(code_key="cuivre") == 0


def test_mapping_keys_with_regex_characters_match_literally():
    fac = f.facility()
    odd = {"type": "other", "class_mapped": False}
    hit = f.equipment(fac, equipment_class="Pad-Mount (XFMR) 1.5+ kVA", **odd)
    spaced = f.equipment(fac, equipment_class="pad-mount  (xfmr) 1.5+ KVA", **odd)
    miss = f.equipment(fac, equipment_class="Pad-Mount (XFMR) 105+ kVA", **odd)
    EquipmentClassMapping.objects.create(
        condoit_class="PAD-MOUNT (xfmr) 1.5+ kva", type="transformer"
    )
    assert class_mapping_apply(mapping_key="pad-mount (xfmr) 1.5+ kva") == 2
    types = dict(Equipment.objects.values_list("pk", "type"))
    assert (types[hit.pk], types[spaced.pk], types[miss.pk]) == (
        "transformer",
        "transformer",
        "other",
    )
