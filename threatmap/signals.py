"""The ThreatMap cache's subscriptions to change announcements (masterbus/changes.py),
connected in ``ThreatmapConfig.ready()``."""

import logging

from masterbus.changes import figures_changed, photo_fetched

from .cache import cache_invalidate_facility, cache_invalidate_portfolio

log = logging.getLogger(__name__)


def _figures_changed(sender, *, facility_ids=(), portfolio=False, **kwargs) -> None:
    if facility_ids:
        cache_invalidate_facility(*facility_ids)
        log.debug(
            "ThreatMap payloads of %d facilities marked changed", len(facility_ids),
            extra={"facility_id": facility_ids[0]} if len(facility_ids) == 1 else None,
        )  # fmt: skip
    if portfolio:
        cache_invalidate_portfolio()
        log.debug("ThreatMap portfolio payloads marked changed")


def _photo_fetched(sender, *, facility_id, **kwargs) -> None:
    # Payloads that name the equipment's newest photo now have a URL to show.
    cache_invalidate_facility(facility_id)


def connect() -> None:
    figures_changed.connect(_figures_changed, dispatch_uid="threatmap.figures_changed")
    photo_fetched.connect(_photo_fetched, dispatch_uid="threatmap.photo_fetched")
