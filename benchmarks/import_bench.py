"""Import benchmark: a Condoit export file into PostgreSQL, against the COPY floor.

For each size: empty the mirror tables, import the file in a child process
(``manage.py import_condoit FILE --no-progress``) measuring wall time and the child's peak
RSS, re-import the unchanged file the same way, then time PostgreSQL ``COPY … FROM STDIN``
of exactly the rows the import wrote into scratch tables shaped like the real ones (same
columns, defaults, CHECK constraints and indexes; no foreign keys), all in one transaction.

Targets (the issue): import ≤ 4× the COPY floor; peak memory < 400 MB and flat as the file
grows (the larger size within 15% of the smaller); unchanged re-import ≤ 50% of the import.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from common import (
    DATA_DIR,
    RESULTS_DIR,
    ChildResult,
    Size,
    checks_table,
    child_env,
    connect,
    demo_file,
    log,
    manage,
    mark,
    md_table,
    print_checks,
    results_head,
    text_table,
)

TARGET_FLOOR_RATIO = 4.0
TARGET_PEAK_MB = 400.0
TARGET_FLAT = 1.15
TARGET_REIMPORT = 0.50

# The tables an import writes rows into, in COPY order (parents first). The outbox
# (facilities_recordchange) gets one row per written record, in the same transaction.
TABLES = (
    ("facilities_facility", "facilities"),
    ("equipment_equipment", "equipment"),
    ("equipment_conductor", "conductors"),
    ("equipment_photo", "photos"),
    ("equipment_maintenancerecord", "maintenance records"),
    ("facilities_recordchange", "record changes (outbox)"),
)
# Emptied before each size (RESTART IDENTITY CASCADE); mappings and profiles stay.
RESET_TABLES = (
    "facilities_facility", "equipment_equipment", "equipment_conductor", "equipment_photo",
    "equipment_maintenancerecord", "facilities_recordchange", "facilities_syncrun",
    "facilities_rejectedrecord", "facilities_fieldoverride",
)  # fmt: skip
SCRATCH_SCHEMA = "bench_floor"
FLOOR_FORMAT = 3  # bump when the prepared COPY files change shape


# --- the COPY floor: preparing the rows (untimed) -------------------------------------------


def _esc(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _cell(value, dumps) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return _esc(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return _esc(dumps(value).decode())
    raise TypeError(f"cannot COPY {type(value).__name__}")


class _TableWriter:
    def __init__(self, path: Path, columns: list[tuple[str, bool]], dumps):
        self.fh = path.open("w", encoding="utf-8", newline="\n")
        self.columns = [name for name, _ in columns]
        self.nullable = dict(columns)
        self.missing: list[str] = []
        self.dumps = dumps
        self.rows = 0

    def write(self, values: dict) -> None:
        if self.rows == 0:  # the first row decides: a column the import never sets
            missing = [c for c in self.columns if c not in values]
            bad = [c for c in missing if not self.nullable[c]]
            if bad:
                raise KeyError(f"no value for NOT NULL column(s) {bad} of {self.fh.name}")
            if missing:
                log(f"{Path(self.fh.name).stem}: {', '.join(missing)} written as NULL")
            self.missing = missing
        for c in self.missing:
            values.setdefault(c, None)
        dumps = self.dumps
        self.fh.write("\t".join(_cell(values[c], dumps) for c in self.columns) + "\n")
        self.rows += 1

    def close(self) -> None:
        self.fh.close()


def _columns(cur, table: str) -> list[tuple[str, bool]]:
    """(name, nullable) of every column of a real table, in table order."""
    cur.execute(
        "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
        [table],
    )
    cols = [(name, nullable) for name, nullable in cur.fetchall()]
    if not cols:
        raise RuntimeError(f"table {table} does not exist (migrations not applied?)")
    return cols


def prepare_floor(path: Path) -> dict:
    """COPY text files with the rows the import writes for ``path`` (cached beside it).

    Values come from the same ``schema.clean_*`` functions, class/material mappings and
    record digest the import uses; ids are assigned sequentially (the import's are generated
    by the database) so that foreign-key and feeds-from columns hold real values.
    """
    import ijson
    import orjson
    from django.db import connection

    from condoit.ingest import _NOT_COLUMNS, digest
    from condoit.schema import clean_equipment, clean_facility, clean_maintenance
    from equipment.choices import EquipmentType, PhotoStatus
    from equipment.models import EquipmentClassMapping, MaterialMapping, normalize_key
    from facilities.choices import ChangeSource, RecordKind

    class_map = dict(EquipmentClassMapping.objects.values_list("condoit_class", "type"))
    material_map = dict(MaterialMapping.objects.values_list("code", "material"))
    with connection.cursor() as cur:
        columns = {t: _columns(cur, t) for t, _ in TABLES}
    key = hashlib.sha256(
        orjson.dumps([FLOOR_FORMAT, sorted(class_map.items()), sorted(material_map.items()),
                      columns])  # fmt: skip
    ).hexdigest()[:12]
    out_dir = DATA_DIR / f"{path.stem}.copy"
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("key") == key:
            return manifest
    log(f"preparing COPY files for {path.name} (untimed) …")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    dumps = orjson.dumps
    now = datetime.fromisoformat("2026-01-01T00:00:00+00:00")  # synced_at/changed_at/created_at
    w = {t: _TableWriter(out_dir / f"{t}.tsv", columns[t], dumps) for t, _ in TABLES}
    change_id = 0

    def change(kind: str, ext: str, facility_ext: str) -> None:
        nonlocal change_id
        change_id += 1
        w["facilities_recordchange"].write({
            "id": change_id, "kind": kind, "external_id": ext,
            "facility_external_id": facility_ext, "source": ChangeSource.FILE,
            "created_at": now, "recomputed_at": None,
        })  # fmt: skip

    def mirror(clean: dict, raw, pk: int) -> dict:
        values = {k: v for k, v in clean.items() if k not in _NOT_COLUMNS}
        values.update(id=pk, content_hash=digest(raw), synced_at=now, changed_at=now)
        return values

    def items(section: str):
        with path.open("rb") as fh:
            yield from ijson.items(fh, f"{section}.item", use_float=True)

    fac_pk: dict[str, int] = {}
    for raw in items("facilities"):
        clean = clean_facility(raw, now=now)
        pk = fac_pk.setdefault(clean["external_id"], len(fac_pk) + 1)
        w["facilities_facility"].write(mirror(clean, raw, pk))
        change(RecordKind.FACILITY, clean["external_id"], clean["external_id"])

    # Equipment ids first (feeds-from may point forward in the file).
    eq_pk: dict[str, int] = {}
    for raw in items("equipment"):
        eq_pk.setdefault(raw["id"].strip(), len(eq_pk) + 1)
    conductor_id = photo_id = 0
    for raw in items("equipment"):
        clean = clean_equipment(raw, now=now)
        pk = eq_pk[clean["external_id"]]
        mapped = class_map.get(normalize_key(clean["equipment_class"]))
        values = mirror(clean, raw, pk)
        values.update(
            facility_id=fac_pk[clean["facility_external_id"]],
            type=mapped or EquipmentType.OTHER,
            class_mapped=mapped is not None,
            feeds_from_id=eq_pk.get(clean["feeds_from_external_id"]),
            life_years_override=None,
            interval_months_override=None,
        )
        w["equipment_equipment"].write(values)
        for cond in clean["conductors"]:
            conductor_id += 1
            w["equipment_conductor"].write({
                **cond, "id": conductor_id, "equipment_id": pk,
                "material": material_map.get(normalize_key(cond["material_code"]), ""),
            })  # fmt: skip
        for photo in clean["photos"]:
            photo_id += 1
            w["equipment_photo"].write({
                **photo, "id": photo_id, "equipment_id": pk, "status": PhotoStatus.PENDING,
                "image": "", "thumbnail": "", "content_type": "", "fetched_at": None,
                "error": "",
            })  # fmt: skip
        change(RecordKind.EQUIPMENT, clean["external_id"], clean["facility_external_id"])

    for n, raw in enumerate(items("maintenanceRecords"), start=1):
        clean = clean_maintenance(raw, now=now)
        values = mirror(clean, raw, n)
        values["equipment_id"] = eq_pk[clean["equipment_external_id"]]
        w["equipment_maintenancerecord"].write(values)
        change(RecordKind.MAINTENANCE, clean["external_id"], "")

    for writer in w.values():
        writer.close()
    manifest = {
        "key": key,
        "rows": {t: w[t].rows for t, _ in TABLES},
        "columns": columns,
        "bytes": {t: (out_dir / f"{t}.tsv").stat().st_size for t, _ in TABLES},
        "dir": str(out_dir),
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    log(f"prepared in {time.perf_counter() - started:.1f} s")
    return manifest


# --- the COPY floor: timing it --------------------------------------------------------------


def time_floor(url: str, manifest: dict) -> tuple[float, dict[str, float]]:
    """Create empty scratch tables like the real ones, then COPY every file in one transaction.

    Returns (total seconds including COMMIT, seconds per table)."""
    from psycopg import sql

    out_dir = Path(manifest["dir"])
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(SCRATCH_SCHEMA)))  # fmt: skip
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCRATCH_SCHEMA)))
        for table, _ in TABLES:
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                    "INCLUDING INDEXES)"
                ).format(sql.Identifier(SCRATCH_SCHEMA, table), sql.Identifier("public", table))
            )
        conn.execute("CHECKPOINT")
    per_table: dict[str, float] = {}
    with connect(url) as conn:
        start = time.perf_counter()
        with conn.cursor() as cur:
            for table, _ in TABLES:
                t0 = time.perf_counter()
                stmt = sql.SQL("COPY {} ({}) FROM STDIN").format(
                    sql.Identifier(SCRATCH_SCHEMA, table),
                    sql.SQL(", ").join(sql.Identifier(c) for c, _ in manifest["columns"][table]),
                )
                with cur.copy(stmt) as copy, (out_dir / f"{table}.tsv").open("rb") as fh:
                    while block := fh.read(1 << 20):
                        copy.write(block)
                per_table[table] = time.perf_counter() - t0
        t0 = time.perf_counter()
        conn.commit()
        per_table["COMMIT"] = time.perf_counter() - t0
        total = time.perf_counter() - start
    with connect(url, autocommit=True) as conn:
        copied = {
            t: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCRATCH_SCHEMA, t))
            ).fetchone()[0]
            for t, _ in TABLES
        }
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(SCRATCH_SCHEMA)))
    if copied != manifest["rows"]:
        raise RuntimeError(f"COPY row counts {copied} differ from the files {manifest['rows']}")
    return total, per_table


# --- the import -----------------------------------------------------------------------------


def reset_tables(url: str) -> None:
    from psycopg import sql

    with connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in RESET_TABLES)
            )
        )
        conn.execute("CHECKPOINT")


def table_counts(url: str) -> dict[str, int]:
    from psycopg import sql

    with connect(url) as conn:
        return {
            t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
            for t, _ in TABLES
        }


_SUMMARY = re.compile(
    r"created (\d+), updated (\d+), unchanged (\d+), rejected (\d+), deleted (\d+)"
)


def run_import(url: str, path: Path) -> tuple[ChildResult, dict[str, int]]:
    # Not eager: each batch's recompute_soon would otherwise run a recompute in the child.
    res = manage(
        "import_condoit", str(path), "--no-progress", env=child_env(url, celery_eager=False)
    )
    m = _SUMMARY.search(res.stdout)
    if not m:
        sys.stderr.write(res.stdout + res.stderr)
        raise RuntimeError("import_condoit printed no sync-run summary")
    counts = dict(zip(("created", "updated", "unchanged", "rejected", "deleted"),
                      map(int, m.groups()), strict=True))  # fmt: skip
    return res, counts


class BenchmarkInvalid(RuntimeError):
    """The import did not do the work the benchmark compares (rejections, wrong rows)."""


@dataclass
class SizeResult:
    size: Size
    file: Path
    file_mb: float
    records: int = 0
    imp: ChildResult | None = None
    imp_counts: dict = field(default_factory=dict)
    reimp: ChildResult | None = None
    reimp_counts: dict = field(default_factory=dict)
    floor_s: float = 0.0
    floor_tables: dict = field(default_factory=dict)
    floor_rows: dict = field(default_factory=dict)
    imported_rows: dict = field(default_factory=dict)

    @property
    def floor_ratio(self) -> float:
        return self.imp.wall_s / self.floor_s

    @property
    def reimport_ratio(self) -> float:
        return self.reimp.wall_s / self.imp.wall_s

    @property
    def peak_mb(self) -> float:
        return max(self.imp.peak_rss_mb, self.reimp.peak_rss_mb)


def bench_size(url: str, size: Size, *, seed: int, as_of: str) -> SizeResult:
    path = demo_file(size, seed=seed, as_of=as_of, url=url)
    r = SizeResult(size=size, file=path, file_mb=path.stat().st_size / 1e6)
    manifest = prepare_floor(path)
    r.floor_rows = manifest["rows"]

    reset_tables(url)
    log(f"{size}: import of {path.name} ({r.file_mb:.0f} MB) …")
    r.imp, r.imp_counts = run_import(url, path)
    r.records = sum(r.imp_counts.values())
    r.imported_rows = table_counts(url)
    log(f"{size}: import {r.imp.wall_s:.1f} s, peak {r.imp.peak_rss_mb:.0f} MB, {r.imp_counts}")
    if r.imported_rows != r.floor_rows or r.imp_counts["rejected"]:
        sys.stderr.write(r.imp.stdout[-3000:] + r.imp.stderr[-3000:])
        raise BenchmarkInvalid(
            f"{size}: the import wrote {r.imported_rows} (sync run {r.imp_counts}), but the "
            f"file holds {r.floor_rows}: timings would compare different work"
        )

    with connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    log(f"{size}: unchanged re-import …")
    r.reimp, r.reimp_counts = run_import(url, path)
    log(f"{size}: re-import {r.reimp.wall_s:.1f} s, peak {r.reimp.peak_rss_mb:.0f} MB, "
        f"{r.reimp_counts}")  # fmt: skip
    if r.reimp_counts["unchanged"] != r.records:
        raise BenchmarkInvalid(
            f"{size}: the unchanged re-import reported {r.reimp_counts}, expected "
            f"{r.records} unchanged"
        )

    log(f"{size}: COPY floor …")
    r.floor_s, r.floor_tables = time_floor(url, manifest)
    log(f"{size}: COPY floor {r.floor_s:.1f} s")
    return r


# --- reporting ------------------------------------------------------------------------------



def verdicts(results: list[SizeResult]) -> list[tuple[str, bool, str]]:
    out = []
    for r in results:
        out.append((f"{r.size}: import ≤ {TARGET_FLOOR_RATIO:g}× COPY floor",
                    r.floor_ratio <= TARGET_FLOOR_RATIO, f"{r.floor_ratio:.2f}×"))  # fmt: skip
        out.append((f"{r.size}: peak memory < {TARGET_PEAK_MB:g} MB",
                    r.peak_mb < TARGET_PEAK_MB, f"{r.peak_mb:.0f} MB"))  # fmt: skip
        out.append((f"{r.size}: unchanged re-import ≤ {TARGET_REIMPORT:.0%} of import",
                    r.reimport_ratio <= TARGET_REIMPORT, f"{r.reimport_ratio:.0%}"))  # fmt: skip
    if len(results) >= 2:
        small, large = min(results, key=lambda r: r.records), max(results, key=lambda r: r.records)
        growth = large.peak_mb / small.peak_mb
        out.append((f"peak memory flat: {large.size} within {TARGET_FLAT - 1:.0%} of {small.size}",
                    growth <= TARGET_FLAT, f"{growth - 1:+.0%}"))  # fmt: skip
    return out


HEADERS = ["size", "records", "import s", "peak MB", "re-import s", "COPY floor s",
           "import/floor", "re-import/import"]  # fmt: skip


def summary_rows(results: list[SizeResult]) -> list[list[str]]:
    return [
        [
            f"{r.size.facilities}×{r.size.per_facility}",
            f"{r.records:,}",
            f"{r.imp.wall_s:.1f}",
            f"{r.peak_mb:.0f}",
            f"{r.reimp.wall_s:.1f}",
            f"{r.floor_s:.1f}",
            f"{r.floor_ratio:.2f}× {mark(r.floor_ratio <= TARGET_FLOOR_RATIO)}",
            f"{r.reimport_ratio:.0%} {mark(r.reimport_ratio <= TARGET_REIMPORT)}",
        ]
        for r in results
    ]


def detail_rows(results: list[SizeResult]) -> tuple[list[str], list[list[str]]]:
    headers = ["table"] + [f"{r.size} rows" for r in results] + [
        f"{r.size} COPY s" for r in results]  # fmt: skip
    rows = []
    for table, label in TABLES:
        rows.append([label]
                    + [f"{r.floor_rows[table]:,}" + ("" if r.imported_rows.get(table) ==
                       r.floor_rows[table] else f" (import: {r.imported_rows.get(table)})")
                       for r in results]
                    + [f"{r.floor_tables[table]:.2f}" for r in results])  # fmt: skip
    rows.append(["COMMIT"] + [""] * len(results)
                + [f"{r.floor_tables['COMMIT']:.2f}" for r in results])  # fmt: skip
    return headers, rows


def process_rows(results: list[SizeResult]) -> tuple[list[str], list[list[str]]]:
    headers = ["size", "run", "wall s", "child CPU s", "wall − CPU s", "peak MB", "outcome"]
    rows = []
    for r in results:
        for name, res, counts in (("import", r.imp, r.imp_counts),
                                  ("re-import", r.reimp, r.reimp_counts)):  # fmt: skip
            rows.append([
                str(r.size), name, f"{res.wall_s:.1f}", f"{res.cpu_s:.1f}",
                f"{res.wall_s - res.cpu_s:.1f}", f"{res.peak_rss_mb:.0f}",
                ", ".join(f"{k} {v:,}" for k, v in counts.items() if v),
            ])  # fmt: skip
    return headers, rows


def report(results: list[SizeResult], url: str, *, seed: int, as_of: str) -> str:
    checks = verdicts(results)
    print()
    print("Import benchmark (PostgreSQL)")
    print(text_table(HEADERS, summary_rows(results)))
    print()
    print_checks(checks)
    print()
    print(text_table(*process_rows(results)))
    print()
    print(text_table(*detail_rows(results)))

    lines = [
        *results_head("import", "Import", url, unit="seconds"),
        f"- data: `generate_demo_portfolio --seed {seed} --as-of {as_of}` (JSON document); "
        + "; ".join(f"{r.size}: {r.file_mb:.0f} MB" for r in results),
        "",
        md_table(HEADERS, summary_rows(results)),
        "",
        *checks_table(checks),
        "",
        "## The two child processes",
        "",
        "`child CPU s` is the import process's own user+system time (Python: parsing, "
        "validation, digests, ORM); `wall − CPU` is mostly time spent waiting for PostgreSQL.",
        "",
        md_table(*process_rows(results)),
        "",
        "## The COPY floor: rows per table",
        "",
        "Scratch tables `CREATE TABLE … (LIKE real INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING INDEXES)` — every column and index of the real table, no foreign keys — "
        "loaded with `COPY … FROM STDIN` (text format, psycopg 3) in one transaction.",
        "",
        md_table(*detail_rows(results)),
        "",
    ]
    return "\n".join(lines)


def run(url: str, *, sizes: list[Size], seed: int, as_of: str) -> bool:
    import django

    django.setup()
    results = [bench_size(url, s, seed=seed, as_of=as_of) for s in sizes]
    text = report(results, url, seed=seed, as_of=as_of)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "import.md").write_text(text)
    log(f"wrote {(RESULTS_DIR / 'import.md').relative_to(RESULTS_DIR.parent.parent)}")
    return all(ok for _, ok, _ in verdicts(results))
