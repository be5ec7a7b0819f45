from django.core.management.base import CommandError

from condoit.management.report import write_run_summary
from condoit.pull import PullRefused, condoit_pull
from facilities.choices import SyncStatus
from masterbus.audit import AuditedCommand


class Command(AuditedCommand):
    # Condoit's values beside staff overrides are recorded in the overrides' history.
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
        write_run_summary(self, run)
        if run.status == SyncStatus.FAILED:
            raise CommandError(f"Condoit pull failed: {run.error}")
