import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from condoit.files import FileFormatError, import_file


def _tqdm_reader(enabled: bool):
    def wrap(fh, total, desc):
        if not enabled:
            return fh
        return tqdm.wrapattr(
            fh, "read", total=total, desc=f"{desc:>18}", unit="B", unit_scale=True, leave=False
        )

    return wrap


class Command(BaseCommand):
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
        self.stdout.write(
            f"Sync run #{run.pk} ({run.status}): created {run.created}, updated {run.updated}, "
            f"unchanged {run.unchanged}, rejected {run.rejected}, deleted {run.deleted}"
        )
        for w in run.warnings:
            self.stdout.write(
                self.style.WARNING(f"  warning: {w['message']} (x{w.get('count', 1)})")
            )
        for rej in run.rejections.all()[:20]:
            where = f"line {rej.line}" if rej.line else (rej.record_id or "?")
            self.stdout.write(self.style.ERROR(f"  rejected {where}: {rej.field} {rej.reason}"))
        if run.rejected > 20:
            self.stdout.write(f"  … and {run.rejected - 20} more rejected (see the admin)")
