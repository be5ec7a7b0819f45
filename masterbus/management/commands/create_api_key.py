from django.core.management.base import CommandError

from masterbus.audit import AuditedCommand
from masterbus.choices import ApiScope
from masterbus.services import api_key_create_from_options


class Command(AuditedCommand):
    audit_by = True
    audit_by_help = "The user creating the key: its creator, and in the audit history."

    help = (
        "Create an API key and print the raw key once, on stdout alone (a message goes to "
        "stderr). Only its digest is kept: store the key now. Revoke keys in the admin "
        "(API keys, action 'Revoke selected keys'). A key bound to portfolios (--portfolio) "
        "sees only their facilities; an unbound key sees every facility."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the key is for (at most 100).")
        parser.add_argument(
            "--scope",
            dest="scopes",
            action="append",
            required=True,
            metavar="SCOPE",
            help="A scope of the key; repeat for several: " + ", ".join(ApiScope.values) + ".",
        )
        parser.add_argument(
            "--expires",
            metavar="YYYY-MM-DD",
            help="The last day the key works (it expires at the start of the next day, UTC). "
            "Default: never.",
        )
        parser.add_argument(
            "--rate-limit",
            metavar="N",
            help="The key's own limit, requests per minute. Default: API_RATE_LIMIT_PER_MINUTE "
            "(API_SIGNED_RATE_LIMIT_PER_MINUTE for condoit:push and voltmetrics:callback keys).",
        )
        parser.add_argument(
            "--portfolio",
            dest="portfolios",
            action="append",
            default=[],
            metavar="SLUG",
            help="Bind the key to this portfolio (repeat for several): it then sees only their "
            "facilities. Default: unbound (every facility).",
        )

    def handle(self, *args, name, scopes, expires, rate_limit, portfolios, **options):
        try:
            key, raw = api_key_create_from_options(
                name=name,
                scopes=scopes,
                expires=expires,
                rate_limit=rate_limit,
                user=self.audit_user,
                bindings={"portfolio": portfolios},
            )
        except ValueError as exc:
            raise CommandError(f"{exc}; no key created") from None
        expiry = key.expires_at.isoformat() if key.expires_at else "never"
        bound = f"portfolios {', '.join(dict.fromkeys(portfolios))}" if portfolios else "unbound"
        self.stderr.write(
            f"Created API key {key.name!r} ({key.prefix}…): scopes {', '.join(key.scopes)}; "
            f"expires {expiry}; rate limit {key.effective_rate_limit}/min; {bound}. It is shown "
            "once, on stdout: store it now.",
            style_func=str,  # a notice, not an error: no colour
        )
        self.stdout.write(raw)
