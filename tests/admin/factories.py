"""ORM builders for the admin tests (mirrored rows as the ingestion would leave them)."""

import datetime
import itertools

from django.utils import timezone

from equipment.models import Conductor, Equipment, MaintenanceRecord, Photo
from facilities.models import Facility, RejectedRecord, SyncRun

_seq = itertools.count(1)
TS = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


def facility(**over) -> Facility:
    n = next(_seq)
    fields = {
        "external_id": f"fac_{n}",
        "name": f"Facility {n}",
        "street": "123 Main St",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "contractor": "Sparky Electric",
        "outdoor_exposure": "minimal",
        "year_built": 1990,
        "condoit_created_at": TS,
        "condoit_updated_at": TS,
        "synced_at": TS,
    }
    fields.update(over)
    return Facility.objects.create(**fields)


def equipment(fac: Facility, **over) -> Equipment:
    n = next(_seq)
    fields = {
        "external_id": f"eq_{n}",
        "facility": fac,
        "equipment_class": "Panelboard",
        "type": "panel",
        "class_mapped": True,
        "name": f"Panel {n}",
        "manufacturer": "Square D",
        "serial_number": f"SN{n}",
        "install_date": datetime.date(2005, 3, 15),
        "specs": {"voltage": "208Y/120V", "amperage": 225},
        "condoit_created_at": TS,
        "condoit_updated_at": TS,
    }
    fields.update(over)
    return Equipment.objects.create(**fields)


def conductor(eq: Equipment, material_code="CU", material="copper", **over) -> Conductor:
    n = next(_seq)
    return Conductor.objects.create(
        equipment=eq,
        external_id=f"cd_{n}",
        material_code=material_code,
        material=material,
        size="4/0",
        connection_type="lug",
        **over,
    )


def photo(eq: Equipment, **over) -> Photo:
    n = next(_seq)
    fields = {"external_id": f"ph_{n}", "equipment": eq, "url": f"https://img.example/{n}.jpg"}
    fields.update(over)
    return Photo.objects.create(**fields)


def maintenance(eq: Equipment, **over) -> MaintenanceRecord:
    n = next(_seq)
    fields = {
        "external_id": f"mr_{n}",
        "equipment": eq,
        "type": "preventive",
        "performed_at": TS - datetime.timedelta(days=n),
        "technician": "J. Doe",
        "findings": "ok",
        "condoit_created_at": TS,
        "condoit_updated_at": TS,
    }
    fields.update(over)
    return MaintenanceRecord.objects.create(**fields)


def sync_run(**over) -> SyncRun:
    fields = {
        "source": "file",
        "label": "export.json",
        "status": "partial",
        "finished_at": timezone.now(),
        "created": 3,
        "rejected": 1,
        "warnings": [
            {"code": "unmapped_class", "message": "unmapped class", "value": "Gizmo", "count": 2}
        ],
    }
    fields.update(over)
    return SyncRun.objects.create(**fields)


def rejection(run: SyncRun, **over) -> RejectedRecord:
    fields = {
        "kind": "equipment",
        "record_id": "eq_bad",
        "line": 7,
        "field": "installDate",
        "reason": "not a real date",
        "raw": '{"id": "eq_bad", "installDate": "2024-02-30"}',
    }
    fields.update(over)
    return RejectedRecord.objects.create(sync_run=run, **fields)
