"""The shipped mappings and type profiles (condoit-source.md §3, risk-model.md §2)."""

import pytest

from equipment.choices import EquipmentType, Material
from equipment.models import EquipmentClassMapping, MaterialMapping, TypeProfile, normalize_key

pytestmark = pytest.mark.django_db

# risk-model.md §2, copied from the spec: type → (life years, interval months, importance)
SPEC_TYPE_PROFILES = {
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

# condoit-source.md §3: the MasterBus types
SPEC_TYPES = {
    "panel", "switchboard", "switchgear", "transformer", "breaker", "disconnect", "mcc",
    "busway", "raceway", "ats", "ups", "generator", "meter", "other",
}  # fmt: skip


def test_type_choices_are_the_spec_types():
    assert set(EquipmentType.values) == SPEC_TYPES


def test_seeded_type_profiles_equal_risk_model_section_2():
    got = {
        p.type: (p.life_years, p.interval_months, p.importance) for p in TypeProfile.objects.all()
    }
    assert got == SPEC_TYPE_PROFILES


def test_every_type_has_exactly_one_profile():
    assert sorted(TypeProfile.objects.values_list("type", flat=True)) == sorted(SPEC_TYPES)


# condoit-source.md §1/§3 name these classes; "sensible defaults for common class names"
SPEC_CLASSES = {
    "Panelboard": "panel",
    "Switchboard": "switchboard",
    "Dry Type Transformer": "transformer",
    "Molded Case Breaker": "breaker",
    "Switchgear": "switchgear",
    "Transformer": "transformer",
    "Circuit Breaker": "breaker",
    "Disconnect": "disconnect",
    "Motor Control Center": "mcc",
    "MCC": "mcc",
    "Busway": "busway",
    "Raceway": "raceway",
    "Automatic Transfer Switch": "ats",
    "ATS": "ats",
    "UPS": "ups",
    "Generator": "generator",
    "Meter": "meter",
}


@pytest.mark.parametrize("cls,expected", SPEC_CLASSES.items())
def test_common_classes_are_seeded(cls, expected):
    mapping = EquipmentClassMapping.objects.get(condoit_class=normalize_key(cls))
    assert mapping.type == expected


def test_seeded_class_keys_are_normalized_and_types_valid():
    rows = list(EquipmentClassMapping.objects.values_list("condoit_class", "type"))
    assert rows
    for key, type_ in rows:
        assert key == normalize_key(key), key
        assert type_ in SPEC_TYPES


def test_no_class_is_seeded_as_other():
    # "other" is what an unmapped class gets; a seeded mapping to it would hide the warning
    assert not EquipmentClassMapping.objects.filter(type="other").exists()


@pytest.mark.parametrize(
    "code,material",
    [("CU", "copper"), ("Copper", "copper"), ("AL", "aluminum"), ("ALUM", "aluminum"),
     ("Aluminum", "aluminum")],
)  # fmt: skip
def test_spec_material_codes_are_seeded(code, material):
    assert MaterialMapping.objects.get(code=normalize_key(code)).material == material


def test_seeded_materials_are_copper_or_aluminum():
    rows = list(MaterialMapping.objects.values_list("code", "material"))
    assert rows
    for code, material in rows:
        assert code == normalize_key(code)
        assert material in Material.values
    assert set(Material.values) == {"copper", "aluminum"}


def test_mapping_keys_are_saved_normalized():
    m = EquipmentClassMapping.objects.create(condoit_class="  Big   Red BUTTON ", type="disconnect")
    assert m.condoit_class == "big red button"
    c = MaterialMapping.objects.create(code=" CuNi ", material="copper")
    assert c.code == "cuni"


def test_engine_defaults_equal_the_profiles_the_migration_seeds():
    from voltmetrics.engine import DEFAULT_PROFILES

    engine = {
        t: (p.life_years, p.interval_months, p.importance) for t, p in DEFAULT_PROFILES.items()
    }
    assert engine == SPEC_TYPE_PROFILES
