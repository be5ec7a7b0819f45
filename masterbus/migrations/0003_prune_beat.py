"""Seed the Celery beat schedule: the nightly prune (operations.md §3), after the nightly
full recompute (02:30 UTC).

get_or_create by name, so a schedule staff edited in the admin is left as it is.
"""

from django.db import migrations

from masterbus.beat import seed_periodic_task, unseed_periodic_task

TASK_NAME = "Nightly prune"
TASK = "masterbus.prune"
CRONTAB = {"minute": "45", "hour": "3", "day_of_month": "*"}


def seed(apps, schema_editor):
    seed_periodic_task(
        apps,
        TASK_NAME,
        TASK,
        crontab=CRONTAB,
        description="Delete what the retention settings no longer keep: old sync runs, "
        "processed events, handled record changes, VoltMetrics jobs and callbacks, expired "
        "tokens, orphan photo files (operations.md §3).",
    )


def unseed(apps, schema_editor):
    unseed_periodic_task(apps, TASK_NAME, TASK, crontab=CRONTAB)


class Migration(migrations.Migration):
    dependencies = [
        ("masterbus", "0002_user_token_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
