"""Mirrored records → the item shapes VoltMetrics ingests (voltmetrics.md).

Each builder takes external ids and returns ``{external_id: item}`` for the records that
exist and are not deleted, built from the mirror as it is now, in a few queries per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db.models import Max, Prefetch

from equipment.models import Conductor, Equipment, MaintenanceRecord, Photo
from facilities.models import Facility


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def _coordinates(lat, lon) -> dict | None:
    if lat is None or lon is None:
        return None
    return {"latitude": lat, "longitude": lon}


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(key: str) -> str:
    return _CAMEL.sub("_", key).lower()


def _interval_months(eq: Equipment, profiles: dict) -> int | None:
    if eq.interval_months_override:
        return eq.interval_months_override
    profile = profiles.get(eq.type) or {}
    value = profile.get("interval_months")
    return int(value) if value is not None else None


def _model_profiles() -> dict:
    from voltmetrics.models import ModelVersion

    version = ModelVersion.objects.filter(is_current=True).only("profiles").first()
    return (version.profiles if version else None) or {}


def equipment_items(external_ids: Iterable[str]) -> dict[str, dict]:
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        return {}
    profiles = _model_profiles()
    qs = (
        Equipment.objects.filter(
            external_id__in=ids, deleted_at__isnull=True, facility__deleted_at__isnull=True
        )
        .select_related("facility")
        .prefetch_related(
            Prefetch("conductors", queryset=Conductor.objects.order_by("id")),
            Prefetch("photos", queryset=Photo.objects.order_by("taken_at", "external_id")),
        )
        .annotate(
            last_service=Max(
                "maintenance__performed_at",
                filter=_active_maintenance(),
            )
        )
    )
    out: dict[str, dict] = {}
    for eq in qs:
        out[eq.external_id] = equipment_item(eq, profiles)
    return out


def _active_maintenance():
    from django.db.models import Q

    return Q(maintenance__deleted_at__isnull=True)


def equipment_item(eq: Equipment, profiles: dict) -> dict:
    specs = eq.specs if isinstance(eq.specs, dict) else {}
    physical = {
        "voltage": specs.get("voltage"),
        "amperage": specs.get("amperage"),
        "phases": specs.get("phases"),
        "mount_type": specs.get("mountType"),
        "enclosure_type": specs.get("enclosureType"),
    }
    for key, value in specs.items():
        name = _snake(key)
        if name not in physical:
            physical[name] = value
    physical["load_percent"] = eq.load_percent
    obs = eq.observations if isinstance(eq.observations, dict) else {}
    fac = eq.facility
    last_service = getattr(eq, "last_service", None)
    return {
        "id": eq.external_id,
        "type": eq.type,
        "manufacturer": eq.manufacturer,
        "model": eq.model,
        "install_date": _iso(eq.install_date),
        "physical_data": physical,
        "location": {
            "facility_id": fac.external_id,
            "building": eq.building,
            "room": eq.room,
            "coordinates": _coordinates(eq.latitude, eq.longitude),
        },
        "conductors": [
            {
                "id": c.external_id,
                # The mapped material when known, else Condoit's code as sent.
                "material": c.material or c.material_code,
                "size": c.size,
                "connection_type": c.connection_type,
            }
            for c in eq.conductors.all()
        ],
        "condition": {
            "corrosion_level": obs.get("corrosion"),
            "rust_level": obs.get("rust"),
            "temperature": obs.get("operatingTempC"),
            "humidity": fac.humidity_avg,
        },
        "maintenance": {
            "last_service_date": _iso(last_service.date()) if last_service else None,
            "service_interval_months": _interval_months(eq, profiles),
        },
        "photos": [
            {"id": p.external_id, "url": p.url, "taken_at": _iso(p.taken_at)}
            for p in eq.photos.all()
        ],
    }


def facility_items(external_ids: Iterable[str]) -> dict[str, dict]:
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        return {}
    return {
        fac.external_id: facility_item(fac)
        for fac in Facility.objects.filter(external_id__in=ids, deleted_at__isnull=True)
    }


def facility_item(fac: Facility) -> dict:
    return {
        "id": fac.external_id,
        "name": fac.name,
        "location": fac.location,
        "coordinates": _coordinates(fac.latitude, fac.longitude),
        "year_built": fac.year_built,
        "environment": {
            "humidity_average": fac.humidity_avg,
            "temperature_average": fac.temperature_avg_f,
            "outdoor_exposure": fac.outdoor_exposure or None,
        },
        "compliance": {
            "last_arc_flash_study": _iso(fac.arc_flash_study_date),
            "last_infrared_scan": _iso(fac.infrared_scan_date),
        },
    }


def maintenance_items(external_ids: Iterable[str]) -> dict[str, dict]:
    ids = list(dict.fromkeys(external_ids))
    if not ids:
        return {}
    qs = MaintenanceRecord.objects.filter(
        external_id__in=ids, deleted_at__isnull=True, equipment__deleted_at__isnull=True
    ).select_related("equipment")
    return {mr.external_id: maintenance_item(mr) for mr in qs}


def maintenance_item(mr: MaintenanceRecord) -> dict:
    return {
        "id": mr.external_id,
        "equipment_id": mr.equipment.external_id,
        "type": mr.type,
        "date": _iso(mr.performed_at.date()),
        "technician": mr.technician,
        "findings": mr.findings,
        "actions_taken": mr.actions_taken,
        "next_service_due": _iso(mr.next_service_due),
    }
