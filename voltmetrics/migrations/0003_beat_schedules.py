"""Seed the Celery beat schedule of the risk pipeline and the VoltMetrics integration.

get_or_create by name, so a schedule staff edited in the admin is left as it is. All
crontabs are in UTC.
"""

from django.db import migrations

from masterbus.beat import seed_periodic_task, unseed_periodic_task

TASKS = [
    # (name, task, schedule, description): schedule is every_minutes=… or crontab={…}
    (
        "Recompute changed records",
        "voltmetrics.tasks.recompute_pending_task",
        {"every_minutes": 1},
        "Drain the change outbox: recompute changed facilities and the portfolio "
        "(risk-model.md §10–§11).",
    ),
    (
        "VoltMetrics outbox drain",
        "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task",
        {"every_minutes": 1},
        "Push changed records to VoltMetrics.",
    ),
    (
        "VoltMetrics job poll",
        "voltmetrics.integration.tasks.voltmetrics_poll_jobs_task",
        {"every_minutes": 5},
        "Poll VoltMetrics calculation jobs and fetch finished results.",
    ),
    (
        "Nightly full recompute",
        "voltmetrics.tasks.recompute_all_task",
        {"crontab": {"minute": "30", "hour": "2", "day_of_month": "*"}},
        "Recompute every facility and the portfolio: risk grows with age.",
    ),
    (
        "Monthly risk snapshot",
        "voltmetrics.tasks.snapshot_month_task",
        {"crontab": {"minute": "15", "hour": "0", "day_of_month": "1"}},
        "Store the month that just ended: every facility and the portfolio (risk-model.md §8).",
    ),
]


def seed(apps, schema_editor):
    for name, task, schedule, description in TASKS:
        seed_periodic_task(apps, name, task, description=description, **schedule)


def unseed(apps, schema_editor):
    for name, task, schedule, _ in TASKS:
        unseed_periodic_task(apps, name, task, **schedule)


class Migration(migrations.Migration):
    dependencies = [
        ("voltmetrics", "0002_seed_model_1_0"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
