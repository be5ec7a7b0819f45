"""Condoit equipment classes and conductor materials mapped to MasterBus's own.

The staff-kept mappings (``EquipmentClassMapping``, ``MaterialMapping``) are read once per
sync run; a class without a mapping makes the equipment ``other``, a material without one
leaves the conductor's material unknown, and both are counted for the run's warnings.
"""

from __future__ import annotations

from collections import Counter

from equipment.choices import EquipmentType
from equipment.models import EquipmentClassMapping, MaterialMapping, normalize_key

from .records import Item


class Mappings:
    """The class and material mappings of one sync run, and what had none."""

    def __init__(self):
        self.class_map = dict(EquipmentClassMapping.objects.values_list("condoit_class", "type"))
        self.material_map = dict(MaterialMapping.objects.values_list("code", "material"))
        self.unmapped_classes: Counter[str] = Counter()
        self.unmapped_materials: Counter[str] = Counter()

    def note_unmapped(self, raw: dict) -> None:
        """Unmapped class and material warnings for an equipment record not rewritten."""
        cls = raw.get("equipmentClass")
        if isinstance(cls, str) and normalize_key(cls) not in self.class_map:
            self.unmapped_classes[cls.strip()] += 1
        for cond in raw.get("conductors") or ():
            code = cond.get("material") if isinstance(cond, dict) else None
            if isinstance(code, str) and code.strip():
                if normalize_key(code) not in self.material_map:
                    self.unmapped_materials[code.strip()] += 1

    def map_equipment(self, items: list[Item]) -> None:
        """Type each validated equipment record by its class, its conductors by material."""
        for it in items:
            c = it.clean
            mapped = self.class_map.get(normalize_key(c["equipment_class"]))
            c["type"] = mapped or EquipmentType.OTHER
            c["class_mapped"] = mapped is not None
            if mapped is None:
                self.unmapped_classes[c["equipment_class"]] += 1
            for cond in c["conductors"]:
                code = cond["material_code"]
                cond["material"] = self.material_map.get(normalize_key(code), "")
                if code and not cond["material"]:
                    self.unmapped_materials[code] += 1

    def warnings(self) -> list[dict]:
        out = [
            {
                "code": "unmapped_class",
                "value": cls,
                "count": n,
                "message": f"Condoit class {cls!r} has no mapping; imported as 'other'",
            }
            for cls, n in sorted(self.unmapped_classes.items())
        ]
        out += [
            {
                "code": "unmapped_material",
                "value": code,
                "count": n,
                "message": f"Conductor material {code!r} has no mapping; treated as unknown",
            }
            for code, n in sorted(self.unmapped_materials.items())
        ]
        return out
