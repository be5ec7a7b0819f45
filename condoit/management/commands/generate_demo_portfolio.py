"""Write a deterministic demo portfolio as a Condoit export file (JSON or NDJSON)."""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, date, datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from condoit.demo import write_export


def _non_negative(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise CommandError(f"not an integer: {value!r}") from None
    if n < 0:
        raise CommandError(f"must not be negative: {value}")
    return n


def _as_of(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--as-of must be YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = (
        "Generate a deterministic demo portfolio (facilities, equipment, maintenance records) "
        "as a Condoit export file that import_condoit can read. The same arguments always "
        "produce byte-identical files."
    )
    # Writes a file only: no database, so unrelated system checks must not block it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--facilities", type=_non_negative, required=True, help="number of facilities"
        )
        parser.add_argument(
            "--equipment-per-facility",
            type=_non_negative,
            required=True,
            help="equipment records per facility",
        )
        parser.add_argument("--seed", type=int, required=True, help="random seed")
        parser.add_argument("--out", required=True, help="output file path")
        parser.add_argument(
            "--format",
            choices=("json", "ndjson"),
            default="json",
            help="JSON document (default) or NDJSON lines",
        )
        parser.add_argument(
            "--as-of",
            type=_as_of,
            default=None,
            help="anchor date YYYY-MM-DD (default: today in UTC); all dates "
            "and timestamps are before it",
        )

    def handle(self, *args, **opts) -> None:
        n_fac = opts["facilities"]
        per = opts["equipment_per_facility"]
        as_of = opts["as_of"] or datetime.now(UTC).date()
        out = opts["out"]
        fmt = opts["format"]
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise CommandError(f"directory does not exist: {parent}")

        # a progress bar on a terminal only (stderr, so stdout keeps just the summary)
        bar = tqdm(
            total=n_fac * per,
            unit="eq",
            unit_scale=True,
            desc="Generating",
            file=sys.stderr,
            disable=not sys.stderr.isatty() or n_fac * per == 0,
        )
        started = time.monotonic()
        try:
            counts = write_export(
                out,
                facilities=n_fac,
                equipment_per_facility=per,
                seed=opts["seed"],
                as_of=as_of,
                fmt=fmt,
                progress=bar.update,
            )
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        elapsed = time.monotonic() - started

        size = counts["bytes"]
        self.stdout.write(
            self.style.SUCCESS(f"Wrote {out} ({fmt}, {size / 1_000_000:.1f} MB) in {elapsed:.1f} s")
        )
        self.stdout.write(
            f"  facilities:          {counts['facilities']}\n"
            f"  equipment:           {counts['equipment']}\n"
            f"  maintenance records: {counts['maintenanceRecords']}\n"
            f"  seed {opts['seed']}, as of {as_of.isoformat()}"
        )
