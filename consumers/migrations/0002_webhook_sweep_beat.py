"""Seed the Celery beat schedule of the webhook deliveries (consumers.md §4): the per-minute
sweep that starts due retries and catches up with deliveries no task is running for.

get_or_create by name, so a schedule staff edited in the admin is left as it is.
"""

from django.db import migrations

from masterbus.beat import seed_periodic_task, unseed_periodic_task

TASK_NAME = "Webhook deliveries sweep"
TASK = "consumers.webhooks.tasks.deliveries_sweep_task"


def seed(apps, schema_editor):
    seed_periodic_task(
        apps,
        TASK_NAME,
        TASK,
        every_minutes=1,
        description="Start webhook retries that are due and deliveries no task is running "
        "for (after a lost worker or broker message) (consumers.md §4).",
    )


def unseed(apps, schema_editor):
    unseed_periodic_task(apps, TASK_NAME, TASK, every_minutes=1)


class Migration(migrations.Migration):
    dependencies = [
        ("consumers", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
