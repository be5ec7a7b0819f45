"""Tests of the deterministic demo-portfolio generator (condoit/demo/) and its command.

The record checks below are written from condoit-source.md §1/§4 on purpose, independently of
the generator's code, so a drift in either shows up here. No database is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import time
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command

from condoit.demo import generate_portfolio, write_export

AS_OF = date(2026, 5, 20)
SEED = 20260520
N_FAC, PER_FAC = 20, 200

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

LEVELS = {"none", "minimal", "moderate", "severe"}
CONDITIONS = {"Excellent", "Good", "Fair", "Poor", "Critical"}
EXPOSURES = {"minimal", "moderate", "severe"}
MR_TYPES = {"preventive", "corrective", "inspection", "infrared_scan", "emergency"}

# Class spellings a default mapping is expected to know (compared case-insensitively), and the
# deliberately unmapped ones.
KNOWN_CLASSES = {
    c.lower()
    for c in (
        "Panelboard",
        "Panel Board",
        "Lighting Panel",
        "Switchboard",
        "Main Switchboard",
        "Switchgear",
        "Dry Type Transformer",
        "Pad-Mount Transformer",
        "Molded Case Breaker",
        "Circuit Breaker",
        "Safety Switch",
        "Fused Disconnect",
        "Motor Control Center",
        "MCC",
        "Busway",
        "Bus Duct",
        "Cable Tray",
        "Automatic Transfer Switch",
        "ATS",
        "UPS",
        "Emergency Generator",
        "Utility Meter",
    )
}
UNMAPPED_CLASSES = {"capacitor bank", "vfd", "harmonic filter"}
COPPER = {"cu", "copper"}
ALUMINUM = {"al", "alum", "aluminum"}

FACILITY_KEYS = {
    "id",
    "name",
    "address",
    "latitude",
    "longitude",
    "yearBuilt",
    "contractor",
    "environment",
    "arcFlashStudyDate",
    "infraredScanDate",
    "lastInspectionDate",
    "createdAt",
    "updatedAt",
    "deletedAt",
}
EQUIPMENT_KEYS = {
    "id",
    "facilityId",
    "equipmentClass",
    "name",
    "manufacturer",
    "model",
    "serialNumber",
    "installDate",
    "building",
    "room",
    "latitude",
    "longitude",
    "feedsFromId",
    "specs",
    "conductors",
    "observations",
    "loadPercent",
    "arcFlashLabel",
    "servesCriticalLoad",
    "photos",
    "createdAt",
    "updatedAt",
    "deletedAt",
}
MR_KEYS = {
    "id",
    "equipmentId",
    "type",
    "performedAt",
    "technician",
    "findings",
    "actionsTaken",
    "nextServiceDue",
    "createdAt",
    "updatedAt",
    "deletedAt",
}


# ------------------------------------------------------------------------------------------
# Independent validator (condoit-source.md §1 and §4)
# ------------------------------------------------------------------------------------------


class Invalid(AssertionError):
    pass


def need(cond: bool, what: str) -> None:
    if not cond:
        raise Invalid(what)


def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def short(rec: dict, key: str, limit: int = 500, required: bool = False) -> None:
    if key not in rec:
        need(not required, f"{key} missing")
        return
    v = rec[key]
    need(isinstance(v, str) and v != "", f"{key} not a non-empty string")
    need(len(v) <= limit, f"{key} longer than {limit}")


def ts(v, what: str, limit: datetime) -> datetime:
    need(
        isinstance(v, str) and TS_RE.match(v) is not None, f"{what} not ISO 8601 with offset: {v!r}"
    )
    dt = datetime.fromisoformat(v)
    need(dt.tzinfo is not None, f"{what} has no offset")
    need(dt <= limit, f"{what} {v} after the export instant")
    return dt


def day(v, what: str, as_of: date | None) -> date:
    need(isinstance(v, str) and DATE_RE.match(v) is not None, f"{what} not YYYY-MM-DD: {v!r}")
    d = date.fromisoformat(v)  # raises on impossible dates
    if as_of is not None:
        need(d <= as_of, f"{what} {v} after as_of")
    return d


def coords(rec: dict, what: str) -> None:
    has_lat, has_lng = "latitude" in rec, "longitude" in rec
    need(has_lat == has_lng, f"{what}: latitude/longitude must come together")
    if has_lat:
        need(is_num(rec["latitude"]) and -90 <= rec["latitude"] <= 90, "latitude range")
        need(is_num(rec["longitude"]) and -180 <= rec["longitude"] <= 180, "longitude range")


def stamps(rec: dict, limit: datetime) -> None:
    created = ts(rec.get("createdAt"), "createdAt", limit)
    updated = ts(rec.get("updatedAt"), "updatedAt", limit)
    need(updated >= created, "updatedAt before createdAt")
    need(
        "deletedAt" not in rec
        or rec["deletedAt"] is None
        or ts(rec["deletedAt"], "deletedAt", limit) >= created,
        "deletedAt",
    )


def check_facility(rec: dict, as_of: date, limit: datetime) -> None:
    need(set(rec) <= FACILITY_KEYS, f"unexpected facility keys {set(rec) - FACILITY_KEYS}")
    short(rec, "id", required=True)
    need(rec["id"].startswith("fac_"), "facility id prefix")
    short(rec, "name", 200, required=True)
    if "address" in rec:
        addr = rec["address"]
        need(isinstance(addr, dict) and set(addr) <= {"street", "city", "state", "zip"}, "address")
        for k in addr:
            short(addr, k)
        if "zip" in addr:
            need(re.fullmatch(r"\d{5}", addr["zip"]) is not None, "zip")
    coords(rec, "facility")
    if "yearBuilt" in rec:
        yb = rec["yearBuilt"]
        need(
            isinstance(yb, int) and not isinstance(yb, bool) and 1800 <= yb <= as_of.year,
            "yearBuilt range",
        )
    if "contractor" in rec:
        need(isinstance(rec["contractor"], dict), "contractor")
        short(rec["contractor"], "name", 200)
    if "environment" in rec:
        env = rec["environment"]
        need(isinstance(env, dict), "environment")
        need(set(env) <= {"humidityAvg", "temperatureAvgF", "outdoorExposure"}, "environment keys")
        if "humidityAvg" in env:
            need(is_num(env["humidityAvg"]) and 0 <= env["humidityAvg"] <= 100, "humidityAvg")
        if "temperatureAvgF" in env:
            need(is_num(env["temperatureAvgF"]), "temperatureAvgF")
        if "outdoorExposure" in env:
            need(env["outdoorExposure"] in EXPOSURES, "outdoorExposure")
    for k in ("arcFlashStudyDate", "infraredScanDate"):
        if k in rec:
            day(rec[k], k, as_of)
    if "lastInspectionDate" in rec:
        ts(rec["lastInspectionDate"], "lastInspectionDate", limit)
    stamps(rec, limit)


def check_equipment(rec: dict, as_of: date, limit: datetime) -> None:
    need(set(rec) <= EQUIPMENT_KEYS, f"unexpected equipment keys {set(rec) - EQUIPMENT_KEYS}")
    short(rec, "id", required=True)
    need(rec["id"].startswith("eq_"), "equipment id prefix")
    short(rec, "facilityId", required=True)
    short(rec, "equipmentClass", required=True)
    short(rec, "name", 200, required=True)
    for k in ("manufacturer", "model", "serialNumber", "building", "room", "feedsFromId"):
        short(rec, k)
    if "installDate" in rec:
        day(rec["installDate"], "installDate", as_of)
    coords(rec, "equipment")
    if "specs" in rec:
        s = rec["specs"]
        need(isinstance(s, dict), "specs")
        if "voltage" in s:
            need(isinstance(s["voltage"], str) and s["voltage"], "voltage")
        if "amperage" in s:
            need(is_num(s["amperage"]) and s["amperage"] > 0, "amperage")
        if "phases" in s:
            need(s["phases"] in (1, 3) and not isinstance(s["phases"], bool), "phases")
        if "mainDisconnect" in s:
            need(isinstance(s["mainDisconnect"], bool), "mainDisconnect")
        for k in ("mainDisconnectRating", "slots"):
            if k in s:
                need(is_num(s[k]) and s[k] > 0, k)
    if "conductors" in rec:
        need(isinstance(rec["conductors"], list), "conductors")
        for c in rec["conductors"]:
            need(isinstance(c, dict), "conductor")
            need(
                set(c) <= {"id", "material", "size", "connectionType", "alCuTransition"},
                "conductor keys",
            )
            for k in ("id", "material", "size", "connectionType"):
                short(c, k, required=k in ("id", "material"))
            if "alCuTransition" in c:
                need(isinstance(c["alCuTransition"], bool), "alCuTransition")
    if "observations" in rec:
        o = rec["observations"]
        need(isinstance(o, dict), "observations")
        for k in ("corrosion", "rust", "wear"):
            need(k not in o or o[k] in LEVELS, k)
        for k in ("heatDiscoloration", "clearanceIssue"):
            need(k not in o or isinstance(o[k], bool), k)
        need("operatingTempC" not in o or is_num(o["operatingTempC"]), "operatingTempC")
        need("overallCondition" not in o or o["overallCondition"] in CONDITIONS, "overallCondition")
    if "loadPercent" in rec:
        need(is_num(rec["loadPercent"]) and 0 <= rec["loadPercent"] <= 250, "loadPercent")
    if "arcFlashLabel" in rec:
        lab = rec["arcFlashLabel"]
        need(isinstance(lab, dict) and isinstance(lab.get("present"), bool), "label.present")
        if "incidentEnergyCalCm2" in lab:
            need(
                is_num(lab["incidentEnergyCalCm2"]) and lab["incidentEnergyCalCm2"] >= 0,
                "incidentEnergyCalCm2",
            )
        if "ppeCategory" in lab:
            p = lab["ppeCategory"]
            need(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 4, "ppeCategory")
        if "labelDate" in lab:
            day(lab["labelDate"], "labelDate", as_of)
    if "servesCriticalLoad" in rec:
        need(isinstance(rec["servesCriticalLoad"], bool), "servesCriticalLoad")
    if "photos" in rec:
        need(isinstance(rec["photos"], list) and len(rec["photos"]) <= 3, "photos")
        for ph in rec["photos"]:
            need(set(ph) == {"id", "url", "caption", "takenAt"}, "photo keys")
            short(ph, "id", required=True)
            need(ph["id"].startswith("ph_"), "photo id prefix")
            short(ph, "url", required=True)
            u = urlsplit(ph["url"])
            need(u.scheme == "https" and u.hostname == "photos.condoit.example", "photo url")
            short(ph, "caption")
            ts(ph["takenAt"], "takenAt", limit)
    stamps(rec, limit)


def check_maintenance(rec: dict, as_of: date, limit: datetime) -> None:
    need(set(rec) <= MR_KEYS, f"unexpected maintenance keys {set(rec) - MR_KEYS}")
    short(rec, "id", required=True)
    need(rec["id"].startswith("mr_"), "maintenance id prefix")
    short(rec, "equipmentId", required=True)
    need(rec.get("type") in MR_TYPES, "type")
    ts(rec.get("performedAt"), "performedAt", limit)
    short(rec, "technician", 200)
    short(rec, "findings", 10_000)
    short(rec, "actionsTaken", 10_000)
    if "nextServiceDue" in rec:
        day(rec["nextServiceDue"], "nextServiceDue", None)  # informational, may be ahead
    stamps(rec, limit)


CHECKS = {
    "facility": check_facility,
    "equipment": check_equipment,
    "maintenanceRecord": check_maintenance,
}


def export_limit(as_of: date) -> datetime:
    return datetime.fromisoformat(f"{as_of.isoformat()}T00:00:00+00:00")


def utc_date(v: str) -> date:
    return datetime.fromisoformat(v).astimezone(UTC).date()


# ------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portfolio() -> list[tuple[str, dict]]:
    return list(
        generate_portfolio(facilities=N_FAC, equipment_per_facility=PER_FAC, seed=SEED, as_of=AS_OF)
    )


@pytest.fixture(scope="module")
def by_kind(portfolio) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"facility": [], "equipment": [], "maintenanceRecord": []}
    for kind, rec in portfolio:
        out[kind].append(rec)
    return out


def _export_bytes(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    write_export(buf, fmt=fmt, **kw)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------
# Determinism, counts, laziness
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_same_arguments_give_identical_bytes(tmp_path, fmt):
    kw = dict(facilities=6, equipment_per_facility=80, seed=11, as_of=AS_OF, fmt=fmt)
    a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    write_export(a, **kw)
    write_export(b, **kw)
    da, db = a.read_bytes(), b.read_bytes()
    assert len(da) > 100_000
    assert hashlib.sha256(da).digest() == hashlib.sha256(db).digest()
    # the file-object path writes the same bytes as the path path
    assert _export_bytes(**kw) == da
    assert not list(tmp_path.glob("*.part"))


def test_seed_and_as_of_change_the_output():
    kw = dict(facilities=3, equipment_per_facility=30, fmt="json")
    base = _export_bytes(seed=1, as_of=AS_OF, **kw)
    assert _export_bytes(seed=2, as_of=AS_OF, **kw) != base
    assert _export_bytes(seed=1, as_of=date(2025, 1, 15), **kw) != base


def test_counts(by_kind):
    assert len(by_kind["facility"]) == N_FAC
    assert len(by_kind["equipment"]) == N_FAC * PER_FAC
    per_eq = len(by_kind["maintenanceRecord"]) / len(by_kind["equipment"])
    assert 2.6 <= per_eq <= 3.4
    for kind in by_kind:
        ids = [r["id"] for r in by_kind[kind]]
        assert len(ids) == len(set(ids)), f"duplicate {kind} ids"
    per_facility = Counter(e["facilityId"] for e in by_kind["equipment"])
    assert set(per_facility.values()) == {PER_FAC}


def test_write_export_reports_counts_and_bytes():
    buf = io.BytesIO()
    counts = write_export(buf, facilities=4, equipment_per_facility=25, seed=3, as_of=AS_OF)
    doc = json.loads(buf.getvalue())
    assert counts == {
        "facilities": 4,
        "equipment": 100,
        "maintenanceRecords": len(doc["maintenanceRecords"]),
        "bytes": len(buf.getvalue()),
    }


def test_generation_is_lazy():
    started = time.monotonic()
    first = list(
        islice(
            generate_portfolio(facilities=10**9, equipment_per_facility=5, seed=1, as_of=AS_OF), 3
        )
    )
    assert time.monotonic() - started < 5
    assert [k for k, _ in first[:2]] == ["facility", "equipment"]


@pytest.mark.parametrize("n_fac,per", [(0, 10), (3, 0), (2, 1), (2, 2), (1, 9)])
def test_small_and_empty_portfolios_are_valid_json(n_fac, per):
    doc = json.loads(
        _export_bytes("json", facilities=n_fac, equipment_per_facility=per, seed=5, as_of=AS_OF)
    )
    assert list(doc) == ["exportedAt", "facilities", "equipment", "maintenanceRecords"]
    assert len(doc["facilities"]) == n_fac
    assert len(doc["equipment"]) == n_fac * per
    lines = _export_bytes(
        "ndjson", facilities=n_fac, equipment_per_facility=per, seed=5, as_of=AS_OF
    ).splitlines()
    assert len(lines) == n_fac + n_fac * per + len(doc["maintenanceRecords"])


# ------------------------------------------------------------------------------------------
# Every record is valid
# ------------------------------------------------------------------------------------------


def test_every_record_passes_the_source_contract(portfolio):
    limit = export_limit(AS_OF)
    facility_ids = set()
    equipment = {}
    for kind, rec in portfolio:
        try:
            CHECKS[kind](rec, AS_OF, limit)
        except Invalid as exc:  # pragma: no cover - failure path
            pytest.fail(f"{kind} {rec.get('id')}: {exc}")
        if kind == "facility":
            facility_ids.add(rec["id"])
        elif kind == "equipment":
            assert rec["facilityId"] in facility_ids  # facility came first
            equipment[rec["id"]] = rec
        else:
            eq = equipment[rec["equipmentId"]]  # maintenance after its equipment
            if "installDate" in eq:
                assert utc_date(rec["performedAt"]) >= date.fromisoformat(eq["installDate"])


@pytest.mark.parametrize("as_of", [date(2024, 1, 1), date(2024, 3, 1), date(2001, 7, 4)])
def test_records_are_valid_for_other_anchor_dates(as_of):
    limit = export_limit(as_of)
    for kind, rec in generate_portfolio(
        facilities=8, equipment_per_facility=60, seed=99, as_of=as_of
    ):
        try:
            CHECKS[kind](rec, as_of, limit)
        except Invalid as exc:  # pragma: no cover - failure path
            pytest.fail(f"{kind} {rec.get('id')} (as_of {as_of}): {exc}")


def test_json_document_shape_and_export_instant(tmp_path):
    path = tmp_path / "export.json"
    write_export(path, facilities=5, equipment_per_facility=40, seed=8, as_of=AS_OF)
    doc = json.loads(path.read_bytes())
    assert list(doc) == ["exportedAt", "facilities", "equipment", "maintenanceRecords"]
    exported = ts(doc["exportedAt"], "exportedAt", export_limit(AS_OF))
    assert exported == export_limit(AS_OF)
    # the JSON sections hold exactly what the generator yields, in the same order
    expected = {"facility": [], "equipment": [], "maintenanceRecord": []}
    for kind, rec in generate_portfolio(
        facilities=5, equipment_per_facility=40, seed=8, as_of=AS_OF
    ):
        expected[kind].append(rec)
    assert doc["facilities"] == expected["facility"]
    assert doc["equipment"] == expected["equipment"]
    assert doc["maintenanceRecords"] == expected["maintenanceRecord"]


def test_ndjson_lines_are_kind_and_record(tmp_path):
    path = tmp_path / "export.ndjson"
    counts = write_export(
        path, facilities=5, equipment_per_facility=40, seed=8, as_of=AS_OF, fmt="ndjson"
    )
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == counts["facilities"] + counts["equipment"] + counts["maintenanceRecords"]
    got = []
    for line in lines:
        obj = json.loads(line)
        assert list(obj) == ["kind", "record"]
        assert obj["kind"] in ("facility", "equipment", "maintenanceRecord")
        assert isinstance(obj["record"], dict)
        got.append((obj["kind"], obj["record"]))
    assert got == list(
        generate_portfolio(facilities=5, equipment_per_facility=40, seed=8, as_of=AS_OF)
    )


# ------------------------------------------------------------------------------------------
# One-line diagram
# ------------------------------------------------------------------------------------------


def test_feeds_from_references(by_kind):
    equipment = by_kind["equipment"]
    position = {e["id"]: i for i, e in enumerate(equipment)}
    facility_of = {e["id"]: e["facilityId"] for e in equipment}
    feeds = {e["id"]: e["feedsFromId"] for e in equipment if "feedsFromId" in e}
    assert len(feeds) > 0.8 * len(equipment)
    forward = 0
    for eq_id, parent in feeds.items():
        assert parent in facility_of, f"{eq_id} feeds from unknown {parent}"
        assert facility_of[parent] == facility_of[eq_id], f"{eq_id} fed from another facility"
        assert parent != eq_id
        forward += position[parent] > position[eq_id]
    assert forward >= 1, "no forward feedsFromId reference"
    assert forward < 0.2 * len(feeds)
    # a tree: following feedsFromId always ends at a root
    for eq_id in feeds:
        seen = {eq_id}
        cur = eq_id
        while cur in feeds:
            cur = feeds[cur]
            assert cur not in seen, f"feedsFromId cycle through {eq_id}"
            seen.add(cur)
    # each facility's diagram has a head (switchgear/switchboard) feeding transformers,
    # panels feeding breakers
    cls = {e["id"]: e["equipmentClass"].lower() for e in equipment}
    pairs = Counter((cls[feeds[i]], cls[i]) for i in feeds)
    assert any(
        p in ("switchgear", "main switchboard", "switchboard") and "transformer" in c
        for (p, c) in pairs
    )
    assert any("transformer" in p and "panel" in c for (p, c) in pairs)
    assert any(("panel" in p) and ("breaker" in c) for (p, c) in pairs)


def test_first_facility_already_has_a_forward_reference():
    records = list(generate_portfolio(facilities=1, equipment_per_facility=30, seed=4, as_of=AS_OF))
    eqs = [r for k, r in records if k == "equipment"]
    pos = {e["id"]: i for i, e in enumerate(eqs)}
    assert any(pos[e["feedsFromId"]] > pos[e["id"]] for e in eqs if "feedsFromId" in e)


# ------------------------------------------------------------------------------------------
# The data exercises the risk model's branches and the mappings
# ------------------------------------------------------------------------------------------


def test_classes_and_material_codes(by_kind):
    equipment = by_kind["equipment"]
    classes = Counter(e["equipmentClass"] for e in equipment)
    lowered = {c.lower() for c in classes}
    assert lowered <= KNOWN_CLASSES | UNMAPPED_CLASSES
    unmapped = sum(n for c, n in classes.items() if c.lower() in UNMAPPED_CLASSES)
    assert 0 < unmapped < 0.015 * len(equipment)
    # spelling and case variants of the same class
    for variant in (
        "Panelboard",
        "PANELBOARD",
        "Panel Board",
        "Lighting Panel",
        "MCC",
        "Motor Control Center",
        "Bus Duct",
        "Busway",
        "ATS",
        "UPS",
        "Utility Meter",
        "Switchgear",
        "Molded Case Breaker",
        "Circuit Breaker",
    ):
        assert variant in classes, variant
    codes = Counter(c["material"] for e in equipment for c in e.get("conductors", ()))
    for code in ("CU", "Cu", "Copper", "AL", "ALUM", "Aluminum"):
        assert code in codes, code
    unknown = sum(n for c, n in codes.items() if c.lower() not in COPPER | ALUMINUM)
    assert 0 < unknown < 0.01 * sum(codes.values())
    conn = Counter(c.get("connectionType") for e in equipment for c in e.get("conductors", ()))
    assert {"lug", "bolted", "crimped", "compression"} <= set(conn)
    assert any(c.get("alCuTransition") is True for e in equipment for c in e.get("conductors", ()))
    spec_keys = Counter(k for e in equipment for k in e.get("specs", {}))
    assert spec_keys["aicRating"] and spec_keys["busMaterial"]
    assert {e["specs"].get("voltage") for e in equipment} >= {"208Y/120V", "480Y/277V", "240/120V"}
    assert {e["specs"].get("phases") for e in equipment} == {1, 3}
    assert {e.get("manufacturer") for e in equipment} >= {
        "Square D",
        "Eaton",
        "Siemens",
        "GE",
        "ABB",
        "Cutler-Hammer",
    }


def test_risk_branches_are_exercised(by_kind):
    facilities, equipment, mrs = (
        by_kind["facility"],
        by_kind["equipment"],
        by_kind["maintenanceRecord"],
    )
    n = len(equipment)

    # age: missing install dates (~5%), ages far beyond any expected life, recent installs
    installs = [date.fromisoformat(e["installDate"]) for e in equipment if "installDate" in e]
    missing = n - len(installs)
    assert 0.02 * n <= missing <= 0.08 * n
    assert any((AS_OF - d).days / 365.25 > 45 for d in installs)
    assert any((AS_OF - d).days / 365.25 < 3 for d in installs)
    assert min(installs).year <= 1962 and max(installs).year >= AS_OF.year - 1

    # material: aluminium/mixed with crimped connections installed before 1975
    def materials(e):
        return {
            (
                "al"
                if c["material"].lower() in ALUMINUM
                else "cu"
                if c["material"].lower() in COPPER
                else "?"
            )
            for c in e.get("conductors", ())
        }

    assert any(materials(e) >= {"al", "cu"} for e in equipment)
    assert any(
        "al" in materials(e)
        and e.get("installDate", "9999") < "1975"
        and any(c.get("connectionType") == "crimped" for c in e["conductors"])
        for e in equipment
    )
    assert any(not e.get("conductors") for e in equipment)

    # maintenance: never maintained (~10%), overdue, recent
    latest: dict[str, date] = {}
    for m in mrs:
        d = utc_date(m["performedAt"])
        latest[m["equipmentId"]] = max(latest.get(m["equipmentId"], d), d)
    never = n - len(latest)
    assert 0.05 * n <= never <= 0.16 * n
    ages = [(AS_OF - d).days for d in latest.values()]
    assert sum(a > 365 for a in ages) > 0.15 * len(ages)
    assert sum(a <= 30 for a in ages) > 0
    assert set(Counter(m["type"] for m in mrs)) == MR_TYPES

    # loading
    loads = [e["loadPercent"] for e in equipment if "loadPercent" in e]
    assert min(loads) >= 10 and max(loads) <= 120
    assert any(x >= 100 for x in loads) and any(60 < x < 100 for x in loads)
    assert len(loads) < n

    # condition
    obs = [e["observations"] for e in equipment if "observations" in e]
    assert len(obs) < n
    assert any("severe" in (o.get("corrosion"), o.get("rust"), o.get("wear")) for o in obs)
    assert any(o.get("corrosion") == o.get("rust") == o.get("wear") == "none" for o in obs)
    assert any(o.get("heatDiscoloration") for o in obs)
    assert any(o.get("operatingTempC", 0) >= 60 for o in obs)
    assert any("overallCondition" in o for o in obs) and any(
        "overallCondition" not in o for o in obs
    )

    # arc flash labels (~15% missing) and studies (current, > 5 years old, missing)
    unlabeled = sum(1 for e in equipment if not e.get("arcFlashLabel", {}).get("present"))
    assert 0.08 * n <= unlabeled <= 0.22 * n
    assert {
        e["arcFlashLabel"]["ppeCategory"]
        for e in equipment
        if e.get("arcFlashLabel", {}).get("present")
    } == {0, 1, 2, 3, 4}
    studies = [f.get("arcFlashStudyDate") for f in facilities]
    assert None in studies
    dated = [date.fromisoformat(s) for s in studies if s]
    assert any(d.replace(year=d.year + 5) < AS_OF for d in dated)
    assert any(d.replace(year=d.year + 5) >= AS_OF for d in dated)

    # environment
    envs = [f.get("environment", {}) for f in facilities]
    hums = [e["humidityAvg"] for e in envs if "humidityAvg" in e]
    temps = [e["temperatureAvgF"] for e in envs if "temperatureAvgF" in e]
    assert any(h < 50 for h in hums) and any(h > 65 for h in hums)
    assert any(t > 75 for t in temps) and any(t <= 75 for t in temps)
    assert len({e.get("outdoorExposure") for e in envs} & EXPOSURES) >= 2

    # critical loads (~10%), photos, soft deletes (~0.2%)
    critical = sum(1 for e in equipment if e.get("servesCriticalLoad"))
    assert 0.04 * n <= critical <= 0.18 * n
    photo_counts = Counter(len(e.get("photos", ())) for e in equipment)
    assert set(photo_counts) == {0, 1, 2, 3}
    deleted = sum(1 for e in equipment if e.get("deletedAt"))
    assert 0 < deleted <= 0.01 * n
    assert all(f["deletedAt"] is None for f in facilities)
    assert all(m["deletedAt"] is None for m in mrs)


def test_timestamps_use_various_offsets(portfolio):
    suffixes = Counter()
    for _, rec in portfolio:
        v = rec["createdAt"]
        suffixes["Z" if v.endswith("Z") else v[-6:]] += 1
    assert {"Z", "+00:00"} <= set(suffixes)
    assert any(s.startswith("-0") for s in suffixes)


def test_facilities_look_real(by_kind):
    for f in by_kind["facility"]:
        assert re.fullmatch(r"[A-Z]{2}", f["address"]["state"])
    names = " ".join(f["name"] for f in by_kind["facility"])
    assert re.search(r"Hospital|Medical Center", names)
    assert len({f["address"]["city"] for f in by_kind["facility"]}) > 5


# ------------------------------------------------------------------------------------------
# Memory
# ------------------------------------------------------------------------------------------


def _traced_export(path, facilities: int) -> tuple[int, dict]:
    tracemalloc.start()
    try:
        counts = write_export(
            path, facilities=facilities, equipment_per_facility=200, seed=1, as_of=AS_OF, fmt="json"
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, counts


def test_memory_is_bounded(tmp_path):
    small_peak, _ = _traced_export(tmp_path / "small.json", 5)
    path = tmp_path / "big.json"
    peak, counts = _traced_export(path, 50)
    size = path.stat().st_size
    assert counts["bytes"] == size
    assert counts["equipment"] == 10_000
    assert size > 20_000_000
    # only the current facility's plan and a few I/O buffers are held: the peak is a small
    # fraction of the output and does not grow with the number of facilities
    assert peak < size / 20, (peak, size)
    assert peak < 1.5 * small_peak + 100_000, (peak, small_peak)
    assert len(json.loads(path.read_bytes())["equipment"]) == 10_000


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_progress_reports_every_equipment(fmt):
    steps = []
    counts = write_export(
        io.BytesIO(),
        facilities=7,
        equipment_per_facility=13,
        seed=2,
        as_of=AS_OF,
        fmt=fmt,
        progress=steps.append,
    )
    assert steps == [13] * 7
    assert counts["equipment"] == sum(steps)


# ------------------------------------------------------------------------------------------
# Management command
# ------------------------------------------------------------------------------------------


def test_command_writes_the_same_file(tmp_path):
    out = tmp_path / "demo.json"
    stdout = io.StringIO()
    call_command(
        "generate_demo_portfolio",
        "--facilities",
        "3",
        "--equipment-per-facility",
        "20",
        "--seed",
        "9",
        "--out",
        str(out),
        "--as-of",
        "2026-05-20",
        stdout=stdout,
    )
    text = stdout.getvalue()
    assert "facilities:          3" in text
    assert "equipment:           60" in text
    assert "maintenance records:" in text
    assert out.read_bytes() == _export_bytes(
        "json", facilities=3, equipment_per_facility=20, seed=9, as_of=AS_OF
    )


def test_command_ndjson_and_default_as_of(tmp_path):
    out = tmp_path / "demo.ndjson"
    call_command(
        "generate_demo_portfolio",
        "--facilities",
        "2",
        "--equipment-per-facility",
        "5",
        "--seed",
        "1",
        "--out",
        str(out),
        "--format",
        "ndjson",
        stdout=io.StringIO(),
    )
    lines = out.read_bytes().splitlines()
    assert json.loads(lines[0])["kind"] == "facility"
    # nothing after today (UTC), the default anchor
    limit = datetime.fromisoformat(
        f"{(date.today() + timedelta(days=1)).isoformat()}T00:00:00+00:00"
    )
    for line in lines:
        rec = json.loads(line)["record"]
        assert datetime.fromisoformat(rec["createdAt"]) <= limit


def test_command_rejects_bad_arguments(tmp_path):
    with pytest.raises(CommandError):
        call_command(
            "generate_demo_portfolio",
            "--facilities",
            "1",
            "--equipment-per-facility",
            "1",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "x.json"),
            "--as-of",
            "2026-02-30",
        )
    with pytest.raises(CommandError):
        call_command(
            "generate_demo_portfolio",
            "--facilities",
            "-1",
            "--equipment-per-facility",
            "1",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "x.json"),
        )
    with pytest.raises(CommandError):
        call_command(
            "generate_demo_portfolio",
            "--facilities",
            "1",
            "--equipment-per-facility",
            "1",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "missing-dir" / "x.json"),
        )
