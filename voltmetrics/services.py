"""Recompute and store risk figures (risk-model.md §10–§11).

The engine is pure; these services feed it mirrored records and store what it returns:
equipment and facility assessments, monthly snapshots (with back-fill) and the portfolio.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import orjson
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from equipment.models import Equipment, MaintenanceRecord
from facilities.choices import RecordKind
from facilities.models import Facility, RecordChange
from masterbus.bulk import bulk_upsert, where_in
from masterbus.changes import announce, figures_changed
from masterbus.gcpause import gc_paused
from masterbus.overlap import Background

from . import engine
from .choices import Source, VersionStatus
from .engine import ModelParams, Thresholds, TypeProfile
from .figures import ServedScore, backfill_months, facility_figures
from .inputs import (
    FacilityRecords,
    facility_batches,
    facility_records,
    fetch_rows,
    load_batch,
)
from .models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    ModelVersion,
    PortfolioAssessment,
    PortfolioSnapshot,
)

log = logging.getLogger(__name__)

# A VoltMetrics result is served only while younger than this (voltmetrics.md).
VOLTMETRICS_FRESHNESS = timedelta(hours=24)


def utc_today() -> date:
    return datetime.now(UTC).date()


# --- model versions -------------------------------------------------------------------------

_model_cache: dict[tuple, ModelParams] = {}


def model_params(version: ModelVersion) -> ModelParams:
    key = (version.pk, version.version, version.published_at)
    params = _model_cache.get(key)
    if params is None:
        params = ModelParams(
            version=version.version,
            weights={k: float(v) for k, v in version.weights.items()},
            thresholds=Thresholds(**version.thresholds),
            profiles={t: TypeProfile(**p) for t, p in version.profiles.items()},
        )
        _model_cache.clear()
        _model_cache[key] = params
    return params


def model_version_current() -> ModelVersion:
    return ModelVersion.objects.get(is_current=True, status=VersionStatus.PUBLISHED)


def model_current() -> ModelParams:
    return model_params(model_version_current())


# --- recompute --------------------------------------------------------------------------------


@dataclass
class RecomputeStats:
    facilities: int = 0
    equipment: int = 0
    snapshots_backfilled: int = 0
    reused: int = 0  # equipment whose stored parts were reused (recompute after changes)
    seconds: float = 0.0
    as_of: date | None = None
    facility_pks: list[int] = field(default_factory=list)


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ChangedRecords:
    """What changed since the stored figures were computed: whole facilities (pks; their
    own fields feed every equipment's figures) and single equipment (external ids; their
    records, conductors or maintenance)."""

    facilities: frozenset[int] = frozenset()
    equipment: frozenset[str] = frozenset()


def risk_recompute(
    *,
    facility_pks: Iterable[int] | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    portfolio: bool = True,
    changed: ChangedRecords | None = None,
) -> RecomputeStats:
    """Recompute the given facilities (all active ones by default), then the portfolio.

    With ``changed`` (a recompute after changes), equipment outside it keep their stored
    per-equipment parts where those were computed at the same ``as_of`` by the same model
    version: only the changed equipment are assessed again, and each facility's figures are
    put together from the parts. Without it, everything is computed from the records.
    """
    started = timezone.now()
    as_of = as_of or utc_today()
    model = model_current()
    stats = RecomputeStats(as_of=as_of)
    pks = None if facility_pks is None else list(facility_pks)
    batches = facility_batches(facility_pks=pks, batch_size=None)
    # Only active facilities are recomputed, so only they count towards the progress total.
    total = sum(len(b) for b in batches)
    history_from = engine.history_points(as_of)[0]
    months = engine.history_points(as_of)[:-1]

    def load(batch_pks: list[int]) -> _BatchInput:
        now = timezone.now()
        frozen = _stored_snapshots(batch_pks, months)
        vm_served = _voltmetrics_served(batch_pks, now)
        reuse: dict[int, dict[str, engine.EquipmentParts]] = {}

        def records_needed(bare: list[FacilityRecords]) -> set[int]:
            # Equipment with reusable parts need no records: their figures are in the parts.
            reuse.update(_stored_parts(bare, as_of, model.version, changed, vm_served, frozen))
            return {
                eq_pk
                for rec in bare
                for ext, eq_pk in rec.equipment_pks.items()
                if ext not in reuse.get(rec.pk, ())
            }

        batch = load_batch(
            batch_pks, history_from, records_needed=None if changed is None else records_needed
        )
        return _BatchInput(batch, frozen, vm_served, now, reuse)

    # Reads of the next batch and writes of the previous one run on a second connection
    # while the engine works on this one (masterbus.overlap; inline where unsafe).
    with gc_paused(), Background(name="recompute") as bg:
        loading = bg.submit(load, batches[0]) if batches else None
        writing = None
        for i in range(len(batches)):
            inputs = loading.result()
            if i + 1 < len(batches):
                loading = bg.submit(load, batches[i + 1])
            out = _compute_batch(inputs, model, as_of, stats)
            if writing is not None:
                writing.result()
            writing = bg.submit(_write_batch, out, as_of)
            if progress:
                progress(stats.facilities, total)
        if writing is not None:
            writing.result()
    # Deleted facilities drop out of every figure: their own assessments and their
    # equipment's go (a full recompute sweeps every deleted facility).
    deleted = Facility.objects.filter(deleted_at__isnull=False)
    if pks is not None:
        deleted = deleted.filter(pk__in=pks)
    FacilityAssessment.objects.filter(facility__in=deleted).delete()
    EquipmentAssessment.objects.filter(equipment__facility__in=deleted).delete()
    if portfolio:
        portfolio_recompute(as_of=as_of, model=model)
    stats.seconds = (timezone.now() - started).total_seconds()
    return stats


def _voltmetrics_served(facility_pks: list[int], now: datetime) -> dict[int, EquipmentAssessment]:
    """VoltMetrics results that win: newer than the record's last change, < 24 h old."""
    fresh = {
        a.equipment_id: a
        for a in EquipmentAssessment.objects.filter(
            equipment__facility_id__in=facility_pks,
            equipment__deleted_at__isnull=True,
            source=Source.VOLTMETRICS,
            computed_at__gt=now - VOLTMETRICS_FRESHNESS,
        )
    }
    if not fresh:
        return {}
    changed = dict(Equipment.objects.filter(pk__in=list(fresh)).values_list("pk", "changed_at"))
    for eq_pk, last in (
        MaintenanceRecord.objects.filter(equipment_id__in=list(fresh))
        .values("equipment_id")
        .annotate(last=Max("changed_at"))
        .values_list("equipment_id", "last")
    ):
        if last and (changed.get(eq_pk) is None or last > changed[eq_pk]):
            changed[eq_pk] = last
    return {
        pk: a for pk, a in fresh.items() if changed.get(pk) is None or a.computed_at > changed[pk]
    }


