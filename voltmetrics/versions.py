"""Risk-model versions (risk-model.md §10): copy, validate, publish.

The type-profile table staff edit is the draft of the next version: publishing captures it
into the version. A published version is immutable; exactly one version is current. The
current version's tag is part of every cached payload key, so publishing invalidates them.
"""

from __future__ import annotations

import math
import re
from numbers import Real

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver
from django.utils import timezone

from equipment.models import TypeProfile
from masterbus import audit
from masterbus.changes import announce, model_version_published

from .choices import VersionStatus
from .engine import FACTORS
from .models import ModelVersion

THRESHOLD_KEYS = ("low_max", "medium_max", "high_max")
WEIGHT_SUM_TOLERANCE = 1e-9
# Fields that never change once a version is published (is_current may still flip).
IMMUTABLE_FIELDS = (
    "version", "status", "weights", "thresholds", "profiles", "notes", "published_at",
    "published_by_id",
)  # fmt: skip

_TAG_KEY = "voltmetrics:model-version-tag"
_TAG_TTL = 60


# --- validation -------------------------------------------------------------------------------


def _is_number(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)


def model_weights_validate(weights) -> dict[str, float]:
    """The six factors (risk-model.md §3), each ≥ 0, summing to 1 (within 1e-9)."""
    if not isinstance(weights, dict):
        raise ValidationError(
            "Weights must be a JSON object of the six factors.", code="weights_type"
        )
    missing = [f for f in FACTORS if f not in weights]
    unknown = sorted(k for k in weights if k not in FACTORS)
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown {', '.join(map(str, unknown))}")
    if problems:
        raise ValidationError(
            "Weights must be exactly the six factors (%(factors)s): %(problems)s.",
            code="weights_keys",
            params={"factors": ", ".join(FACTORS), "problems": "; ".join(problems)},
        )
    bad = [k for k in FACTORS if not _is_number(weights[k]) or weights[k] < 0]
    if bad:
        raise ValidationError(
            "Weights must be non-negative numbers: %(bad)s.",
            code="weights_values",
            params={"bad": ", ".join(f"{k}={weights[k]!r}" for k in bad)},
        )
    total = math.fsum(float(weights[k]) for k in FACTORS)
    if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
        raise ValidationError(
            "Weights must sum to 1; they sum to %(total)s.",
            code="weights_sum",
            params={"total": f"{total:.12g}"},
        )
    return {k: float(weights[k]) for k in FACTORS}


def model_thresholds_validate(thresholds) -> dict[str, int]:
    """Integers with 0 < low_max < medium_max < high_max < 100 (risk-model.md §4 bands)."""
    if not isinstance(thresholds, dict) or set(thresholds) != set(THRESHOLD_KEYS):
        raise ValidationError(
            "Thresholds must be a JSON object with exactly low_max, medium_max and high_max.",
            code="thresholds_keys",
        )
    bad = [
        k
        for k in THRESHOLD_KEYS
        if not isinstance(thresholds[k], int) or isinstance(thresholds[k], bool)
    ]
    if bad:
        raise ValidationError(
            "Thresholds must be integers: %(bad)s.",
            code="thresholds_type",
            params={"bad": ", ".join(f"{k}={thresholds[k]!r}" for k in bad)},
        )
    low, medium, high = (thresholds[k] for k in THRESHOLD_KEYS)
    if not 0 < low < medium < high < 100:
        raise ValidationError(
            "Thresholds must satisfy 0 < low_max < medium_max < high_max < 100 "
            "(got %(low)s, %(medium)s, %(high)s).",
            code="thresholds_order",
            params={"low": low, "medium": medium, "high": high},
        )
    return {k: thresholds[k] for k in THRESHOLD_KEYS}


