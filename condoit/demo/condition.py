"""What a field survey observed on a piece of demo equipment (corrosion, wear, heat)."""

from __future__ import annotations

import random
from typing import Any

from .facility import Fac

_LEVELS = ("none", "minimal", "moderate", "severe")
_CONDITIONS = ("Excellent", "Good", "Fair", "Poor", "Critical")


def make_observations(rng: random.Random, age_years: float | None, fac: Fac) -> dict | None:
    """The ``observations`` object (``None`` for no survey): worse with age and neglect."""
    if rng.random() < 0.18:
        return None
    a = 20.0 if age_years is None else age_years
    # older equipment and poorly maintained sites show more distress
    shift = min(1.0, a / 45.0) + {"poor": 0.25, "neglected": 0.5}.get(fac.diligence, 0.0)
    w = (max(5.0, 60 - 45 * shift), 25.0, 8 + 22 * shift, 2 + 14 * shift)
    o: dict[str, Any] = {
        "corrosion": rng.choices(_LEVELS, w)[0],
        "rust": rng.choices(_LEVELS, w)[0],
        "wear": rng.choices(_LEVELS, w)[0],
        "heatDiscoloration": rng.random() < 0.04 + 0.06 * shift,
        "clearanceIssue": rng.random() < 0.07,
    }
    if rng.random() < 0.85:
        o["operatingTempC"] = round(rng.triangular(22.0, 78.0, 35.0 + 8 * shift), 1)
    if rng.random() < 0.6:
        score = sum(_LEVELS.index(o[k]) for k in ("corrosion", "rust", "wear"))
        idx = min(4, score // 2 + (1 if o["heatDiscoloration"] else 0))
        if rng.random() < 0.15:
            idx = max(0, min(4, idx + rng.choice((-1, 1))))
        o["overallCondition"] = _CONDITIONS[idx]
    if rng.random() < 0.2:
        # everything fine: the 'none' branch of every level
        o.update(corrosion="none", rust="none", wear="none", heatDiscoloration=False)
        o.pop("overallCondition", None)
    return o
