"""Seed the Celery beat schedule of the risk pipeline and the VoltMetrics integration.

get_or_create by name, so a schedule staff edited in the admin is left as it is. All
crontabs are in UTC.
"""

from django.db import migrations
from django.utils import timezone

INTERVALS = [
    # (name, task, every, period, description)
    (
        "Recompute changed records",
        "voltmetrics.tasks.recompute_pending_task",
        1,
        "minutes",
        "Drain the change outbox: recompute changed facilities and the portfolio "
        "(risk-model.md §10–§11).",
    ),
    (
        "VoltMetrics outbox drain",
        "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task",
        1,
        "minutes",
        "Push changed records to VoltMetrics.",
    ),
    (
        "VoltMetrics job poll",
        "voltmetrics.integration.tasks.voltmetrics_poll_jobs_task",
        5,
        "minutes",
        "Poll VoltMetrics calculation jobs and fetch finished results.",
    ),
]
CRONTABS = [
    # (name, task, minute, hour, day_of_month, description)
    (
        "Nightly full recompute",
        "voltmetrics.tasks.recompute_all_task",
        "30",
        "2",
        "*",
        "Recompute every facility and the portfolio: risk grows with age.",
    ),
    (
        "Monthly risk snapshot",
        "voltmetrics.tasks.snapshot_month_task",
        "15",
        "0",
        "1",
        "Store the month that just ended: every facility and the portfolio (risk-model.md §8).",
    ),
]


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    any_created = False
    for name, task, every, period, description in INTERVALS:
        schedule = (
            IntervalSchedule.objects.filter(every=every, period=period).order_by("id").first()
        )
        if schedule is None:
            schedule = IntervalSchedule.objects.create(every=every, period=period)
        _, created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": schedule,
                "kwargs": "{}",
                "enabled": True,
                "description": description,
            },
        )
        any_created |= created
    for name, task, minute, hour, day_of_month, description in CRONTABS:
        spec = {
            "minute": minute,
            "hour": hour,
            "day_of_month": day_of_month,
            "month_of_year": "*",
            "day_of_week": "*",
            "timezone": "UTC",
        }
        schedule = CrontabSchedule.objects.filter(**spec).order_by("id").first()
        if schedule is None:
            schedule = CrontabSchedule.objects.create(**spec)
        _, created = PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": schedule,
                "kwargs": "{}",
                "enabled": True,
                "description": description,
            },
        )
        any_created |= created
    if any_created:
        # Tell a running DatabaseScheduler to reload (the model's signal does not fire here).
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, every, period, _ in INTERVALS:
        PeriodicTask.objects.filter(name=name, task=task).delete()
        IntervalSchedule.objects.filter(
            every=every, period=period, periodictask__isnull=True
        ).delete()
    for name, task, minute, hour, day_of_month, _ in CRONTABS:
        PeriodicTask.objects.filter(name=name, task=task).delete()
        CrontabSchedule.objects.filter(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year="*",
            day_of_week="*", periodictask__isnull=True,
        ).delete()
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("voltmetrics", "0002_seed_model_1_0"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
