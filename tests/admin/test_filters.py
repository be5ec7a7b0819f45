"""Changelist filters and search return the right rows."""

import pytest
from django.urls import reverse
from django.utils import timezone

from facilities.choices import RecordKind
from facilities.models import RecordChange
from facilities.services import override_set

from . import factories as f

pytestmark = pytest.mark.django_db


def rows(client, name, query=""):
    response = client.get(reverse(f"admin:{name}_changelist") + query)
    assert response.status_code == 200
    return {getattr(o, "external_id", o.pk) for o in response.context["cl"].result_list}


@pytest.fixture
def facilities():
    a = f.facility(name="Alpha Plant", city="Peoria", state="IL", contractor="Volt Bros")
    b = f.facility(
        name="Beta Depot", city="Austin", state="TX", street="9 Elm St", outdoor_exposure="severe"
    )
    c = f.facility(name="Gamma Yard", state="TX", deleted_at=timezone.now())
    return a, b, c


def test_facility_search(admin_client, facilities):
    a, b, c = facilities
    assert rows(admin_client, "facilities_facility", "?q=volt") == {a.external_id}
    assert rows(admin_client, "facilities_facility", "?q=austin") == {b.external_id}
    assert rows(admin_client, "facilities_facility", "?q=elm") == {b.external_id}
    assert rows(admin_client, "facilities_facility", f"?q={c.external_id}") == {c.external_id}


def test_facility_filters(admin_client, facilities, admin_user):
    a, b, c = facilities
    fac = "facilities_facility"
    assert rows(admin_client, fac, "?state=TX") == {b.external_id, c.external_id}
    assert rows(admin_client, fac, "?outdoor_exposure__exact=severe") == {b.external_id}
    assert rows(admin_client, fac, "?deleted=yes") == {c.external_id}
    assert rows(admin_client, fac, "?deleted=no") == {a.external_id, b.external_id}
    override_set(
        kind=RecordKind.FACILITY,
        external_id=a.external_id,
        field="name",
        value="Alpha",
        condoit_value="Alpha Plant",
        user=admin_user,
    )
    assert rows(admin_client, fac, "?overridden=yes") == {a.external_id}
    assert rows(admin_client, fac, "?overridden=no") == {b.external_id, c.external_id}


def test_facility_equipment_count_counts_live_equipment(admin_client, facilities):
    a, b, _ = facilities
    f.equipment(a)
    f.equipment(a)
    f.equipment(a, deleted_at=timezone.now())
    response = admin_client.get(reverse("admin:facilities_facility_changelist"))
    counts = {o.external_id: o.equipment_live for o in response.context["cl"].result_list}
    assert counts[a.external_id] == 2 and counts[b.external_id] == 0
    assert f'?facility__exact={a.pk}">2</a>' in response.text


@pytest.fixture
def equipment(facilities):
    a, b, _ = facilities
    copper = f.equipment(a, name="Copper Panel", manufacturer="Square D")
    f.conductor(copper, "CU", "copper")
    alu = f.equipment(a, name="Alu Panel", manufacturer="Eaton", serial_number="XYZ-9")
    f.conductor(alu, "ALUM", "aluminum")
    f.conductor(alu, "CU", "copper")
    odd = f.equipment(
        b, name="Odd Gizmo", equipment_class="Gizmo", type="other", class_mapped=False
    )
    f.conductor(odd, "Zinc", "")
    bare = f.equipment(b, name="Bare Busway", deleted_at=timezone.now())
    return copper, alu, odd, bare


