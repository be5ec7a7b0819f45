"""Admin benchmark: every admin page's server time and queries on the 500×200 portfolio.

On the recompute section's portfolio (``--size``, imported and recomputed untimed, the change
outbox handled: the steady state a minute after any change) — or on a copy of a prepared
database (``--from-db NAME``: migrated, its outbox marked handled in the copy) — a child
process (DEBUG=0, the Redis cache of the other sections, flushed first) logs a superuser in
and renders, through the Django test client (every middleware), every admin page:

- the dashboard (the admin index) — as staff see it (the application gauges from their
  shared cache, ``METRICS_CACHE_SECONDS``) and with the gauges recomputed before each render
  (their cache entry deleted: the first view in a cache period);
- each app's index;
- every registered model's list (``admin.site._registry``: pages any app adds are covered),
  its add page where a superuser may add, one change page and its history page per model
  that has rows (the first row by primary key), and the models' own extra pages without
  arguments (e.g. the unmapped Condoit classes).

Each page is rendered once to warm up, then ``--admin-renders`` times (default 5): the median
is reported, with the worst, and the queries of one more render counted with
``CaptureQueriesContext`` (not timed). When the database came with changes still pending
(a prepared database right after its import), the dashboard with its gauges recomputed is
also measured in that state, before the outbox is marked handled: reported, no target (the
pending aggregates read every pending row; ``benchmarks/run metrics`` reports the same).

Target: every page's median ≤ 300 ms.

Also the child program: ``python admin_bench.py child RENDERS``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import (  # noqa: E402
    RESULTS_DIR,
    ROOT,
    Size,
    checks_table,
    connect,
    log,
    md_table,
    print_checks,
    results_head,
    run_child,
    text_table,
)
from recompute_bench import (  # noqa: E402
    bench_env,
    child_result,
    ensure_portfolio,
    ensure_recomputed,
    flush_redis,
    mark_outbox_done,
    settle,
)

TARGET_MS = 300.0
USERNAME = "bench-admin"
HEADERS = ["page", "url", "median ms", "worst ms", "queries", "target"]


def counts(url: str) -> dict[str, int]:
    with connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "facilities": one("SELECT count(*) FROM facilities_facility"),
            "equipment": one("SELECT count(*) FROM equipment_equipment"),
            "maintenance records": one("SELECT count(*) FROM equipment_maintenancerecord"),
            "change outbox": one("SELECT count(*) FROM facilities_recordchange"),
            "pending changes": one(
                "SELECT count(*) FROM facilities_recordchange WHERE recomputed_at IS NULL"
            ),
        }


def run(url: str, *, size: Size, seed: int, as_of: str, renders: int,
        prepared: str | None = None) -> bool:  # fmt: skip
    if prepared:
        data = f"a copy of the prepared database `{prepared}`, migrated"
    else:
        ensure_recomputed(url, ensure_portfolio(url, size, seed=seed, as_of=as_of),
                          datetime.now(UTC).date())  # fmt: skip
        data = (f"the recompute portfolio at {size} (`generate_demo_portfolio --seed {seed} "
                f"--as-of {as_of}`), imported and recomputed")  # fmt: skip
    before = counts(url)
    load = os.getloadavg()[0]
    env = bench_env(url, ALLOWED_HOSTS="testserver")
    pending_dashboard = None
    if before["pending changes"]:
        settle(url)
        flush_redis()
        log(f"dashboard with {before['pending changes']:,} changes pending, gauges recomputed …")
        res = run_child([sys.executable, str(Path(__file__).resolve()), "child", str(renders),
                         "dashboard"], env=env)  # fmt: skip
        pending_dashboard = child_result(res, "admin")["pages"][0]
        log(f"marked {mark_outbox_done(url):,} outbox rows handled (the steady state)")
    settle(url)
    flush_redis()
    log(f"every admin page: 1 warm-up and {renders} renders each …")
    res = run_child([sys.executable, str(Path(__file__).resolve()), "child", str(renders)],
                    env=env)  # fmt: skip
    got = child_result(res, "admin")
    pages = got["pages"]
    checks = verdicts(pages)
    rows = table(pages)
    print(text_table(HEADERS, rows))
    print_checks(checks)

    load = max(load, os.getloadavg()[0])
    shared = f"; load average {load:.1f} (1 min) at the start or the end of the run"
    lines = results_head("admin", "Admin", url, unit="times", shared=shared)
    lines += [
        f"- data: {data}; {', '.join(f'{v:,} {k}' for k, v in before.items())} before the run",
        f"- every page through the Django test client in a child process (DEBUG=0, every "
        f"middleware, a superuser's session, Redis cache flushed first): 1 warm-up, then "
        f"{renders} renders, median and worst; queries of one more render",
        f"- {len(pages)} pages: the dashboard, {got['apps']} app indexes, {got['models']} "
        "registered models' lists, change and history pages (the first row by primary key), "
        "add pages and the models' own extra pages",
        "",
        md_table(HEADERS, rows),
        "",
        *checks_table(checks),
        "",
    ]
    if pending_dashboard is not None:
        p = pending_dashboard
        lines += [
            "## The dashboard right after the import",
            "",
            f"With the {before['pending changes']:,} imported changes still pending (as the "
            "prepared database came), the gauges recomputed before each render (their cache "
            "entry deleted): the pending aggregates read every pending row. Reported, no "
            "target; staff get the gauges from their cache (at most 15 s old) in between.",
            "",
            md_table(["page", "median ms", "worst ms", "queries"],
                     [[p["name"], f"{statistics.median(p['ms']):.1f}", f"{max(p['ms']):.1f}",
                       str(p["queries"])]]),  # fmt: skip
            "",
        ]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "admin.md").write_text("\n".join(lines))
    log(f"wrote {(RESULTS_DIR / 'admin.md').relative_to(ROOT)}")
    return all(ok for _, ok, _ in checks)


def table(pages: list[dict]) -> list[list[str]]:
    rows = []
    for p in pages:
        median = statistics.median(p["ms"])
        verdict = "download" if p.get("download") else "PASS" if median <= TARGET_MS else "FAIL"
        rows.append([p["name"], p["url"], f"{median:.1f}", f"{max(p['ms']):.1f}",
                     str(p["queries"]), verdict])  # fmt: skip
    return rows


def verdicts(pages: list[dict]) -> list[tuple[str, bool, str]]:
    # A download (the CSV export of a whole list) streams to its last row: not a page.
    pages = [p for p in pages if not p.get("download")]
    slowest = max(pages, key=lambda p: statistics.median(p["ms"]))
    median = statistics.median(slowest["ms"])
    failed = [p["name"] for p in pages if statistics.median(p["ms"]) > TARGET_MS]
    return [
        (f"every page's median ≤ {TARGET_MS:g} ms ({len(pages)} pages)", not failed,
         f"slowest {slowest['name']}: {median:.1f} ms"
         + (f"; over: {', '.join(failed)}" if failed else "")),
    ]  # fmt: skip


# --- the child ------------------------------------------------------------------------------


def admin_pages(request) -> list[tuple[str, str]]:
    """``(name, url)`` of every admin page to render (see the module's docstring)."""
    from django.contrib import admin
    from django.urls import URLPattern, reverse

    site = admin.site
    models = sorted(site._registry, key=lambda m: m._meta.label)
    out = [("dashboard", reverse("admin:index"))]
    for label in sorted({m._meta.app_label for m in models}):
        out.append((f"app index: {label}", reverse("admin:app_list", args=[label])))
    for model in models:
        opts = model._meta
        model_admin = site._registry[model]
        name = f"admin:{opts.app_label}_{opts.model_name}"
        label = opts.label
        out.append((f"{label} list", reverse(f"{name}_changelist")))
        if model_admin.has_add_permission(request):
            out.append((f"{label} add", reverse(f"{name}_add")))
        first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
        if first is not None:
            out.append((f"{label} change", reverse(f"{name}_change", args=[first])))
            out.append((f"{label} history", reverse(f"{name}_history", args=[first])))
        standard = {f"{opts.app_label}_{opts.model_name}_{v}" for v in
                    ("changelist", "add", "change", "delete", "history")}  # fmt: skip
        for pattern in model_admin.get_urls():
            if (isinstance(pattern, URLPattern) and pattern.name and pattern.name not in standard
                    and not pattern.pattern.converters and "(?P<" not in str(pattern.pattern)):  # fmt: skip
                out.append((f"{label} {pattern.name.rsplit('_', 1)[-1]}",
                            reverse(f"admin:{pattern.name}")))  # fmt: skip
    return out


def child(renders: int, only: str = "") -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client, RequestFactory
    from django.test.utils import CaptureQueriesContext

    from masterbus.metrics.application import CACHE_KEY

    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is None:
        user = get_user_model().objects.create_superuser(USERNAME, "", None)
    client = Client()
    client.force_login(user)
    request = RequestFactory().get("/admin/")
    request.user = user

    def measure(name: str, url: str, *, uncached: bool = False) -> dict:
        ms = []
        for i in range(renders + 1):
            if uncached:
                cache.delete(CACHE_KEY)
            t0 = time.perf_counter()
            r = client.get(url)
            if r.streaming:  # a download (the CSV export): timed to its last byte, then closed
                b"".join(r.streaming_content)
                r.close()
            dt = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{url} answered {r.status_code}")
            if i:  # the first render warms up
                ms.append(dt)
        if uncached:
            cache.delete(CACHE_KEY)
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(url)
            download = r.streaming
            if download:
                b"".join(r.streaming_content)
                r.close()
        return {"name": name, "url": url, "ms": ms, "queries": len(ctx.captured_queries),
                "download": download}  # fmt: skip

    if only == "dashboard":
        pages = [measure("dashboard, gauges recomputed", "/admin/", uncached=True)]
        print("BENCH-RESULT " + json.dumps({"pages": pages}), flush=True)
        return
    pages = []
    for name, url in admin_pages(request):
        pages.append(measure(name, url))
        if name == "dashboard":
            pages.append(measure("dashboard, gauges recomputed", url, uncached=True))
    models = len(admin.site._registry)
    apps = len({m._meta.app_label for m in admin.site._registry})
    print("BENCH-RESULT " + json.dumps({"pages": pages, "models": models, "apps": apps}),
          flush=True)  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"] and len(sys.argv) in (3, 4):
        child(int(sys.argv[2]), sys.argv[3] if len(sys.argv) == 4 else "")
        sys.exit(0)
    raise SystemExit("usage: python admin_bench.py child RENDERS [dashboard]")
