"""Portfolio benchmark: a key bound to a portfolio vs an unbound key on the cached ThreatMap
endpoints (consumers.md §1: "caching stays cheap").

On the recompute section's portfolio (``--size``, recomputed), a portfolio of half the
facilities (every other one by id) is created with ``consumers.portfolios.portfolio_save``,
with two ``threatmap:read`` keys: one bound to it, one unbound. gunicorn serves the project
as in the api section (``-w 2``, DEBUG=0, Redis cache flushed first). For each endpoint, the
payload is warmed for both keys, then ``wrk -t2 -c8`` runs for ``duration`` seconds with the
unbound key and the bound one, back to back, in five rounds whose order alternates (unbound
first, then bound first: drift on a shared machine cancels out); each key's throughput is
its mean over the rounds. The facility endpoints use a facility inside the portfolio (the bound key
sees it; the payload is shared).

Target: bound throughput ≥ 90% of unbound on every endpoint (the scope costs one cache
round trip: the membership generation).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from api_bench import CLIENTS, Load, Server, wrk  # noqa: E402
from common import (  # noqa: E402
    RESULTS_DIR,
    ROOT,
    Size,
    checks_table,
    log,
    md_table,
    print_checks,
    results_head,
    text_table,
)
from recompute_bench import (  # noqa: E402
    BENCH_REDIS_URL,
    ensure_portfolio,
    ensure_recomputed,
    flush_redis,
)

TARGET_SHARE = 0.90
ROUNDS = 5
SLUG = "bench-half"

ENDPOINTS = [
    ("facility list (page 2, limit 20)", "/api/v1/facilities?page=2&limit=20"),
    ("facility list, portfolio filter", f"/api/v1/facilities?portfolio={SLUG}&limit=20"),
    ("facility detail", "/api/v1/facilities/{fid}"),
    ("equipment list (limit 50)", "/api/v1/facilities/{fid}/equipment?limit=50"),
    ("risks", "/api/v1/facilities/{fid}/risks"),
    ("portfolio summary", "/api/v1/portfolio/summary"),
]


@dataclass
class Result:
    name: str
    path: str
    rounds: list = field(default_factory=list)  # (unbound Load, bound Load)
    unbound: Load | None = None
    bound: Load | None = None
    bound_total: int | None = None
    unbound_total: int | None = None

    @property
    def share(self) -> float:
        return self.bound.rps / self.unbound.rps


def mean_load(loads: list[Load]) -> Load:
    """Throughput and latency averaged over rounds; requests and errors summed."""
    n = len(loads)
    return Load(
        rps=sum(x.rps for x in loads) / n,
        p50_ms=sum(x.p50_ms for x in loads) / n,
        p99_ms=sum(x.p99_ms for x in loads) / n,
        requests=sum(x.requests for x in loads),
        non2xx=sum(x.non2xx for x in loads),
        socket_errors="; ".join(x.socket_errors for x in loads if x.socket_errors),
    )


def prepare() -> dict:
    """The half portfolio and the two keys (in the driver's process, on the bench DB)."""
    from consumers.portfolios import portfolio_facility_count, portfolio_save
    from facilities.models import Facility
    from masterbus.services import api_key_create
    from voltmetrics.models import FacilityAssessment

    active = list(
        Facility.objects.filter(deleted_at__isnull=True).order_by("pk").values_list(
            "external_id", flat=True
        )
    )
    half = active[::2]
    portfolio, _ = portfolio_save(slug=SLUG, name="Benchmark half", facility_ids=half)
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    bound_key, bound = api_key_create(
        name=f"benchmark bound {stamp}", scopes=["threatmap:read"], rate_limit=1_000_000_000
    )
    bound_key.portfolios.add(portfolio)
    _, unbound = api_key_create(
        name=f"benchmark unbound {stamp}", scopes=["threatmap:read"], rate_limit=1_000_000_000
    )
    fid = (
        FacilityAssessment.objects.filter(
            source="local", facility__external_id__in=half, equipment_count__gt=0
        )
        .order_by("-equipment_count", "facility__external_id")
        .values_list("facility__external_id", flat=True)
        .first()
    )
    return {
        "bound": bound,
        "unbound": unbound,
        "fid": fid,
        "facilities": len(active),
        "portfolio": portfolio_facility_count(portfolio),
    }


def run(url: str, *, size: Size, seed: int, as_of: str, duration: float = 8.0) -> bool:
    import json

    import django

    django.setup()
    pf = ensure_portfolio(url, size, seed=seed, as_of=as_of)
    today = datetime.now(UTC).date()
    ensure_recomputed(url, pf, today)
    setup = prepare()
    log(f"portfolio {SLUG!r}: {setup['portfolio']} of {setup['facilities']} facilities; "
        f"facility endpoints on {setup['fid']}")  # fmt: skip
    results = [Result(name, tmpl.format(fid=setup["fid"])) for name, tmpl in ENDPOINTS]
    flush_redis()
    log(f"starting gunicorn (2 workers, cache {BENCH_REDIS_URL}) …")
    server = Server(url)
    try:
        keys = {"unbound": setup["unbound"], "bound": setup["bound"]}
        for r in results:  # warm both workers and every payload, check the answers
            for who, key in keys.items():
                for _ in range(4):
                    status, body, _ = server.get(r.path, {"X-API-Key": key})
                    if status != 200:
                        raise RuntimeError(f"{r.path} ({who}) answered {status}: {body[:300]!r}")
                if "facilities?" in r.path:
                    setattr(r, f"{who}_total", json.loads(body)["total"])
        log(f"warm load: wrk, {CLIENTS} connections, {duration:g} s per run, {ROUNDS} rounds …")
        for rnd in range(ROUNDS):
            for r in results:
                if rnd == 0:
                    wrk(server.port, r.path, keys["unbound"], 1)
                    wrk(server.port, r.path, keys["bound"], 1)
                if rnd % 2 == 0:
                    u = wrk(server.port, r.path, keys["unbound"], duration)
                    b = wrk(server.port, r.path, keys["bound"], duration)
                else:
                    b = wrk(server.port, r.path, keys["bound"], duration)
                    u = wrk(server.port, r.path, keys["unbound"], duration)
                log(f"  {r.name}: unbound {u.rps:.0f} req/s (p99 {u.p99_ms:.1f} ms), bound "
                    f"{b.rps:.0f} req/s (p99 {b.p99_ms:.1f} ms): {b.rps / u.rps:.0%}")  # fmt: skip
                r.rounds.append((u, b))
        for r in results:
            r.unbound, r.bound = (mean_load([p[i] for p in r.rounds]) for i in (0, 1))
    finally:
        server.stop()

    text = report(results, url, setup=setup, size=size, seed=seed, as_of=as_of,
                  duration=duration)  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "portfolio.md").write_text(text)
    log(f"wrote {(RESULTS_DIR / 'portfolio.md').relative_to(ROOT)}")
    return all(ok for _, ok, _ in verdicts(results))


