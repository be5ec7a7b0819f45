"""Application gauges (operations.md §1, second table): read from the database and the
broker at scrape time, the same on every instance.

The apps register providers in ``AppConfig.ready()`` (:func:`register_provider`); each is a
callable returning :class:`Sample` s and runs a constant number of queries whatever the
portfolio size (pinned by tests). The samples of every provider are cached together for
``METRICS_CACHE_SECONDS`` (at most 15 s) in the shared cache, so a scrape of any instance,
and ``manage.py status``, costs those queries at most once per period.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

CACHE_KEY = "masterbus:metrics:application"
MAX_CACHE_SECONDS = 15


class Sample(NamedTuple):
    family: str
    labels: dict[str, str]
    value: float


# name → (help, label names). Binding names (operations.md §1).
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "masterbus_build_info": ("Always 1: the running release and the published model version.",
                             ("version", "model_version")),
    "masterbus_condoit_last_success_timestamp_seconds": (
        "End of the last successful sync run per door (file, pull, push); 0 when none. The "
        "pull door is exported only while the pull is configured.", ("door",)),
    "masterbus_condoit_high_water_age_seconds": (
        "Now minus the pull's high-water mark, per resource.", ("resource",)),
    "masterbus_sync_rejected_records": (
        "Rejected records not yet re-run successfully, per record kind.", ("kind",)),
    "masterbus_changes_pending": (
        "Changed records not yet handled, per consumer (recompute, voltmetrics).",
        ("consumer",)),
    "masterbus_changes_oldest_pending_age_seconds": (
        "Age of the oldest changed record not yet handled, per consumer; 0 when none.",
        ("consumer",)),
    "masterbus_recompute_last_success_timestamp_seconds": (
        "End of the last successful recompute per kind (full, incremental, snapshot); 0 when "
        "none.", ("kind",)),
    "masterbus_assessments_behind": (
        "Equipment / facilities whose stored figures are older than their records.", ("kind",)),
    "masterbus_voltmetrics_available": (
        "1, or 0 while the VoltMetrics circuit breaker is open (only while VoltMetrics is "
        "configured).", ()),
    "masterbus_voltmetrics_down_since_timestamp_seconds": (
        "When the VoltMetrics circuit breaker first opened since the last successful call; 0 "
        "while VoltMetrics answers (only while VoltMetrics is configured).", ()),
    "masterbus_voltmetrics_jobs": (
        "VoltMetrics jobs submitted in the last day, by status.", ("status",)),
    "masterbus_webhook_deliveries_pending": (
        "Outbound webhook deliveries waiting, per subscription.", ("subscription",)),
    "masterbus_webhook_subscription_paused": (
        "1 while a webhook subscription is paused, per subscription.", ("subscription",)),
    "masterbus_queue_length": ("Messages waiting per Celery queue.", ("queue",)),
}  # fmt: skip

Provider = Callable[[], Iterable[Sample]]
_providers: dict[str, Provider] = {}


def register_provider(name: str, provider: Provider) -> None:
    """Register (or replace) the provider ``name``; called from ``AppConfig.ready()``."""
    _providers[name] = provider


@lru_cache(maxsize=1)
def release() -> str:
    try:
        return version("masterbus")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def collect_samples(failures: list[str] | None = None) -> list[Sample]:
    """Every provider's samples, computed now. A provider that fails is logged and left out
    (the others still report; its families then have no series, which alerts on absence can
    catch); ``failures`` receives "<provider>: <error>" for each."""
    samples: list[Sample] = []
    for name, provider in _providers.items():
        try:
            samples.extend(provider())
        except Exception as exc:
            log.exception("Metrics provider %s failed", name)
            if failures is not None:
                failures.append(f"{name}: {type(exc).__name__}")
    return samples


def cached_samples(failures: list[str] | None = None) -> list[Sample]:
    """:func:`collect_samples`, from the shared cache when computed less than
    ``METRICS_CACHE_SECONDS`` ago (``/metrics`` and the admin dashboard share it); ``failures``
    receives the providers that failed when they were computed."""
    seconds = min(MAX_CACHE_SECONDS, max(0, settings.METRICS_CACHE_SECONDS))
    if seconds:
        try:
            hit = cache.get(CACHE_KEY)
        except Exception:
            hit = None
        if isinstance(hit, dict):
            if failures is not None:
                failures.extend(hit["failures"])
            return [Sample(f, dict(labels), v) for f, labels, v in hit["samples"]]
    failed: list[str] = []
    samples = collect_samples(failed)
    if failures is not None:
        failures.extend(failed)
    if seconds:
        entry = {"samples": [(s.family, s.labels, s.value) for s in samples], "failures": failed}
        try:
            cache.set(CACHE_KEY, entry, seconds)
        except Exception:
            pass
    return samples


class ApplicationCollector:
    """The application gauges as Prometheus families (HELP and TYPE even without series)."""

    def __init__(self, samples: list[Sample] | None = None):
        self._samples = samples

    def collect(self):
        samples = cached_samples() if self._samples is None else self._samples
        families = {
            name: GaugeMetricFamily(name, text, labels=list(labels))
            for name, (text, labels) in FAMILIES.items()
        }
        model_version = ""
        for s in samples:
            if s.family == "masterbus_build_info":
                model_version = s.labels.get("model_version", "")
                continue
            family = families.get(s.family)
            if family is None:
                log.warning("Metrics sample of an unknown family %s left out", s.family)
                continue
            names = FAMILIES[s.family][1]
            family.add_metric([str(s.labels.get(n, "")) for n in names], float(s.value))
        families["masterbus_build_info"].add_metric([release(), model_version], 1)
        yield from families.values()
