import secrets
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from condoit.files import import_file
from masterbus.audit import AuditedCommand, audited, command_reason
from masterbus.choices import ApiScope
from masterbus.models import ApiKey
from masterbus.services import api_key_create, api_key_revoke
from voltmetrics.incremental import pending_mark_covered
from voltmetrics.services import risk_recompute
from voltmetrics.tasks import RECOMPUTE_LOCK_TTL, RecomputeLocked, recompute_lock

DEMO_KEY_NAME = "demo read key"


class Command(AuditedCommand):
    help = (
        "Prepare a demo: an admin login, a generated demo portfolio imported from a Condoit "
        "export file, and the figures computed. Prints where to log in."
    )

    def add_arguments(self, parser):
        parser.add_argument("--facilities", type=int, default=12)
        parser.add_argument("--equipment-per-facility", type=int, default=40)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--username", default="admin")

    def handle(self, *args, facilities, equipment_per_facility, seed, username, **options):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "demo-portfolio.json"
            call_command(
                "generate_demo_portfolio",
                facilities=facilities,
                equipment_per_facility=equipment_per_facility,
                seed=seed,
                out=str(path),
                stdout=self.stdout,
            )
            run = import_file(path)
        self.stdout.write(
            f"Imported the demo portfolio: sync run #{run.pk} ({run.status}) created "
            f"{run.created}, updated {run.updated}, unchanged {run.unchanged}, "
            f"rejected {run.rejected}"
        )

        def waiting() -> None:
            self.stderr.write("Waiting for a running recompute to finish …")

        # The same lock as every other recompute: never two at once.
        try:
            with recompute_lock(wait=RECOMPUTE_LOCK_TTL, on_wait=waiting):
                started = timezone.now()
                stats = risk_recompute()
                # The full recompute read every imported record: the import's changes are done.
                covered = pending_mark_covered(started)
        except RecomputeLocked:
            raise CommandError(
                f"Another recompute has held the lock for {RECOMPUTE_LOCK_TTL} s; the demo "
                "portfolio is imported but its figures are not computed: run demo_setup again "
                "later"
            ) from None
        self.stdout.write(
            f"Computed risk and compliance: {stats.facilities} facilities, "
            f"{stats.equipment} equipment, {stats.snapshots_backfilled} monthly snapshots "
            f"back-filled, as of {stats.as_of} ({stats.seconds:.1f} s); "
            f"{covered} imported changes covered by it"
        )

        password = secrets.token_urlsafe(12)
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        # A raw key is shown only when it is made: make a fresh one, retire the earlier ones
        # (recorded in the keys' audit history as done by the demo's admin).
        with audited(command_reason("demo_setup"), user=user):
            api_key_revoke(
                keys=ApiKey.objects.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True)
            )
            _, read_key = api_key_create(
                name=DEMO_KEY_NAME,
                scopes=[ApiScope.THREATMAP_READ, ApiScope.EVENTS_READ],
                user=user,
            )
        self.stdout.write(self.style.SUCCESS("\nMasterBus demo is ready."))
        self.stdout.write("  Admin:    http://127.0.0.1:8000/admin/")
        self.stdout.write(f"  Login:    {username} / {password}")
        self.stdout.write("  Health:   http://127.0.0.1:8000/ready")
        self.stdout.write(f"  Read API key: {read_key}")
        self.stdout.write(
            f'  Try:      curl -H "X-API-Key: {read_key}" '
            "http://127.0.0.1:8000/api/v1/portfolio/summary"
        )
        self.stdout.write(
            f'  Events:   curl -H "X-API-Key: {read_key}" '
            '"http://127.0.0.1:8000/api/v1/events?type=facility.risk_changed&limit=5"'
        )
        self.stdout.write("  API docs: http://127.0.0.1:8000/api/v1/docs")