@dataclass
class _BatchInput:
    batch: list[FacilityRecords]
    stored: dict[int, dict]  # the monthly task's snapshots by facility pk and month
    vm_served: dict[int, EquipmentAssessment]  # VoltMetrics results that win, by equipment pk
    now: datetime
    # Stored parts to reuse, by facility pk then equipment external id
    reuse: dict[int, dict[str, engine.EquipmentParts]] = field(default_factory=dict)


@dataclass
class _BatchOutput:
    facility_pks: list[int]
    facility_ids: list[str]
    vm_served: set[int]
    eq_rows: list[dict]
    fac_rows: list[dict]
    new_snapshots: list[dict]


def _compute_batch(
    inputs: _BatchInput, model: ModelParams, as_of: date, stats: RecomputeStats
) -> _BatchOutput:
    """The engine's figures for one batch of facilities, as rows to store (no database)."""
    batch, stored, vm_served, now = inputs.batch, inputs.stored, inputs.vm_served, inputs.now
    eq_rows: list[dict] = []
    fac_rows: list[dict] = []
    new_snapshots: list[dict] = []
    for rec in batch:
        served = {
            ext: ServedScore(vm.risk_score, vm.rating, vm.factors, vm.algorithm_version)
            for ext, eq_pk in rec.equipment_pks.items()
            if (vm := vm_served.get(eq_pk)) is not None
        }
        figures = facility_figures(
            rec.facility,
            model,
            as_of,
            frozen=stored.get(rec.pk),
            served=served,
            reuse=inputs.reuse.get(rec.pk),
        )
        if len(figures.reused) != len(inputs.reuse.get(rec.pk, ())):
            # Equipment loaded without their records must never be assessed.
            raise RuntimeError(f"facility {rec.facility.id}: stored parts were not all reused")
        fr = figures.result
        for month in figures.backfilled:
            new_snapshots.append(
                {
                    "facility_id": rec.pk, "month": month.month, **month.snapshot,
                    "age_days_sum": month.age_days_sum, "age_known": month.age_known,
                    "algorithm_version": model.version, "backfilled": True, "computed_at": now,
                }
            )  # fmt: skip
        age_days, age_known, payload = figures.age_days_sum, figures.age_known, figures.payload()
        fac_rows.append(
            {
                "facility_id": rec.pk,
                "source": Source.LOCAL,
                "algorithm_version": model.version,
                "as_of": as_of,
                "equipment_count": fr.equipment_count,
                "risk_score": fr.risk_score,
                "risk_level": fr.risk_level or "",
                "critical_equipment_count": fr.critical_equipment_count,
                "high_risk_equipment_count": fr.high_risk_equipment_count,
                "overall_compliance": fr.compliance.overall,
                "compliance_status": fr.compliance.status or "",
                "age_days_sum": age_days,
                "age_known": age_known,
                "payload": payload,
                "computed_at": now,
            }
        )
        for ext, parts in figures.parts.items():
            if ext not in figures.reused:  # a reused equipment's row stays as stored
                eq_pk = rec.equipment_pks[ext]
                eq_rows.append(_equipment_row(eq_pk, parts, now, served=eq_pk not in vm_served))
        stats.facilities += 1
        stats.equipment += len(figures.parts)
        stats.reused += len(figures.reused)
    stats.snapshots_backfilled += len(new_snapshots)
    batch_pks = [r.pk for r in batch]
    stats.facility_pks.extend(batch_pks)
    return _BatchOutput(
        batch_pks, [r.facility.id for r in batch], set(vm_served), eq_rows, fac_rows, new_snapshots
    )


