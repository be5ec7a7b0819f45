"""``manage.py recompute_risk``: recompute stored risk figures now (risk-model.md §11)."""

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from facilities.models import Facility
from voltmetrics.services import model_version_current, risk_recompute
from voltmetrics.tasks import RECOMPUTE_LOCK_TTL, RecomputeLocked, recompute_lock


class Command(BaseCommand):
    help = (
        "Recompute equipment and facility assessments, back-fill missing monthly snapshots "
        "and recompute the portfolio, with the current model version."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--facility",
            action="append",
            default=[],
            metavar="ID",
            help="Condoit id of a facility to recompute (repeatable; default: all active)",
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            default=None,
            metavar="YYYY-MM-DD",
            help="Compute as of this date, from the records as known now (default: today UTC)",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar")

    def handle(self, *args, facility, as_of, no_progress, **options):
        as_of_date = None
        if as_of:
            try:
                as_of_date = date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}") from None
        facility_pks = None
        if facility:
            wanted = list(dict.fromkeys(facility))
            found = dict(
                Facility.objects.filter(external_id__in=wanted).values_list("external_id", "pk")
            )
            unknown = [ext for ext in wanted if ext not in found]
            if unknown:
                raise CommandError(f"Unknown facility id(s): {', '.join(unknown)}")
            facility_pks = [found[ext] for ext in wanted]
        try:
            version = model_version_current()
        except Exception as exc:  # DoesNotExist: the seed migration has not run
            raise CommandError(f"No current model version: {exc}") from None

        show = not no_progress and sys.stderr.isatty()
        bar = tqdm(desc="facilities", unit="fac", leave=False, file=sys.stderr) if show else None

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.total = total
                bar.n = done
                bar.refresh()

        def waiting() -> None:
            self.stderr.write("Waiting for a running recompute to finish …")

        try:
            with recompute_lock(wait=RECOMPUTE_LOCK_TTL, on_wait=waiting):
                stats = risk_recompute(
                    facility_pks=facility_pks, as_of=as_of_date, progress=progress
                )
        except RecomputeLocked:
            raise CommandError(
                f"Another recompute has held the lock for {RECOMPUTE_LOCK_TTL} s; try again later"
            ) from None
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            f"Recomputed {stats.facilities} facilities, {stats.equipment} equipment; "
            f"{stats.snapshots_backfilled} snapshots back-filled; {stats.seconds:.2f} s; "
            f"as of {stats.as_of.isoformat()}; model version {version.version}"
        )
