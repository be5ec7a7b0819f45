"""Photos attached to a piece of demo equipment: ids, URLs, captions and when taken."""

from __future__ import annotations

import random
from typing import Any

from .clock import DAY, Clock, sec_of_ord
from .ids import Ids

# fmt: off
_PHOTO_CAPTIONS = (
    "Nameplate", "Front view", "Dead front removed", "Arc flash label", "Thermal image",
    "Interior, bus and terminations", "Breaker schedule", "Corrosion at base",
    "Clearance in front of equipment", "Terminations close-up",
)

_PHOTO_HOST = "https://photos.condoit.example"
# fmt: on


def make_photos(
    rng: random.Random,
    ids: Ids,
    clock: Clock,
    fac_id: str,
    eq_id: str,
    install: int | None,
    created: int,
    bound: int,
) -> list[dict[str, Any]]:
    """Zero to three photos of equipment ``eq_id`` of facility ``fac_id``.

    Most were taken around onboarding (``created``), never before the install day; the rest
    later, up to ``bound``.
    """
    n_photos = rng.choices((0, 1, 2, 3), (30, 30, 25, 15))[0]
    photos = []
    if n_photos:
        photo_lo = created - 30 * DAY
        if install is not None:
            photo_lo = min(created, max(photo_lo, sec_of_ord(install) + 9 * 3600))
        for _ in range(n_photos):
            pid = ids.next("ph")
            photos.append(
                {
                    "id": pid,
                    "url": f"{_PHOTO_HOST}/{fac_id}/{eq_id}/{pid}.jpg",
                    "caption": rng.choice(_PHOTO_CAPTIONS),
                    "takenAt": clock.ts(
                        rng.randint(photo_lo, created)
                        if rng.random() < 0.7
                        else rng.randint(created, bound)
                    ),
                }
            )
    return photos