def _write_batch(out: _BatchOutput, as_of: date) -> None:
    """Store one batch's figures in one transaction, then invalidate its cached payloads."""
    batch_pks, vm_served = out.facility_pks, out.vm_served
    with transaction.atomic():
        # Equipment that no longer counts (deleted, or installed after as_of) drops out.
        EquipmentAssessment.objects.filter(equipment__facility_id__in=batch_pks).filter(
            Q(equipment__deleted_at__isnull=False) | Q(equipment__install_date__gt=as_of)
        ).delete()
        bulk_upsert(
            EquipmentAssessment,
            out.eq_rows,
            conflict=["equipment_id", "source"],
            update=_EQ_UPDATE_FIELDS,
        )
        if vm_served or _has_voltmetrics_rows(batch_pks):
            vm_rows = EquipmentAssessment.objects.filter(
                equipment__facility_id__in=batch_pks, source=Source.VOLTMETRICS
            )
            vm_rows.exclude(equipment_id__in=list(vm_served)).update(served=False)
            vm_rows.filter(equipment_id__in=list(vm_served)).update(served=True)
        bulk_upsert(
            FacilityAssessment,
            out.fac_rows,
            conflict=["facility_id", "source"],
            update=_FAC_UPDATE_FIELDS,
        )
        if out.new_snapshots:
            bulk_upsert(
                FacilitySnapshot,
                out.new_snapshots,
                conflict=["facility_id", "month"],
                update=_SNAPSHOT_UPDATE_FIELDS,
            )
    announce(figures_changed, facility_ids=tuple(out.facility_ids), portfolio=False)


