"""Events benchmark: what writing the consumers' events adds to a full recompute.

On the target portfolio (recomputed once, untimed), a child process runs four full
recomputes (``risk_recompute()``), each after a model change that moves most figures: the
stored figures alternate between the current model (A) and a variant (B: age weighs most,
rating bands lowered), so every run rewrites most equipment ratings and facility scores. The
runs are in ABBA order — events off, on, on, off — so drift of the shared machine falls on
both sides alike. "Off" disconnects the events' subscriber (the recompute then skips reading
the figures it replaces, as it does when nothing subscribes); "on" is production. Between
runs: VACUUM ANALYZE and CHECKPOINT.

Target: the mean "on" run takes ≤ 10% more time than the mean "off" run.

Also the child program: ``python events_bench.py child``.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from common import ROOT, Part, Size, log, run_child, text_table  # noqa: E402

TARGET_EXTRA = 0.10
ORDER = [("B", False), ("A", True), ("B", True), ("A", False)]
_RESULT = re.compile(r"^BENCH-RESULT (.*)$", re.M)


def run(url: str, *, size: Size, seed: int, as_of: str) -> Part:
    import django
    from recompute_bench import bench_env, ensure_portfolio, ensure_recomputed

    django.setup()
    from datetime import date

    pf = ensure_portfolio(url, size, seed=seed, as_of=as_of)
    recompute_as_of = date.fromisoformat(as_of)
    ensure_recomputed(url, pf, recompute_as_of)
    log("events: four full recomputes after model changes (ABBA: events off, on, on, off) …")
    res = run_child(
        [sys.executable, str(Path(__file__).resolve()), "child", recompute_as_of.isoformat()],
        env=bench_env(url),
    )
    m = _RESULT.search(res.stdout)
    if res.returncode != 0 or not m:
        sys.stderr.write(res.stdout[-5000:] + res.stderr[-5000:])
        raise RuntimeError(f"events child failed (exit {res.returncode})")
    runs = json.loads(m.group(1))["runs"]
    return report(runs, size)


def report(runs: list[dict], size: Size) -> Part:
    headers = ["run", "model", "events", "seconds", "facilities", "equipment",
               "events written", "ratings moved"]  # fmt: skip
    rows = [
        [str(i), r["model"], "on" if r["events"] else "off", f"{r['seconds']:.2f}",
         f"{r['facilities']:,}", f"{r['equipment']:,}", f"{r['written']:,}",
         f"{r['moved']:,}"]
        for i, r in enumerate(runs, start=1)
    ]  # fmt: skip
    off = [r["seconds"] for r in runs if not r["events"]]
    on = [r["seconds"] for r in runs if r["events"]]
    mean_off, mean_on = sum(off) / len(off), sum(on) / len(on)
    extra = mean_on / mean_off - 1
    print(text_table(headers, rows))
    checks = [
        (
            f"events on ≤ {TARGET_EXTRA:.0%} extra time (mean of 2 runs each)",
            extra <= TARGET_EXTRA,
            f"{mean_on:.2f} s vs {mean_off:.2f} s: {extra:+.1%}",
        )
    ]
    lines = [
        f"- data: the {size} portfolio, recomputed once first (untimed)",
        "- each run: `risk_recompute()` in one child process after switching the model between "
        "A (the current one) and B (age weighs most; rating bands lowered to 20/40/60), so "
        "most equipment ratings and facility scores move every time; ABBA order, "
        "VACUUM ANALYZE and CHECKPOINT between runs",
        "- events off: the events' subscriber disconnected (the recompute then does not read "
        "the figures it replaces either); on: as in production",
    ]
    return Part("Events written by a full recompute", lines, headers, rows, checks)


# --- child program --------------------------------------------------------------------------


def _variant(model):
    from dataclasses import replace

    from voltmetrics.engine.types import Thresholds

    weights = {k: 0.02 for k in model.weights}
    weights["age"] = 1 - 0.02 * (len(weights) - 1)
    return replace(model, version=f"{model.version}-bench", weights=weights,
                   thresholds=Thresholds(low_max=20, medium_max=40, high_max=60))  # fmt: skip


def child(as_of_text: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")
    import django

    django.setup()
    from datetime import date

    from django.db import connection

    from consumers.events import _risk_changed
    from consumers.models import Event
    from masterbus.changes import risk_changed
    from voltmetrics.choices import Source
    from voltmetrics.current import model_current
    from voltmetrics.models import EquipmentAssessment
    from voltmetrics.services import risk_recompute

    as_of = date.fromisoformat(as_of_text)
    models = {"A": model_current(), "B": _variant(model_current())}
    uid = "consumers._risk_changed"

    def ratings():
        return dict(
            EquipmentAssessment.objects.filter(source=Source.LOCAL).values_list(
                "equipment_id", "rating"
            )
        )

    out = []
    for name, events in ORDER:
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
            cur.execute("CHECKPOINT")
        if events:
            risk_changed.in_transaction.connect(_risk_changed, dispatch_uid=uid)
        else:
            risk_changed.in_transaction.disconnect(dispatch_uid=uid)
        before = ratings()
        first = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        t0 = time.perf_counter()
        stats = risk_recompute(as_of=as_of, model=models[name])
        seconds = time.perf_counter() - t0
        after = ratings()
        out.append({
            "model": name, "events": events, "seconds": seconds,
            "facilities": stats.facilities, "equipment": stats.equipment,
            "written": Event.objects.filter(id__gt=first).count(),
            "moved": sum(1 for k, v in after.items() if before.get(k) != v),
        })  # fmt: skip
        log(f"events: run {len(out)} model {name}, events {'on' if events else 'off'}: "
            f"{seconds:.2f} s, {out[-1]['written']:,} events")  # fmt: skip
    risk_changed.in_transaction.connect(_risk_changed, dispatch_uid=uid)
    print("BENCH-RESULT " + json.dumps({"runs": out}), flush=True)


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"child": child}[mode](*rest)
