"""Selectors: mirrored records → engine inputs, loaded set-based in facility batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import orjson
from django.db import connection
from django.db.models import Max
from django.db.models.functions import TruncDate

from equipment.models import Conductor, Equipment, MaintenanceRecord
from facilities.models import Facility
from masterbus.bulk import where_in

from .engine import ConductorIn, EquipmentIn, FacilityIn, MaintenanceIn, ObservationsIn

FACILITY_BATCH = 50
MIN_FACILITY_BATCH = 10
_PERFORMED_ON = TruncDate("performed_at", tzinfo=UTC)
# Stands for the latest maintenance record before the history window (its id is not used).
EARLIER_RECORD_ID = "earlier"


@dataclass(slots=True)
class FacilityRecords:
    """One facility's engine input plus the database ids the service needs to store results."""

    pk: int
    facility: FacilityIn
    equipment_pks: dict[str, int]  # external id → pk of active equipment


def _observations(obs) -> ObservationsIn | None:
    if not obs:
        return None
    return ObservationsIn(
        corrosion=obs.get("corrosion"),
        rust=obs.get("rust"),
        wear=obs.get("wear"),
        heat_discoloration=obs.get("heatDiscoloration"),
        clearance_issue=obs.get("clearanceIssue"),
        operating_temp_c=obs.get("operatingTempC"),
        overall_condition=obs.get("overallCondition"),
    )


def facility_records(
    *,
    facility_pks: Iterable[int] | None = None,
    batch_size: int = FACILITY_BATCH,
    history_from: date | None = None,
) -> Iterator[list[FacilityRecords]]:
    """Yield batches of active facilities with their active equipment, conductors and
    maintenance as engine inputs. A handful of queries per batch, whatever its size.

    With ``history_from`` (the earliest date any figure will be computed at), maintenance
    older than that date is reduced to each equipment's latest such record: the engine only
    ever uses the latest record on or before a date (risk-model.md §3 baseline).
    """
    for pks in facility_batches(facility_pks=facility_pks, batch_size=batch_size):
        yield load_batch(pks, history_from)


