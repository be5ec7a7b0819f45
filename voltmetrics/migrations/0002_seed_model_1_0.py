"""Publish risk model 1.0 (risk-model.md §2, §4) as the current version."""

from django.db import migrations
from django.utils import timezone

from voltmetrics.engine import DEFAULT_PROFILES, DEFAULT_WEIGHTS

# Model 1.0 is fixed by the specification; the engine's constants are that model.
THRESHOLDS = {"low_max": 40, "medium_max": 70, "high_max": 85}


def seed(apps, schema_editor):
    ModelVersion = apps.get_model("voltmetrics", "ModelVersion")
    if ModelVersion.objects.filter(version="1.0").exists():
        return
    ModelVersion.objects.create(
        version="1.0",
        status="published",
        is_current=True,
        weights=dict(DEFAULT_WEIGHTS),
        thresholds=THRESHOLDS,
        profiles={
            t: {"life_years": p.life_years, "interval_months": p.interval_months,
                "importance": p.importance}
            for t, p in DEFAULT_PROFILES.items()
        },
        notes="Risk model 1.0 as specified.",
        published_at=timezone.now(),
    )


def unseed(apps, schema_editor):
    apps.get_model("voltmetrics", "ModelVersion").objects.filter(version="1.0").delete()


class Migration(migrations.Migration):
    dependencies = [("voltmetrics", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
