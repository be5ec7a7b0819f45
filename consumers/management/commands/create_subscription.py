from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import transaction

from consumers.choices import PUBLIC_EVENT_TYPES
from consumers.webhooks.services import portfolios_by_slug, subscription_create
from masterbus.audit import AuditedCommand


class Command(AuditedCommand):
    audit_by = True
    audit_by_help = "The user creating the subscription: its creator, and in the audit history."

    help = (
        "Create a webhook subscription (consumers.md §4) and print its id, then, on the last "
        "line alone, its signing secret (whsec_…): it is shown once, store it now. The "
        "subscription gets the events written from now on. Rotate the secret, pause, resume "
        "or send a test event in the admin (Webhook subscriptions)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Where events are POSTed (https).")
        parser.add_argument(
            "--event",
            dest="events",
            action="append",
            default=[],
            metavar="TYPE",
            help="An event type to send; repeat for several (default: all): "
            + ", ".join(PUBLIC_EVENT_TYPES)
            + ".",
        )
        parser.add_argument(
            "--portfolio",
            dest="portfolios",
            action="append",
            default=[],
            metavar="SLUG",
            help="Send only events of this portfolio's facilities (no system events); repeat "
            "for several. Default: every facility, and the system events.",
        )
        parser.add_argument("--description", default="", help="What it is for (at most 500).")

    def handle(self, *args, url, events, portfolios, description, **options):
        if len(description) > 500:
            raise CommandError("--description is longer than 500 characters; nothing created")
        try:
            with transaction.atomic():
                sub, secret = subscription_create(
                    url=url,
                    event_types=events,
                    portfolios=portfolios_by_slug(portfolios),
                    description=description,
                    user=self.audit_user,
                )
        except ValidationError as exc:
            raise CommandError(f"{' '.join(exc.messages)} Nothing created.") from None
        kinds = ", ".join(sub.event_types) or "all"
        bound = ", ".join(portfolios) or "none (every facility and the system events)"
        self.stdout.write(
            f"Subscription {sub.pk} created: {sub.url}; events: {kinds}; portfolios: {bound}. "
            "Its signing secret follows, shown once:"
        )
        self.stdout.write(secret)