_EQ_UPDATE_FIELDS = [
    "algorithm_version", "as_of", "risk_score", "rating", "critical_threat", "condition",
    "primary_risk_factor", "material", "factors", "data_gaps", "nfpa_70b", "nfpa_70e",
    "maintenance_status", "next_due", "last_service", "served", "computed_at", "parts",
]  # fmt: skip
_FAC_UPDATE_FIELDS = [
    "algorithm_version", "as_of", "equipment_count", "risk_score", "risk_level",
    "critical_equipment_count", "high_risk_equipment_count", "overall_compliance",
    "compliance_status", "age_days_sum", "age_known", "payload", "computed_at",
]  # fmt: skip


def _equipment_row(eq_pk: int, parts: engine.EquipmentParts, now: datetime, *, served: bool):
    r = parts.result
    return {
        "equipment_id": eq_pk,
        "source": Source.LOCAL,
        "algorithm_version": r.algorithm_version,
        "as_of": r.as_of,
        "risk_score": r.risk_score,
        "rating": r.rating,
        "critical_threat": r.critical_threat,
        "condition": r.condition,
        "primary_risk_factor": r.primary_risk_factor or "",
        "material": r.material,
        "factors": [f.to_dict() for f in r.risk_factors],
        "data_gaps": list(r.data_gaps),
        "nfpa_70b": r.nfpa_70b.to_dict(),
        "nfpa_70e": r.nfpa_70e.to_dict(),
        "maintenance_status": r.nfpa_70b.status,
        "next_due": r.nfpa_70b.next_due,
        "last_service": r.last_service,
        "served": served,
        "computed_at": now,
        "parts": orjson.dumps(parts.to_dict()).decode(),
    }


def _stored_parts(
    batch: list[FacilityRecords],
    as_of: date,
    version: str,
    changed: ChangedRecords,
    vm_served: Mapping[int, object],
    frozen: Mapping[int, dict],
) -> dict[int, dict[str, engine.EquipmentParts]]:
    """Stored parts of the batch's unchanged equipment, computed at ``as_of`` by model
    ``version`` (published versions are immutable), that hold every back-filled month the
    facility's history needs now (``frozen``: the stored monthly snapshots by facility).

    Not reused, so computed again: equipment whose served result is VoltMetrics' or whose
    row's served flag is no longer right (their rows are rewritten, and a reused result
    lacks the factor descriptions a row holds).
    """
    wanted = {
        eq_pk: (rec.pk, eq)
        for rec in batch
        if rec.pk not in changed.facilities
        for eq in rec.facility.equipment
        if eq.id not in changed.equipment
        and engine.is_counted(eq, as_of)  # as facility_figures decides, so all are used
        and (eq_pk := rec.equipment_pks.get(eq.id))
        and eq_pk not in vm_served
    }
    if not wanted:
        return {}
    rows = fetch_rows(
        where_in(EquipmentAssessment.objects, "equipment_id", list(wanted))
        .filter(
            source=Source.LOCAL,
            as_of=as_of,
            algorithm_version=version,
            served=True,
        )
        .exclude(parts="")
        .values_list("equipment_id", "parts")
    )
    out: dict[int, dict[str, engine.EquipmentParts]] = {}
    months = {rec.pk: backfill_months(as_of, frozen.get(rec.pk)) for rec in batch}
    for eq_pk, parts in rows:
        hit = wanted.get(eq_pk)
        parts = orjson.loads(parts)
        if hit is not None and parts.get("format") == engine.PARTS_FORMAT:
            fac_pk, eq = hit
            p = engine.EquipmentParts.from_dict(parts, eq, as_of, version)
            if p.covers(eq, months[fac_pk]):
                out.setdefault(fac_pk, {})[eq.id] = p
    return out