def model_version_validate(*, weights, thresholds) -> None:
    """Raise one ValidationError with every problem, keyed by field (for forms)."""
    errors = {}
    for name, check, value in (
        ("weights", model_weights_validate, weights),
        ("thresholds", model_thresholds_validate, thresholds),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors[name] = exc
    if errors:
        raise ValidationError(errors)


def type_profiles_capture() -> dict[str, dict]:
    """The type-profile table as it is now, in the shape ModelVersion.profiles stores."""
    out = {}
    for p in TypeProfile.objects.order_by("type"):
        if p.life_years < 1 or p.interval_months < 1 or p.importance <= 0:
            raise ValidationError(
                "Type profile %(type)s is invalid (life ≥ 1, interval ≥ 1, importance > 0).",
                code="profile_invalid",
                params={"type": p.type},
            )
        out[p.type] = {
            "life_years": float(p.life_years),
            "interval_months": int(p.interval_months),
            "importance": float(p.importance),
        }
    if not out:
        raise ValidationError("The type-profile table is empty.", code="profiles_empty")
    return out


# --- immutability -----------------------------------------------------------------------------


@receiver(pre_save, sender=ModelVersion, dispatch_uid="voltmetrics_model_version_immutable")
def _refuse_published_edit(sender, instance: ModelVersion, raw=False, **kwargs):
    if raw or instance.pk is None:
        return
    stored = ModelVersion.objects.filter(pk=instance.pk).values(*IMMUTABLE_FIELDS).first()
    if stored is None or stored["status"] != VersionStatus.PUBLISHED:
        return
    changed = [f for f in IMMUTABLE_FIELDS if getattr(instance, f) != stored[f]]
    if changed:
        raise ValidationError(
            "Model %(version)s is published and cannot be changed (%(fields)s); "
            "copy it as a new draft instead.",
            code="published_immutable",
            params={"version": stored["version"], "fields": ", ".join(changed)},
        )


@receiver(pre_delete, sender=ModelVersion, dispatch_uid="voltmetrics_model_version_no_delete")
def _refuse_published_delete(sender, instance: ModelVersion, **kwargs):
    if instance.status == VersionStatus.PUBLISHED:
        raise ValidationError(
            "Model %(version)s is published and cannot be deleted: assessments refer to it.",
            code="published_immutable",
            params={"version": instance.version},
        )


# --- services ---------------------------------------------------------------------------------


def model_version_next_name(version: str) -> str:
    """The next free minor version after ``version``: 1.0 → 1.1 (→ 1.2 when 1.1 exists)."""
    m = re.fullmatch(r"(\d+)\.(\d+)", version.strip())
    taken = set(ModelVersion.objects.values_list("version", flat=True))
    if m:
        major, minor = int(m.group(1)), int(m.group(2)) + 1
        while f"{major}.{minor}" in taken:
            minor += 1
        return f"{major}.{minor}"
    n = 1
    while f"{version}.{n}" in taken:
        n += 1
    return f"{version}.{n}"


@transaction.atomic
def model_version_copy(
    *, source: ModelVersion, version: str | None = None, user=None
) -> ModelVersion:
    """A new draft with the source's weights and thresholds (profiles are captured at publish)."""
    version = (version or model_version_next_name(source.version)).strip()
    if not version:
        raise ValidationError("A version name is required.", code="version_required")
    if ModelVersion.objects.filter(version=version).exists():
        raise ValidationError(
            "Version %(version)s already exists.",
            code="version_exists",
            params={"version": version},
        )
    return ModelVersion.objects.create(
        version=version,
        status=VersionStatus.DRAFT,
        weights=dict(source.weights),
        thresholds=dict(source.thresholds),
        profiles={},
        notes=f"Copy of {source.version}.",
    )


@transaction.atomic
def model_version_update(*, draft: ModelVersion, **fields) -> ModelVersion:
    """Edit a draft's weights, thresholds, notes or version name (validated)."""
    if draft.pk is not None:
        stored = ModelVersion.objects.select_for_update().get(pk=draft.pk)
        if stored.status == VersionStatus.PUBLISHED:
            raise ValidationError(
                "Model %(version)s is published and cannot be changed.",
                code="published_immutable",
                params={"version": stored.version},
            )
    allowed = {"weights", "thresholds", "notes", "version"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError(f"Not editable: {', '.join(sorted(unknown))}.")
    for k, v in fields.items():
        setattr(draft, k, v)
    model_version_validate(weights=draft.weights, thresholds=draft.thresholds)
    draft.save()
    return draft


def model_version_publish(*, draft: ModelVersion, user=None) -> ModelVersion:
    """Validate the draft, capture the type profiles, make it the one current version and
    queue a full recompute once the transaction commits."""
    with transaction.atomic():
        # Lock the draft and the current version: two publishes serialise here.
        draft = ModelVersion.objects.select_for_update().get(pk=draft.pk)
        if draft.status != VersionStatus.DRAFT:
            raise ValidationError(
                "Model %(version)s is already published.",
                code="already_published",
                params={"version": draft.version},
            )
        weights = model_weights_validate(draft.weights)
        thresholds = model_thresholds_validate(draft.thresholds)
        model_version_validate(weights=weights, thresholds=thresholds)
        previous = list(ModelVersion.objects.select_for_update().filter(is_current=True))
        draft.weights = weights
        draft.thresholds = thresholds
        draft.profiles = type_profiles_capture()
        draft.status = VersionStatus.PUBLISHED
        draft.published_at = timezone.now()
        draft.published_by = user if (user is not None and user.is_authenticated) else None
        # Recorded once in the audit history, below, when it is also the current version.
        draft.save_without_historical_record()
        # Unset the old current first: the partial unique constraint allows one current.
        for old in previous:
            old.is_current = False
            with audit.saving(old, reason=f"superseded by {draft.version}"):
                old.save(update_fields=["is_current"])
        draft.is_current = True
        with audit.saving(draft, reason="published"):
            draft.save(update_fields=["is_current"])
        announce(
            model_version_published, version=draft.version, published_at=draft.published_at
        )
        transaction.on_commit(_after_publish)
    return draft


def _after_publish() -> None:
    cache.delete(_TAG_KEY)
    from .tasks import recompute_all_task

    recompute_all_task.delay()


def current_model_version_tag() -> str:
    """``"{version}:{pk}"`` of the current version, for cached payload keys (changes on
    publish, so payloads cached under the old tag are never served again)."""
    tag = cache.get(_TAG_KEY)
    if tag is None:
        row = ModelVersion.objects.filter(is_current=True).values_list("version", "pk").first()
        tag = f"{row[0]}:{row[1]}" if row else "none:0"
        cache.set(_TAG_KEY, tag, _TAG_TTL)
    return tag