def facility_batches(
    *, facility_pks: Iterable[int] | None = None, batch_size: int | None = FACILITY_BATCH
) -> list[list[int]]:
    """The active facilities' pks (all, or those of ``facility_pks``) in batches, in pk order.

    ``batch_size=None``: at most ``FACILITY_BATCH``, and small enough that a few facilities
    still make several batches (work on one batch overlaps reading and writing the others).
    """
    qs = Facility.objects.filter(deleted_at__isnull=True)
    if facility_pks is not None:
        qs = qs.filter(pk__in=list(facility_pks))
    all_pks = list(qs.order_by("pk").values_list("pk", flat=True))
    if batch_size is None:
        batch_size = max(MIN_FACILITY_BATCH, min(FACILITY_BATCH, -(-len(all_pks) // 8)))
    return [all_pks[start : start + batch_size] for start in range(0, len(all_pks), batch_size)]


def fetch_rows(qs) -> list[tuple]:
    """A values_list queryset's rows; on PostgreSQL straight from the driver, skipping the
    ORM's per-value conversion (a large share of loading 100,000 equipment)."""
    if connection.vendor != "postgresql":
        return list(qs)
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def json_value(value):
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def load_batch(
    pks: list[int],
    history_from: date | None = None,
    *,
    records_needed: Callable[[list[FacilityRecords]], Container[int]] | None = None,
) -> list[FacilityRecords]:
    """One batch of facilities (by pk) with their records as engine inputs.

    ``records_needed`` is for callers that already hold the figures of some equipment: it is
    called with the batch as loaded so far, every equipment with its own fields only (no
    conductors, maintenance or observations), and returns the pks of the equipment whose
    records to load. The others stay as they were passed: never assess those.
    """
    facilities = list(
        Facility.objects.filter(pk__in=pks).values_list(
            "pk", "external_id", "name", "year_built", "humidity_avg", "temperature_avg_f",
            "outdoor_exposure", "arc_flash_study_date",
        )
    )  # fmt: skip
    eq_rows = fetch_rows(
        Equipment.objects.filter(facility_id__in=pks, deleted_at__isnull=True).values_list(
            "pk", "facility_id", "external_id", "name", "type", "install_date", "observations",
            "load_percent", "label_present", "serves_critical_load", "life_years_override",
            "interval_months_override", "incident_energy_cal_cm2", "ppe_category",
        )
    )  # fmt: skip
    by_facility: dict[int, list] = defaultdict(list)
    for row in eq_rows:
        by_facility[row[1]].append(row)
    if records_needed is None:
        needed = [row[0] for row in eq_rows]
    else:
        bare = _batch(facilities, by_facility, (), {}, {})
        wanted = records_needed(bare)
        needed = [row[0] for row in eq_rows if row[0] in wanted]
    # Children by the equipment's ids rather than through a join on the facility: the
    # planner reads those by index where the join scanned the whole child table.
    conductors: dict[int, list[ConductorIn]] = defaultdict(list)
    maintenance: dict[int, list[MaintenanceIn]] = defaultdict(list)
    if needed:
        for eq_id, material, connection_type, transition in fetch_rows(
            where_in(Conductor.objects, "equipment_id", needed).values_list(
                "equipment_id", "material", "connection_type", "al_cu_transition"
            )
        ):
            conductors[eq_id].append(
                ConductorIn(material or None, connection_type or None, transition)
            )
        live = where_in(MaintenanceRecord.objects, "equipment_id", needed).filter(
            deleted_at__isnull=True
        )
        if history_from is not None:
            cutoff = datetime.combine(history_from + timedelta(days=1), time(), tzinfo=UTC)
            for eq_id, last in fetch_rows(
                live.filter(performed_at__lt=cutoff)
                .values("equipment_id")
                .annotate(last=Max(_PERFORMED_ON))
                .values_list("equipment_id", "last")
            ):
                maintenance[eq_id].append(MaintenanceIn(EARLIER_RECORD_ID, "", last))
            live = live.filter(performed_at__gte=cutoff)
        # The UTC date, cast by the database: parsing 300,000 timestamps is a visible share.
        for eq_id, ext, type_, performed_on in fetch_rows(
            live.annotate(performed_on=_PERFORMED_ON).values_list(
                "equipment_id", "external_id", "type", "performed_on"
            )
        ):
            maintenance[eq_id].append(MaintenanceIn(ext, type_, performed_on))
    if records_needed is None:
        return _batch(facilities, by_facility, None, conductors, maintenance)
    return _batch(facilities, by_facility, set(needed), conductors, maintenance, bare=bare)


def _batch(
    facilities: list[tuple],
    by_facility: dict[int, list[tuple]],
    full: Container[int] | None,
    conductors: dict[int, list[ConductorIn]],
    maintenance: dict[int, list[MaintenanceIn]],
    *,
    bare: list[FacilityRecords] | None = None,
) -> list[FacilityRecords]:
    """Engine inputs from the rows: with records for the equipment in ``full`` (all when
    None), own fields only for the others (taken from ``bare``, built from the same rows,
    where given)."""
    out = []
    for i, (pk, ext, name, year, humidity, temp, exposure, study) in enumerate(facilities):
        equipment = []
        eq_pks = {}
        for j, (
            eq_pk, _fac, eq_ext, eq_name, type_, install, obs, load, label, critical,
            life, interval, energy, ppe,
        ) in enumerate(by_facility.get(pk, ())):  # fmt: skip
            eq_pks[eq_ext] = eq_pk
            records = full is None or eq_pk in full
            if not records and bare is not None:
                equipment.append(bare[i].facility.equipment[j])
                continue
            equipment.append(
                EquipmentIn(
                    id=eq_ext,
                    name=eq_name,
                    type=type_,
                    install_date=install,
                    conductors=tuple(conductors.get(eq_pk, ())) if records else (),
                    observations=_observations(json_value(obs)) if records else None,
                    load_percent=load,
                    label_present=label,
                    serves_critical_load=critical,
                    maintenance=tuple(maintenance.get(eq_pk, ())) if records else (),
                    life_years=life,
                    interval_months=interval,
                    incident_energy=energy,
                    ppe_category=ppe,
                )
            )
        out.append(
            FacilityRecords(
                pk=pk,
                facility=FacilityIn(
                    id=ext,
                    name=name,
                    year_built=year,
                    humidity_avg=humidity,
                    temperature_avg_f=temp,
                    outdoor_exposure=exposure or None,
                    arc_flash_study_date=study,
                    equipment=tuple(equipment),
                ),
                equipment_pks=eq_pks,
            )
        )
    return out
