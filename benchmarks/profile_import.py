"""Where an import spends its time: SQL by statement kind vs Python, optionally a profile.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/masterbus_bench_prof \\
        .venv/bin/python benchmarks/profile_import.py FILE [--reimport] [--pyinstrument OUT.txt]

Not part of ``benchmarks/run`` (profiling slows the import down); a diagnostic for when the
import benchmark misses a target. The database must exist and be migrated; the mirror tables
are emptied first unless ``--reimport`` (then FILE is imported twice and the second import is
the one measured).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")
os.environ.setdefault("DEBUG", "0")

_SHAPE = re.compile(r'^\s*(SELECT|INSERT INTO|UPDATE|DELETE FROM)\s+.*?"?(\w+)"?[\s(]', re.S)


def shape(sql: str) -> str:
    head = sql[:400]
    m = _SHAPE.match(head)
    if not m:
        return head.split()[0] if head.strip() else "?"
    verb, table = m.groups()
    if verb == "SELECT":
        table = re.search(r'FROM\s+"?(\w+)"?', head)
        table = table.group(1) if table else "?"
    suffix = ""
    if verb == "INSERT INTO" and "ON CONFLICT" in sql[-2000:]:
        suffix = " ON CONFLICT"
    if verb == "UPDATE" and "feeds_from_id" in head:
        suffix = " SET feeds_from_id"
    return f"{verb.split()[0]} {table}{suffix}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--reimport", action="store_true")
    parser.add_argument("--pyinstrument", metavar="OUT", help="write a pyinstrument text profile")
    parser.add_argument("--cprofile", metavar="OUT", help="write cProfile stats (pstats file)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from import_bench import RESET_TABLES

    from condoit.files import import_file

    if not args.reimport:
        with connection.cursor() as cur:
            cur.execute("TRUNCATE " + ", ".join(RESET_TABLES) + " RESTART IDENTITY CASCADE")
    else:
        import_file(args.file)

    sql_time: dict[str, float] = defaultdict(float)
    sql_count: dict[str, int] = defaultdict(int)

    def timer(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = shape(sql)
            sql_time[key] += time.perf_counter() - t0
            sql_count[key] += 1

    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    elif args.cprofile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    with connection.execute_wrapper(timer):
        run = import_file(args.file)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if args.pyinstrument:
        profiler.stop()
        Path(args.pyinstrument).write_text(profiler.output_text(unicode=True, show_all=False))
    elif args.cprofile:
        profiler.disable()
        profiler.dump_stats(args.cprofile)

    total_sql = sum(sql_time.values())
    print(f"sync run: created {run.created}, updated {run.updated}, unchanged {run.unchanged}")
    print(f"wall {wall:.1f} s; process CPU {cpu:.1f} s; inside cursor.execute {total_sql:.1f} s "
          f"({total_sql / wall:.0%}); outside SQL {wall - total_sql:.1f} s")
    print(f"{'statement':48} {'count':>7} {'seconds':>8} {'share':>6}")
    for key, secs in sorted(sql_time.items(), key=lambda kv: -kv[1]):
        print(f"{key:48} {sql_count[key]:7} {secs:8.2f} {secs / wall:6.1%}")


if __name__ == "__main__":
    main()