def _has_voltmetrics_rows(facility_pks: list[int]) -> bool:
    return EquipmentAssessment.objects.filter(
        equipment__facility_id__in=facility_pks, source=Source.VOLTMETRICS
    ).exists()


def _stored_snapshots(facility_pks: list[int], months: list[date]) -> dict[int, dict]:
    """The monthly task's snapshots (not back-filled ones) by facility and month."""
    out: dict[int, dict] = {}
    for s in FacilitySnapshot.objects.filter(
        facility_id__in=facility_pks, month__in=months, backfilled=False
    ):
        out.setdefault(s.facility_id, {})[s.month] = {
            "risk_score": s.risk_score,
            "equipment_count": s.equipment_count,
            "equipment_age": s.equipment_age,
        }
    return out


# --- portfolio --------------------------------------------------------------------------------


def portfolio_recompute(*, as_of: date | None = None, model: ModelParams | None = None):
    """Portfolio figures (§7) from the stored facility assessments; trend from snapshots."""
    as_of = as_of or utc_today()
    model = model or model_current()
    # Only the columns and the three compliance figures: the payloads themselves are large.
    rows = [
        SimpleNamespace(
            facility_id=ext,
            facility_name=name,
            location=", ".join(p for p in (city, state) if p),
            equipment_count=n,
            risk_score=score,
            risk_level=level or None,
            critical_equipment_count=critical,
            high_risk_equipment_count=high,
            age_days_sum=days,
            age_known=known,
            compliance=SimpleNamespace(nfpa_70b=c70b, nfpa_70e=c70e, overall=overall),
        )
        for ext, name, city, state, n, score, level, critical, high, days, known, c70b, c70e,
        overall in FacilityAssessment.objects.filter(
            source=Source.LOCAL, facility__deleted_at__isnull=True
        ).values_list(
            "facility__external_id", "facility__name", "facility__city", "facility__state",
            "equipment_count", "risk_score", "risk_level", "critical_equipment_count",
            "high_risk_equipment_count", "age_days_sum", "age_known",
            "payload__compliance__nfpa_70b", "payload__compliance__nfpa_70e",
            "payload__compliance__overall",
        )
    ]  # fmt: skip
    total_facilities = Facility.objects.filter(deleted_at__isnull=True).count()
    summaries = rows
    # Facilities never assessed (no equipment ever) still count in total_facilities.
    result = engine.assess_portfolio(summaries)
    payload = result.to_dict()
    payload["total_facilities"] = total_facilities
    where = {a.facility_id: a.location for a in rows}
    for item in payload["highest_risk_facilities"]:
        item["location"] = where.get(item["facility_id"], "")
    payload["risk_trends"] = _portfolio_trend(rows, as_of, model)
    obj, _ = PortfolioAssessment.objects.update_or_create(
        source=Source.LOCAL,
        defaults={
            "algorithm_version": model.version,
            "as_of": as_of,
            "payload": payload,
            "computed_at": timezone.now(),
        },
    )
    announce(figures_changed, facility_ids=(), portfolio=True)
    return obj


def _trend_point(scores, count, days, known) -> dict:
    return {
        "risk_score": engine.round_half_up_ratio(sum(scores), len(scores)) if scores else None,
        "equipment_count": count,
        "equipment_age": engine.mean_age_years(days, known),
    }