def verdicts(results: list[Result]) -> list[tuple[str, bool, str]]:
    out = []
    for r in results:
        out.append((f"{r.name}: bound ≥ {TARGET_SHARE:.0%} of unbound throughput",
                    r.share >= TARGET_SHARE, f"{r.share:.0%}"))  # fmt: skip
        if r.bound.non2xx or r.unbound.non2xx:
            out.append((f"{r.name}: every response 2xx", False,
                        f"{r.unbound.non2xx} / bound {r.bound.non2xx} non-2xx"))  # fmt: skip
    return out


HEADERS = ["endpoint", "unbound req/s", "unbound p99 ms", "bound req/s", "bound p99 ms",
           "bound / unbound", "totals unbound / bound"]  # fmt: skip


def rows(results: list[Result]) -> list[list[str]]:
    return [
        [r.name, f"{r.unbound.rps:,.0f}", f"{r.unbound.p99_ms:.1f}", f"{r.bound.rps:,.0f}",
         f"{r.bound.p99_ms:.1f}", f"{r.share:.0%} {'PASS' if r.share >= TARGET_SHARE else 'FAIL'}",
         f"{r.unbound_total} / {r.bound_total}" if r.bound_total is not None else "—"]
        for r in results
    ]  # fmt: skip


def report(results, url, *, setup, size, seed, as_of, duration) -> str:
    checks = verdicts(results)
    print()
    print(f"Portfolio benchmark (gunicorn -w 2, {CLIENTS} clients, wrk): a key bound to "
          f"{setup['portfolio']} of {setup['facilities']} facilities vs an unbound key")  # fmt: skip
    print(text_table(HEADERS, rows(results)))
    print()
    print_checks(checks)
    lines = [
        *results_head(
            "portfolio",
            "Portfolio",
            url,
            unit="figures",
            shared="; the server, PostgreSQL, Redis and the load generator share the machine",
        ),
        f"- data: the recompute portfolio at {size} (`generate_demo_portfolio --seed {seed} "
        f"--as-of {as_of}`), recomputed; portfolio `{SLUG}`: every other active facility by "
        f"id, {setup['portfolio']} of {setup['facilities']}; facility endpoints on "
        f"`{setup['fid']}` (in the portfolio)",
        "- server: `gunicorn masterbus.wsgi -w 2` (sync workers) on 127.0.0.1, DEBUG=0, "
        "Redis cache (flushed first), payloads warmed for both keys",
        f"- load: `wrk -t2 -c{CLIENTS} -d{duration:g}s --latency` per key and endpoint, "
        f"{ROUNDS} rounds alternating which key goes first; figures are means over the rounds "
        "(p99: mean of the rounds' p99)",
        "",
        md_table(HEADERS, rows(results)),
        "",
        *checks_table(checks),
        "",
        "## Every round",
        "",
        md_table(["endpoint", *[f"round {i + 1}: unbound vs bound req/s" for i in range(ROUNDS)]],
                 [[r.name, *[f"{u.rps:,.0f} vs {b.rps:,.0f} ({b.rps / u.rps:.0%})"
                             for u, b in r.rounds]] for r in results]),  # fmt: skip
        "",
    ]
    return "\n".join(lines)
