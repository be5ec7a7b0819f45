import sys

from django.core.management.base import CommandError
from tqdm import tqdm

from condoit.files import FileFormatError, import_file
from condoit.management.report import write_run_summary
from masterbus.audit import AuditedCommand


def _tqdm_reader(enabled: bool):
    def wrap(fh, total, desc):
        if not enabled:
            return fh
        return tqdm.wrapattr(
            fh, "read", total=total, desc=f"{desc:>18}", unit="B", unit_scale=True, leave=False
        )

    return wrap


class Command(AuditedCommand):
    # Condoit's values beside staff overrides are recorded in the overrides' history.
    help = "Import a Condoit export file (JSON export document or NDJSON), streaming."

    def add_arguments(self, parser):
        parser.add_argument("path", help="Export file (.json document or .ndjson lines)")
        parser.add_argument("--no-progress", action="store_true", help="Do not show a progress bar")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, path, no_progress, batch_size, **options):
        show = not no_progress and sys.stderr.isatty()
        try:
            run = import_file(path, progress=_tqdm_reader(show), batch_size=batch_size)
        except FileFormatError as exc:
            raise CommandError(str(exc)) from None
        write_run_summary(self, run)
