from django.core.management.base import CommandError

from consumers.portfolios import portfolio_facility_count, portfolio_save
from masterbus.audit import AuditedCommand


class Command(AuditedCommand):
    audit_by = True

    help = (
        "Create the portfolio SLUG or update it, and print its facility count. --facility "
        "(repeatable, Condoit ids) sets exactly its staff-picked facilities; the rule options "
        "set its rule (an empty value clears that part), re-applied at once. Options left out "
        "keep their value."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Public id: 1–50 lowercase letters, digits, hyphens.")
        parser.add_argument("--name", help="Display name (needed to create).")
        parser.add_argument("--description")
        parser.add_argument(
            "--facility",
            dest="facilities",
            action="append",
            metavar="ID",
            help="A staff-picked facility (Condoit id); repeat for several.",
        )
        parser.add_argument("--rule-contractor", metavar="TEXT")
        parser.add_argument("--rule-city", metavar="TEXT")
        parser.add_argument("--rule-state", metavar="XX")

    def handle(self, *args, slug, name, description, facilities, **options):
        try:
            portfolio, created = portfolio_save(
                slug=slug,
                name=name,
                description=description,
                facility_ids=facilities,
                rule_contractor=options["rule_contractor"],
                rule_city=options["rule_city"],
                rule_state=options["rule_state"],
            )
        except ValueError as exc:
            raise CommandError(f"{exc}; nothing saved") from None
        count = portfolio_facility_count(portfolio)
        self.stderr.write(
            f"{'Created' if created else 'Updated'} portfolio {portfolio.slug!r} "
            f"({portfolio.name}).",
            style_func=str,
        )
        self.stdout.write(str(count))
