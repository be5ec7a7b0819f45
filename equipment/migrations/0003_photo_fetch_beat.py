"""Seed the Celery beat schedule: fetch pending equipment photos every 10 minutes.

get_or_create by name, so a schedule staff edited in the admin is left as it is.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Fetch pending photos"
TASK = "equipment.tasks.photos_fetch_pending_task"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every = IntervalSchedule.objects.filter(every=10, period="minutes").order_by("id").first()
    if every is None:
        every = IntervalSchedule.objects.create(every=10, period="minutes")
    _, created = PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "interval": every,
            "kwargs": "{}",
            "enabled": True,
            "description": "Fetch new and changed equipment photos from Condoit's photo hosts "
            "(condoit-source.md §1).",
        },
    )
    if created:
        # Tell a running DatabaseScheduler to reload (the model's signal does not fire here).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK).delete()
    IntervalSchedule.objects.filter(every=10, period="minutes", periodictask__isnull=True).delete()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("equipment", "0002_seed_defaults"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