def test_equipment_filters(admin_client, equipment, facilities):
    copper, alu, odd, bare = equipment
    a, b, _ = facilities
    eq = "equipment_equipment"
    assert rows(admin_client, eq, "?material=copper") == {copper.external_id, alu.external_id}
    assert rows(admin_client, eq, "?material=aluminum") == {alu.external_id}
    assert rows(admin_client, eq, "?material=unknown") == {odd.external_id}
    assert rows(admin_client, eq, "?material=none") == {bare.external_id}
    assert rows(admin_client, eq, "?class_mapped__exact=0") == {odd.external_id}
    assert rows(admin_client, eq, "?deleted=yes") == {bare.external_id}
    assert rows(admin_client, eq, "?type__exact=other") == {odd.external_id}
    assert rows(admin_client, eq, f"?facility__id__exact={b.pk}") == {
        odd.external_id,
        bare.external_id,
    }
    assert rows(admin_client, eq, f"?facility__exact={a.pk}") == {
        copper.external_id,
        alu.external_id,
    }
    RecordChange.objects.all().delete()
    override_set(
        kind=RecordKind.EQUIPMENT,
        external_id=alu.external_id,
        field="name",
        value="x",
        condoit_value="Alu Panel",
    )
    assert rows(admin_client, eq, "?overridden=yes") == {alu.external_id}


def test_equipment_search(admin_client, equipment):
    copper, alu, odd, bare = equipment
    eq = "equipment_equipment"
    assert rows(admin_client, eq, "?q=xyz-9") == {alu.external_id}  # serial number
    assert rows(admin_client, eq, "?q=eaton") == {alu.external_id}  # manufacturer
    assert rows(admin_client, eq, "?q=gizmo") == {odd.external_id}  # class and name
    assert rows(admin_client, eq, "?q=beta+depot") == {odd.external_id, bare.external_id}


def test_maintenance_filters_and_search(admin_client, equipment, facilities):
    copper, alu, odd, _ = equipment
    a, b, _ = facilities
    m1 = f.maintenance(copper, type="inspection", technician="Ann Smith")
    m2 = f.maintenance(alu, type="emergency")
    m3 = f.maintenance(odd, type="inspection", deleted_at=timezone.now())
    mr = "equipment_maintenancerecord"
    assert rows(admin_client, mr, "?type__exact=inspection") == {m1.external_id, m3.external_id}
    assert rows(admin_client, mr, "?deleted=yes") == {m3.external_id}
    assert rows(admin_client, mr, f"?equipment__facility__id__exact={a.pk}") == {
        m1.external_id,
        m2.external_id,
    }
    assert rows(admin_client, mr, f"?equipment__exact={alu.pk}") == {m2.external_id}
    assert rows(admin_client, mr, "?q=smith") == {m1.external_id}


def test_sync_run_and_outbox_filters(admin_client):
    noisy = f.sync_run()
    quiet = f.sync_run(warnings=[], source="pull", status="succeeded")
    assert rows(admin_client, "facilities_syncrun", "?warnings=yes") == {noisy.pk}
    assert rows(admin_client, "facilities_syncrun", "?warnings=no") == {quiet.pk}
    assert rows(admin_client, "facilities_syncrun", "?source__exact=pull") == {quiet.pk}
    r1 = f.rejection(noisy, field="name")
    f.rejection(quiet, field="installDate")
    assert rows(admin_client, "facilities_rejectedrecord", "?field=name") == {r1.pk}
    assert rows(admin_client, "facilities_rejectedrecord", "?sync_run__source__exact=file") == {
        r1.pk
    }
    done = RecordChange.objects.create(
        kind="equipment", external_id="eq_1", source="file", recomputed_at=timezone.now()
    )
    pending = RecordChange.objects.create(kind="facility", external_id="fac_1", source="staff")
    assert rows(admin_client, "facilities_recordchange", "?pending=yes") == {"fac_1"}
    assert rows(admin_client, "facilities_recordchange", "?pending=no") == {"eq_1"}
    assert rows(admin_client, "facilities_recordchange", "?source__exact=staff") == {"fac_1"}
    assert done.pk != pending.pk


def test_processed_event_search(admin_client):
    from facilities.models import ProcessedEvent

    ProcessedEvent.objects.create(event_id="evt_abc", event_type="facility.updated", outcome="ok")
    ProcessedEvent.objects.create(event_id="evt_xyz", event_type="facility.updated", outcome="ok")
    assert rows(admin_client, "facilities_processedevent", "?q=evt_abc") == {
        ProcessedEvent.objects.get(event_id="evt_abc").pk
    }
