"""``manage.py export_threatmap [--out FILE] [--as-of YYYY-MM-DD]``: ThreatMap's export."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from equipment.photo_urls import photo_signed_url
from threatmap.export import build_export
from voltmetrics.services import utc_today


def _write_atomically(path: str, text: str) -> None:
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise CommandError(f"Cannot write {path}: directory {directory} does not exist")
    if os.path.isdir(target):
        raise CommandError(f"Cannot write {path}: it is a directory")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".export-threatmap-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from None


class Command(BaseCommand):
    help = (
        "Write ThreatMap's export: a JSON array of Facility objects as ThreatMap's TypeScript "
        "interfaces spell them. Without --as-of, from the stored assessments (as GET "
        "/api/v1/export/threatmap); with --as-of, computed by the engine at that date from the "
        "records as known now. Lists the facilities left out and why."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", metavar="FILE", default=None, help="Write here (default: standard output)"
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="YYYY-MM-DD",
            default=None,
            help="Compute the figures at this past date (default: the stored figures)",
        )
        parser.add_argument("--indent", type=int, default=2, help="JSON indent (0: compact)")

    def handle(self, *args, out, as_of, indent, **options):
        as_of_date = None
        if as_of is not None:
            try:
                as_of_date = date.fromisoformat(as_of)
            except ValueError:
                raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {as_of!r}") from None
            if as_of_date > utc_today():
                raise CommandError(f"--as-of {as_of_date} is in the future")
        unsigned = []

        def photo_url(photo_external_id: str) -> str | None:
            # No request here: absolute URLs need PUBLIC_BASE_URL (else ``photo`` is omitted).
            url = photo_signed_url(photo_external_id)
            if url is None:
                unsigned.append(photo_external_id)
            return url

        try:
            entries, skipped = build_export(as_of=as_of_date, photo_url=photo_url)
        except Exception as exc:  # e.g. no current model version (migrations not run)
            raise CommandError(f"Export failed: {exc}") from exc
        text = json.dumps(entries, ensure_ascii=False, indent=indent or None)
        text += "\n"
        # The JSON owns standard output when no file is given: the report goes to stderr.
        report = self.stdout if out else self.stderr
        if out:
            _write_atomically(out, text)
        else:
            self.stdout.write(text, ending="")
        when = f"as of {as_of_date.isoformat()}" if as_of_date else "from the stored figures"
        where = f" to {out}" if out else ""
        report.write(f"Exported {len(entries)} facilities{where} ({when}).")
        if skipped:
            report.write(f"Left out {len(skipped)} facilities ThreatMap cannot draw:")
            for s in skipped:
                report.write(f"  {s.id}  {s.name}: {s.reason}")
        if unsigned:
            report.write(
                f"Left out {len(unsigned)} photo URLs: set PUBLIC_BASE_URL to include signed "
                "absolute photo URLs."
            )
