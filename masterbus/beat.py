"""Seeding Celery beat schedules from data migrations.

Only the ``apps`` registry a migration's RunPython passes in is used (the historical
django_celery_beat models), never the current models, so migrations may import this module.
Keep it that way: any change here changes what old migrations do.

A task is created with get_or_create by name, so a schedule staff edited in the admin is left
as it is. Crontabs are in UTC. A running DatabaseScheduler is told to reload whenever a task is
created or removed (the model's signal does not fire in migrations).
"""

from __future__ import annotations

from django.utils import timezone


def _crontab_fields(crontab: dict[str, str]) -> dict[str, str]:
    return {"month_of_year": "*", "day_of_week": "*", **crontab}


def seed_periodic_task(
    apps,
    name: str,
    task: str,
    *,
    description: str,
    every_minutes: int | None = None,
    crontab: dict[str, str] | None = None,
) -> bool:
    """Create the periodic task ``name`` running ``task`` every ``every_minutes`` minutes, or on
    ``crontab`` (``minute``, ``hour``, ``day_of_month``…; the rest default to ``"*"``), reusing
    an equal schedule. Returns whether the task was created."""
    if (every_minutes is None) == (crontab is None):
        raise ValueError("give exactly one of every_minutes and crontab")
    if every_minutes is not None:
        Schedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        spec = {"every": every_minutes, "period": "minutes"}
        field = "interval"
    else:
        Schedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        spec = {**_crontab_fields(crontab), "timezone": "UTC"}
        field = "crontab"
    schedule = Schedule.objects.filter(**spec).order_by("id").first()
    if schedule is None:
        schedule = Schedule.objects.create(**spec)
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    _, created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={
            "task": task,
            field: schedule,
            "kwargs": "{}",
            "enabled": True,
            "description": description,
        },
    )
    if created:
        notify_scheduler(apps)
    return created


def unseed_periodic_task(
    apps,
    name: str,
    task: str,
    *,
    every_minutes: int | None = None,
    crontab: dict[str, str] | None = None,
) -> None:
    """Delete the periodic task ``name`` (if it still runs ``task``) and its schedule if nothing
    else uses it."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=name, task=task).delete()
    if every_minutes is not None:
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        IntervalSchedule.objects.filter(
            every=every_minutes, period="minutes", periodictask__isnull=True
        ).delete()
    if crontab is not None:
        CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
        CrontabSchedule.objects.filter(
            **_crontab_fields(crontab), periodictask__isnull=True
        ).delete()
    notify_scheduler(apps)


def notify_scheduler(apps) -> None:
    """Tell a running DatabaseScheduler to reload the schedule."""
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
