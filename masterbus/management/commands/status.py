from django.core.management.base import BaseCommand

from masterbus.status import status


class Command(BaseCommand):
    help = (
        "The operator's one-screen view: per Condoit door the last success and lag, pending "
        "changes and their age, recompute ages, VoltMetrics availability and jobs, queue "
        "lengths, paused subscriptions. Exits 1 when any of them is past its alert threshold "
        "(docs/alerts.yml), so a cron job or a smoke check can call it."
    )

    def handle(self, *args, **options):
        st = status()
        self.stdout.write(st.render())
        if st.alerts:
            raise SystemExit(1)
