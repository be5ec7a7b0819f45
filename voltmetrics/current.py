"""What a recompute runs with unless told otherwise: the current published model version (its
engine parameters, built once per version) and today's date (UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from .choices import VersionStatus
from .engine import ModelParams, Thresholds, TypeProfile
from .models import ModelVersion


def utc_today() -> date:
    return datetime.now(UTC).date()


_model_cache: dict[tuple, ModelParams] = {}


def model_params(version: ModelVersion) -> ModelParams:
    key = (version.pk, version.version, version.published_at)
    params = _model_cache.get(key)
    if params is None:
        params = ModelParams(
            version=version.version,
            weights={k: float(v) for k, v in version.weights.items()},
            thresholds=Thresholds(**version.thresholds),
            profiles={t: TypeProfile(**p) for t, p in version.profiles.items()},
        )
        _model_cache.clear()
        _model_cache[key] = params
    return params


def model_version_current() -> ModelVersion:
    return ModelVersion.objects.get(is_current=True, status=VersionStatus.PUBLISHED)


def model_current() -> ModelParams:
    return model_params(model_version_current())