def _portfolio_trend(rows: list[SimpleNamespace], as_of: date, model: ModelParams):
    months = engine.history_points(as_of)[:-1]
    stored = {
        s.month: s for s in PortfolioSnapshot.objects.filter(month__in=months, backfilled=False)
    }
    backfill = [d for d in months if d not in stored]
    if backfill:
        # Every active facility needs its snapshot of the month first: the portfolio point
        # aggregates all of them, not just the ones just recomputed.
        snapshots_fill(months=backfill, model=model)
        now = timezone.now()
        for d in backfill:
            stored[d], _ = PortfolioSnapshot.objects.update_or_create(
                month=d,
                defaults={
                    **_portfolio_point_from_facilities(d),
                    "algorithm_version": model.version,
                    "backfilled": True,
                    "computed_at": now,
                },
            )
    out = []
    for d in months:
        snap = stored[d]
        out.append(
            {
                "month": engine.month_label(d),
                "risk_score": snap.risk_score,
                "equipment_count": snap.equipment_count,
                "equipment_age": snap.equipment_age,
            }
        )
    live = [a for a in rows if a.equipment_count > 0 and a.risk_score is not None]
    point = _trend_point(
        [a.risk_score for a in live],
        sum(a.equipment_count for a in rows),
        sum(a.age_days_sum for a in rows),
        sum(a.age_known for a in rows),
    )
    out.append({"month": engine.month_label(as_of), **point})
    return out


def _portfolio_point_from_facilities(month: date) -> dict:
    snaps = list(
        FacilitySnapshot.objects.filter(month=month, facility__deleted_at__isnull=True).values_list(
            "risk_score", "equipment_count", "age_days_sum", "age_known"
        )
    )
    return _trend_point(
        [s for s, n, _, _ in snaps if n > 0 and s is not None],
        sum(n for _, n, _, _ in snaps),
        sum(d for _, _, d, _ in snaps),
        sum(k for _, _, _, k in snaps),
    )


# --- monthly snapshots (risk-model.md §8) ------------------------------------------------------


@dataclass
class SnapshotStats:
    months: list[date] = field(default_factory=list)
    facility_snapshots: int = 0
    portfolio_snapshots: int = 0


_SNAPSHOT_UPDATE_FIELDS = [
    "risk_score", "equipment_count", "equipment_age", "age_days_sum", "age_known",
    "algorithm_version", "backfilled", "computed_at",
]  # fmt: skip


def previous_month_end(today: date | None = None) -> date:
    """The last day of the month before ``today``'s (default: the UTC today)."""
    return (today or utc_today()).replace(day=1) - timedelta(days=1)


