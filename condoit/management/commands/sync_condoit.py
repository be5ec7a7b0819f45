from django.core.management.base import BaseCommand, CommandError

from condoit.pull import PullRefused, condoit_pull
from facilities.choices import SyncStatus


class Command(BaseCommand):
    help = "Pull changed records from Condoit's export API (since the stored high-water marks)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help="Ignore the high-water marks and re-read everything (unchanged rows are skipped)",
        )

    def handle(self, *args, full, **options):
        def on_page(resource, page, items, total):
            self.stdout.write(f"  {resource}: page {page}, {items} record(s) ({total} so far)")

        try:
            run = condoit_pull(full=full, on_page=on_page)
        except PullRefused as exc:
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
            self.stdout.write(
                self.style.ERROR(f"  rejected {rej.record_id or '?'}: {rej.field} {rej.reason}")
            )
        if run.rejected > 20:
            self.stdout.write(f"  … and {run.rejected - 20} more rejected (see the admin)")
        if run.status == SyncStatus.FAILED:
            raise CommandError(f"Condoit pull failed: {run.error}")
