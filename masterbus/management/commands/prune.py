"""``manage.py prune [--dry-run]``: delete what the retention settings no longer keep
(operations.md §3), and print what was deleted per table."""

from django.core.management.base import BaseCommand, CommandError

from masterbus.retention import RetentionRefused, prune


class Command(BaseCommand):
    help = (
        "Prune the tables that grow with time (sync runs, processed events, handled record "
        "changes, VoltMetrics jobs and callbacks, expired tokens) and orphan photo files, as "
        "the retention settings say. Batched: at most PRUNE_BATCH_SIZE rows per statement."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only count what would be deleted; delete nothing",
        )

    def handle(self, *args, dry_run, **options):
        try:
            result = prune(dry_run=dry_run)
        except RetentionRefused as exc:
            raise CommandError(str(exc)) from None
        heading = "would delete" if dry_run else "deleted"
        width = max([len("table"), *(len(label) for label in result.counts)])
        self.stdout.write(f"{'table':<{width}}  {heading:>12}")
        self.stdout.write(f"{'-' * width}  {'-' * 12}")
        for label, count in result.counts.items():
            self.stdout.write(f"{label:<{width}}  {count:>12}")
        self.stdout.write(f"{'total':<{width}}  {result.total:>12}")
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
