"""Seed the Celery beat schedule: the Condoit pull every 15 minutes.

get_or_create by name, so a schedule staff edited in the admin is left as it is.
"""

from django.db import migrations

from masterbus.beat import seed_periodic_task, unseed_periodic_task

TASK_NAME = "Condoit pull"
TASK = "facilities.tasks.condoit_pull_task"
EVERY_MINUTES = 15


def seed(apps, schema_editor):
    seed_periodic_task(
        apps,
        TASK_NAME,
        TASK,
        every_minutes=EVERY_MINUTES,
        description="Pull changed records from Condoit's export API (condoit-source.md §2).",
    )


def unseed(apps, schema_editor):
    unseed_periodic_task(apps, TASK_NAME, TASK, every_minutes=EVERY_MINUTES)


class Migration(migrations.Migration):
    dependencies = [
        ("facilities", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
