"""Seed the shipped class mappings, material mappings and type profiles.

Type profiles are risk-model.md §2's defaults of model 1.0, frozen here as the migration
first wrote them (a migration never imports application code that may change later;
tests/equipment/test_mappings_seed.py checks they equal the engine's).
"""

from django.db import migrations

# risk-model.md §2: type → (service life in years, maintenance interval in months, importance).
DEFAULT_PROFILES = {
    "panel": (35, 12, 1.0),
    "switchboard": (35, 12, 3.0),
    "switchgear": (30, 12, 3.0),
    "transformer": (25, 12, 3.0),
    "breaker": (20, 12, 1.0),
    "disconnect": (30, 12, 1.0),
    "mcc": (30, 12, 1.0),
    "busway": (40, 12, 0.5),
    "raceway": (40, 36, 0.5),
    "ats": (25, 12, 3.0),
    "ups": (15, 12, 3.0),
    "generator": (30, 12, 3.0),
    "meter": (20, 36, 0.5),
    "other": (25, 12, 1.0),
}

CLASS_TYPES = {
    "panelboard": "panel", "panel": "panel", "panel board": "panel", "lighting panel": "panel",
    "lighting panelboard": "panel", "power panel": "panel", "distribution panel": "panel",
    "branch panel": "panel", "load center": "panel",
    "switchboard": "switchboard", "main switchboard": "switchboard",
    "distribution switchboard": "switchboard",
    "switchgear": "switchgear", "metal-clad switchgear": "switchgear",
    "metal clad switchgear": "switchgear", "low voltage switchgear": "switchgear",
    "medium voltage switchgear": "switchgear",
    "transformer": "transformer", "dry type transformer": "transformer",
    "dry-type transformer": "transformer", "pad mount transformer": "transformer",
    "pad-mount transformer": "transformer", "pad-mounted transformer": "transformer",
    "liquid filled transformer": "transformer", "liquid-filled transformer": "transformer",
    "breaker": "breaker", "circuit breaker": "breaker", "molded case breaker": "breaker",
    "molded case circuit breaker": "breaker", "mccb": "breaker",
    "power circuit breaker": "breaker", "insulated case breaker": "breaker",
    "disconnect": "disconnect", "disconnect switch": "disconnect",
    "fused disconnect": "disconnect", "non-fused disconnect": "disconnect",
    "safety switch": "disconnect", "enclosed switch": "disconnect",
    "motor control center": "mcc", "mcc": "mcc",
    "busway": "busway", "bus duct": "busway", "busduct": "busway", "bus plug": "busway",
    "raceway": "raceway", "conduit": "raceway", "cable tray": "raceway", "wireway": "raceway",
    "automatic transfer switch": "ats", "ats": "ats", "transfer switch": "ats",
    "ups": "ups", "uninterruptible power supply": "ups",
    "generator": "generator", "emergency generator": "generator",
    "standby generator": "generator", "diesel generator": "generator",
    "meter": "meter", "utility meter": "meter", "power meter": "meter",
    "revenue meter": "meter", "meter socket": "meter",
}
MATERIALS = {
    "cu": "copper", "copper": "copper",
    "al": "aluminum", "alum": "aluminum", "aluminum": "aluminum", "aluminium": "aluminum",
}
def seed(apps, schema_editor):
    ClassMapping = apps.get_model("equipment", "EquipmentClassMapping")
    MaterialMapping = apps.get_model("equipment", "MaterialMapping")
    TypeProfile = apps.get_model("equipment", "TypeProfile")
    for key, type_ in CLASS_TYPES.items():
        ClassMapping.objects.get_or_create(condoit_class=key, defaults={"type": type_})
    for code, material in MATERIALS.items():
        MaterialMapping.objects.get_or_create(code=code, defaults={"material": material})
    for type_, (life_years, interval_months, importance) in DEFAULT_PROFILES.items():
        TypeProfile.objects.get_or_create(
            type=type_,
            defaults={
                "life_years": life_years,
                "interval_months": interval_months,
                "importance": importance,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("equipment", "EquipmentClassMapping").objects.filter(
        condoit_class__in=CLASS_TYPES
    ).delete()
    apps.get_model("equipment", "MaterialMapping").objects.filter(code__in=MATERIALS).delete()
    apps.get_model("equipment", "TypeProfile").objects.filter(type__in=DEFAULT_PROFILES).delete()


class Migration(migrations.Migration):
    dependencies = [("equipment", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
