"""The benchmark driver: ``benchmarks/run [section ...] [options]``.

Sections are selected by name (default: all of them). Every section runs against a
PostgreSQL benchmark database that this driver drops, creates and migrates:
``DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/masterbus_bench). Its name
must contain "bench", because it is dropped.

To add a section, write a ``run_<name>(args, url) -> bool`` function below (True when
every target passed) and add it to ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from common import (
    DEFAULT_DATABASE_URL,
    ROOT,
    Size,
    check_postgres_url,
    database_url,
    db_name,
    drop_database,
    log,
    migrate,
    recreate_database,
    write_parts,
)


def run_import(args: argparse.Namespace, url: str) -> bool:
    import import_bench

    sizes = sorted({Size.parse(args.small), Size.parse(args.size)}, key=lambda s: s.equipment)
    try:
        return import_bench.run(url, sizes=sizes, seed=args.seed, as_of=args.as_of)
    except import_bench.BenchmarkInvalid as exc:
        log(f"import: INVALID — {exc}")
        return False


def run_recompute(args: argparse.Namespace, url: str) -> bool:
    import recompute_bench

    return recompute_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of)


def run_api(args: argparse.Namespace, url: str) -> bool:
    import api_bench

    return api_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of,
                         duration=args.api_seconds)  # fmt: skip


def run_portfolio(args: argparse.Namespace, url: str) -> bool:
    import portfolio_bench

    return portfolio_bench.run(url, size=Size.parse(args.size), seed=args.seed,
                               as_of=args.as_of, duration=args.api_seconds)  # fmt: skip


def run_metrics(args: argparse.Namespace, url: str) -> bool:
    import metrics_bench

    return metrics_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of)


def run_growth(args: argparse.Namespace, url: str) -> bool:
    import growth_bench

    return growth_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of,
                            months=args.months)  # fmt: skip


def run_deliveries(args: argparse.Namespace, url: str) -> bool:
    import deliveries_bench

    part = deliveries_bench.run(url, events=args.deliveries_events)
    return write_parts("deliveries", "Webhook deliveries", url, [part], unit="deliveries per second")


def scale_parts() -> list:
    """The scale section's parts, each ``(name, measure)`` with ``measure(args, url) ->
    common.Part``, run and reported in this order."""
    import scale_fetch
    import scale_recompute
    from recompute_bench import bench_env

    return [
        ("recompute", lambda args, url: scale_recompute.run(
            url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of)),
        ("fetch", lambda args, url: scale_fetch.run(url, env=bench_env(url))),
    ]  # fmt: skip


def run_scale(args: argparse.Namespace, url: str) -> bool:
    parts = []
    for name, measure in scale_parts():
        log(f"--- scale: {name} ---")
        parts.append(measure(args, url))
    return write_parts("scale", "Scale", url, parts, unit="seconds")


def run_admin(args: argparse.Namespace, url: str) -> bool:
    import admin_bench

    return admin_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of,
                           renders=args.admin_renders, prepared=args.from_db)  # fmt: skip


def run_events(args: argparse.Namespace, url: str) -> bool:
    import events_bench

    part = events_bench.run(url, size=Size.parse(args.size), seed=args.seed, as_of=args.as_of)
    return write_parts("events", "Events", url, [part], unit="seconds")


SECTIONS = {
    "import": (run_import, "Condoit export-file import vs the PostgreSQL COPY floor"),
    "recompute": (run_recompute, "engine alone vs full and incremental risk recompute"),
    "api": (run_api, "ThreatMap read API under 8 concurrent clients vs a constant-body floor"),
    "portfolio": (run_portfolio, "a key bound to half the facilities vs an unbound key on the "
                  "cached read endpoints"),
    "metrics": (run_metrics, "GET /metrics on the portfolio, application gauges cached or not"),
    "growth": (run_growth, "a simulated year of operation, pruned nightly: tables stay flat"),
    "events": (run_events, "full recompute after a model change: consumers' events on vs off"),
    "scale": (run_scale, "full recompute on 1 vs 2 worker processes; a VoltMetrics job's 500 "
              "results fetched 1 vs 8 at a time (stand-in)"),
    "deliveries": (run_deliveries, "webhook deliveries per second from one worker process to a "
                   "loopback receiver"),
    "admin": (run_admin, "every admin page (the dashboard, each model's list, change and history "
              "page, app indexes): median server time and queries, target 300 ms"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run",
        description="Run MasterBus benchmarks against PostgreSQL. Sections: "
        + "; ".join(f"{name}: {help_}" for name, (_, help_) in SECTIONS.items()),
    )
    parser.add_argument("sections", nargs="*", metavar="section",
                        help=f"one or more of {', '.join(SECTIONS)} (default: all)")
    group = parser.add_argument_group("data (import; the recompute and api portfolio)")
    group.add_argument("--size", default="500x200",
                       help="FACILITIESxEQUIPMENT_PER_FACILITY, the target size (default 500x200;"
                       " also the portfolio of the recompute and api sections)")
    group.add_argument("--small", default="250x200",
                       help="the smaller size, to show memory stays flat (default 250x200)")
    group.add_argument("--seed", type=int, default=42, help="demo data seed (default 42)")
    group.add_argument("--as-of", default="2026-01-01",
                       help="demo data anchor date, fixed so cached data stays valid")
    parser.add_argument("--api-seconds", type=float, default=8.0,
                        help="api: seconds of load per endpoint and round (default 8)")
    parser.add_argument("--months", type=int, default=12,
                        help="growth: simulated months of 30 days (default 12)")
    parser.add_argument("--deliveries-events", type=int, default=3000,
                        help="deliveries: events per trial (default 3000)")
    parser.add_argument("--admin-renders", type=int, default=5,
                        help="admin: timed renders of each page after a warm-up (default 5)")
    parser.add_argument("--from-db", default="", metavar="NAME",
                        help="create the benchmark database as a copy of database NAME on the "
                        "same server (only read) instead of empty; the admin section then "
                        "measures its data instead of importing the portfolio")
    parser.add_argument("--keep-db", action="store_true",
                        help="leave the benchmark database in place afterwards")
    parser.add_argument("--force-drop", action="store_true",
                        help="allow dropping a DATABASE_URL whose name lacks 'bench'")
    args = parser.parse_args(argv)

    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if args.admin_renders < 1:
        parser.error("--admin-renders must be at least 1")
    try:
        for text in (args.size, args.small):
            Size.parse(text)
    except ValueError as exc:
        parser.error(str(exc))
    selected = args.sections or list(SECTIONS)

    url = database_url()
    check_postgres_url(url)
    if "DATABASE_URL" not in os.environ:
        log(f"DATABASE_URL not set: using {DEFAULT_DATABASE_URL}")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")
    os.environ["DEBUG"] = os.environ.get("BENCH_DEBUG", "0")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    copy = f" as a copy of {args.from_db!r}" if args.from_db else ""
    log(f"(re)creating database {db_name(url)!r}{copy} and migrating …")
    recreate_database(url, force=args.force_drop, template=args.from_db)
    migrate(url)
    ok = True
    started = time.perf_counter()
    try:
        for name in selected:
            log(f"=== {name} ===")
            ok &= SECTIONS[name][0](args, url)
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_database(url)
    log(f"done in {time.perf_counter() - started:.0f} s: "
        + ("all targets met" if ok else "some targets missed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
