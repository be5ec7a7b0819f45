"""Seed the Celery beat schedule: fetch pending equipment photos every 10 minutes.

get_or_create by name, so a schedule staff edited in the admin is left as it is.
"""

from django.db import migrations

from masterbus.beat import seed_periodic_task, unseed_periodic_task

TASK_NAME = "Fetch pending photos"
TASK = "equipment.tasks.photos_fetch_pending_task"
EVERY_MINUTES = 10


def seed(apps, schema_editor):
    seed_periodic_task(
        apps,
        TASK_NAME,
        TASK,
        every_minutes=EVERY_MINUTES,
        description="Fetch new and changed equipment photos from Condoit's photo hosts "
        "(condoit-source.md §1).",
    )


def unseed(apps, schema_editor):
    unseed_periodic_task(apps, TASK_NAME, TASK, every_minutes=EVERY_MINUTES)


class Migration(migrations.Migration):
    dependencies = [
        ("equipment", "0002_seed_defaults"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