def snapshots_fill(
    *,
    months: Iterable[date],
    model: ModelParams | None = None,
    overwrite: bool = False,
) -> SnapshotStats:
    """Store facility and portfolio snapshots for month ends, computed by the engine at each
    month's last day from the records known now.

    ``overwrite=False`` (back-fill): only missing rows are written, flagged ``backfilled``.
    ``overwrite=True`` (the monthly snapshot): every active facility's row and the portfolio
    row for the month are (re)written with ``backfilled=False``. The portfolio point is
    aggregated from the facility snapshots of the month (§7 trend rules).
    """
    months = sorted({engine.month_end(m) for m in months})
    stats = SnapshotStats(months=months)
    if not months:
        return stats
    model = model or model_current()
    now = timezone.now()
    active = list(
        Facility.objects.filter(deleted_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    if overwrite:
        need = {pk: months for pk in active}
    else:
        have = set(
            FacilitySnapshot.objects.filter(month__in=months, facility_id__in=active).values_list(
                "facility_id", "month"
            )
        )
        need = {pk: [m for m in months if (pk, m) not in have] for pk in active}
        need = {pk: ms for pk, ms in need.items() if ms}
    for batch in facility_records(facility_pks=list(need)):
        rows = []
        for rec in batch:
            for m in need[rec.pk]:
                score, n, days, known = engine.facility_stats(rec.facility, model, m)
                rows.append(
                    FacilitySnapshot(
                        facility_id=rec.pk, month=m, risk_score=score if n else None,
                        equipment_count=n, equipment_age=engine.mean_age_years(days, known),
                        age_days_sum=days, age_known=known, algorithm_version=model.version,
                        backfilled=not overwrite, computed_at=now,
                    )
                )  # fmt: skip
        if overwrite:
            FacilitySnapshot.objects.bulk_create(
                rows,
                batch_size=2000,
                update_conflicts=True,
                unique_fields=["facility", "month"],
                update_fields=_SNAPSHOT_UPDATE_FIELDS,
            )
        else:
            FacilitySnapshot.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        stats.facility_snapshots += len(rows)
    for m in months:
        point = _portfolio_point_from_facilities(m)
        defaults = {
            **point,
            "algorithm_version": model.version,
            "backfilled": not overwrite,
            "computed_at": now,
        }
        if overwrite:
            PortfolioSnapshot.objects.update_or_create(month=m, defaults=defaults)
            stats.portfolio_snapshots += 1
        else:
            _, created = PortfolioSnapshot.objects.get_or_create(month=m, defaults=defaults)
            stats.portfolio_snapshots += int(created)
    return stats


def snapshot_month_write(*, month: date | None = None) -> SnapshotStats:
    """The monthly snapshot (beat, on the 1st): every active facility and the portfolio at
    the last day of ``month`` (default: the month that just ended). Replaces back-filled
    rows of that month."""
    month = engine.month_end(month) if month else previous_month_end()
    if month >= utc_today():
        raise ValueError(f"{month:%b %Y} has not ended yet; snapshots are of ended months")
    return snapshots_fill(months=[month], overwrite=True)


def snapshots_backfill(*, months: int = 6, as_of: date | None = None) -> SnapshotStats:
    """Fill missing snapshots of the ``months − 1`` month ends before ``as_of``'s month (the
    history window of risk-model.md §8 without its live current month)."""
    as_of = as_of or utc_today()
    return snapshots_fill(months=engine.history_points(as_of, months)[:-1])


# --- incremental --------------------------------------------------------------------------------


def recompute_pending(*, limit: int = 5000) -> RecomputeStats | None:
    """Recompute the facilities whose records changed (outbox rows not yet recomputed).

    Only the changed equipment are assessed again; the other equipment of those facilities
    keep their stored parts (``risk_recompute(changed=…)``). A changed facility record, or a
    change whose equipment cannot be found, recomputes its whole facility.
    """
    rows = list(
        RecordChange.objects.filter(recomputed_at__isnull=True)
        .order_by("id")
        .values_list("id", "kind", "external_id", "facility_external_id")[:limit]
    )
    if not rows:
        return None
    fac_ext = {r[3] for r in rows if r[3]}
    whole_ext = {r[2] for r in rows if r[1] == RecordKind.FACILITY}
    eq_ext = {r[2] for r in rows if r[1] == RecordKind.EQUIPMENT}
    maint = {r[2]: r[3] for r in rows if r[1] == RecordKind.MAINTENANCE}
    if maint:
        found = set()
        for ext, eq, fac in MaintenanceRecord.objects.filter(
            external_id__in=list(maint)
        ).values_list("external_id", "equipment__external_id", "equipment__facility__external_id"):
            found.add(ext)
            eq_ext.add(eq)
            fac_ext.add(fac)
        whole_ext |= {fac for ext, fac in maint.items() if ext not in found and fac}
    # The equipment's facility now as well as when the change was recorded.
    fac_ext |= set(
        Equipment.objects.filter(external_id__in=list(eq_ext)).values_list(
            "facility__external_id", flat=True
        )
    )
    by_ext = dict(
        Facility.objects.filter(external_id__in=fac_ext | whole_ext).values_list(
            "external_id", "pk"
        )
    )
    changed = ChangedRecords(
        facilities=frozenset(by_ext[e] for e in whole_ext if e in by_ext),
        equipment=frozenset(eq_ext),
    )
    stats = risk_recompute(facility_pks=list(by_ext.values()), changed=changed)
    RecordChange.objects.filter(id__in=[r[0] for r in rows]).update(recomputed_at=timezone.now())
    return stats
