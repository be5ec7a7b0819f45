"""Model versions (risk-model.md §10): copy, edit, publish, immutability, one current."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from equipment.models import TypeProfile
from voltmetrics import engine
from voltmetrics.choices import VersionStatus
from voltmetrics.inputs import facility_records
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    ModelVersion,
    PortfolioAssessment,
)
from voltmetrics.services import model_current, model_params, recompute_pending
from voltmetrics.versions import (
    current_model_version_tag,
    model_version_copy,
    model_version_next_name,
    model_version_publish,
    model_version_update,
    model_weights_validate,
)

pytestmark = pytest.mark.django_db

NEW_WEIGHTS = {
    "age": 0.5, "material": 0.1, "maintenance": 0.2, "environmental": 0.05, "loading": 0.1,
    "condition": 0.05,
}  # fmt: skip


def queued_recomputes(callbacks) -> int:
    """How many on-commit callbacks are the publish's "queue a full recompute"."""
    return sum(1 for c in callbacks if getattr(c, "__name__", "") == "_after_publish")


def v10() -> ModelVersion:
    return ModelVersion.objects.get(version="1.0")


def test_seeded_1_0_is_the_one_current_version():
    current = ModelVersion.objects.get(is_current=True)
    assert current.version == "1.0" and current.status == VersionStatus.PUBLISHED
    assert current.profiles["panel"] == {"life_years": 35, "interval_months": 12, "importance": 1.0}
    assert current_model_version_tag() == f"1.0:{current.pk}"


def test_copy_makes_a_draft_with_the_next_minor_version():
    draft = model_version_copy(source=v10())
    assert draft.version == "1.1"
    assert draft.status == VersionStatus.DRAFT and not draft.is_current
    assert draft.weights == v10().weights and draft.thresholds == v10().thresholds
    assert draft.profiles == {}
    assert model_version_next_name("1.0") == "1.2"  # 1.1 is taken now
    with pytest.raises(ValidationError, match="already exists"):
        model_version_copy(source=v10(), version="1.1")


def test_publish_end_to_end(world, django_capture_on_commit_callbacks):
    """Copy 1.0 → edit weights and a type profile → publish → one current, profiles captured,
    a full recompute queued and run; stored assessments carry the new version."""
    recompute_pending()
    assert set(EquipmentAssessment.objects.values_list("algorithm_version", flat=True)) == {"1.0"}
    old_tag = current_model_version_tag()

    draft = model_version_copy(source=v10())
    model_version_update(draft=draft, weights=NEW_WEIGHTS, notes="Age matters more")
    # The type-profile table is the draft of the next version.
    TypeProfile.objects.filter(type="panel").update(life_years=20)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        published = model_version_publish(draft=draft)
    assert queued_recomputes(callbacks) == 1

    assert list(ModelVersion.objects.filter(is_current=True)) == [published]
    old = v10()
    assert not old.is_current and old.status == VersionStatus.PUBLISHED
    published.refresh_from_db()
    assert published.status == VersionStatus.PUBLISHED and published.published_at
    assert published.weights == NEW_WEIGHTS
    assert published.profiles["panel"]["life_years"] == 20.0
    assert old.profiles["panel"]["life_years"] == 35  # 1.0 keeps its own
    assert published.profiles["transformer"] == {
        "life_years": 25.0, "interval_months": 12, "importance": 3.0}  # fmt: skip

    # The recompute ran with 1.1.
    assert set(EquipmentAssessment.objects.values_list("algorithm_version", flat=True)) == {"1.1"}
    assert set(FacilityAssessment.objects.values_list("algorithm_version", flat=True)) == {"1.1"}
    assert PortfolioAssessment.objects.get().algorithm_version == "1.1"
    model = model_current()
    assert model.version == "1.1" and model.weights == NEW_WEIGHTS
    for batch in facility_records():
        for rec in batch:
            row = FacilityAssessment.objects.get(facility_id=rec.pk)
            want = engine.assess_facility(rec.facility, model, row.as_of)
            assert row.risk_score == want.risk_score
            for ext, result in want.equipment_results.items():
                stored = EquipmentAssessment.objects.get(equipment__external_id=ext)
                assert stored.risk_score == result.risk_score
    # Cached payload keys move to the new version.
    assert current_model_version_tag() == f"1.1:{published.pk}" != old_tag


def test_publish_queues_the_recompute_only_on_commit(world, django_capture_on_commit_callbacks):
    recompute_pending()
    draft = model_version_copy(source=v10())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        model_version_publish(draft=draft)
    assert queued_recomputes(callbacks) == 1
    # Not run yet: the stored rows still carry 1.0.
    assert set(EquipmentAssessment.objects.values_list("algorithm_version", flat=True)) == {"1.0"}


def test_publish_records_the_user(admin_user, django_capture_on_commit_callbacks):
    draft = model_version_copy(source=v10())
    with django_capture_on_commit_callbacks(execute=True):
        published = model_version_publish(draft=draft, user=admin_user)
    assert published.published_by == admin_user


def test_published_version_is_immutable():
    version = v10()
    version.weights = dict(version.weights, age=0.4, material=0.15)
    with pytest.raises(ValidationError, match="published and cannot be changed"):
        version.save()
    version = v10()
    version.notes = "rewritten"
    with pytest.raises(ValidationError, match="notes"):
        version.save()
    with pytest.raises(ValidationError, match="published"):
        model_version_update(draft=v10(), notes="x")
    # (a signal refusing inside delete()'s own atomic block: wrap it so the test goes on)
    with pytest.raises(ValidationError, match="cannot be deleted"), transaction.atomic():
        v10().delete()
    with pytest.raises(ValidationError, match="already published"):
        model_version_publish(draft=v10())
    assert v10().notes == "Risk model 1.0 as specified."


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({**NEW_WEIGHTS, "age": 0.4}, "Weights must sum to 1; they sum to 0.9"),
        ({k: v for k, v in NEW_WEIGHTS.items() if k != "loading"}, "missing loading"),
        ({**NEW_WEIGHTS, "humidity": 0}, "unknown humidity"),
        ({**NEW_WEIGHTS, "age": -0.1, "material": 0.7}, "non-negative numbers: age=-0.1"),
        ({**NEW_WEIGHTS, "age": "0.5"}, "non-negative numbers"),
        ([0.35, 0.2], "JSON object"),
    ],
)
def test_invalid_weights_are_refused(weights, message):
    draft = model_version_copy(source=v10())
    with pytest.raises(ValidationError) as exc:
        model_version_update(draft=draft, weights=weights)
    assert message in " ".join(exc.value.messages)
    draft.refresh_from_db()
    assert draft.weights == v10().weights


def test_weights_sum_tolerance():
    near = {**NEW_WEIGHTS, "age": 0.5 + 5e-10}
    assert model_weights_validate(near)["age"] == pytest.approx(0.5)
    with pytest.raises(ValidationError):
        model_weights_validate({**NEW_WEIGHTS, "age": 0.5 + 1e-8})


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ({"low_max": 40, "medium_max": 30, "high_max": 85}, "0 < low_max < medium_max"),
        ({"low_max": 0, "medium_max": 30, "high_max": 85}, "0 < low_max"),
        ({"low_max": 40, "medium_max": 70, "high_max": 100}, "< 100"),
        ({"low_max": 40.5, "medium_max": 70, "high_max": 85}, "integers"),
        ({"low_max": 40, "medium_max": 70}, "exactly low_max"),
    ],
)
def test_invalid_thresholds_are_refused(thresholds, message):
    draft = model_version_copy(source=v10())
    with pytest.raises(ValidationError) as exc:
        model_version_update(draft=draft, thresholds=thresholds)
    assert message in " ".join(exc.value.messages)


def test_publish_validates_a_draft_saved_around_the_service(django_capture_on_commit_callbacks):
    draft = model_version_copy(source=v10())
    ModelVersion.objects.filter(pk=draft.pk).update(weights={**NEW_WEIGHTS, "age": 0.9})
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(ValidationError, match="sum to 1"):
            model_version_publish(draft=draft)
    assert callbacks == []
    assert ModelVersion.objects.get(is_current=True).version == "1.0"
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_two_current_versions_are_impossible():
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(
            version="9.9",
            status=VersionStatus.PUBLISHED,
            is_current=True,
            weights=NEW_WEIGHTS,
            thresholds={"low_max": 40, "medium_max": 70, "high_max": 85},
        )
    assert ModelVersion.objects.filter(is_current=True).count() == 1


def test_new_thresholds_change_ratings(world, django_capture_on_commit_callbacks):
    """A published threshold change re-rates stored assessments through the recompute."""
    draft = model_version_copy(source=v10())
    model_version_update(draft=draft, thresholds={"low_max": 5, "medium_max": 10, "high_max": 15})
    with django_capture_on_commit_callbacks(execute=True):
        published = model_version_publish(draft=draft)
    params = model_params(published)
    for row in EquipmentAssessment.objects.all():
        assert row.rating == engine.rating_for(row.risk_score, params.thresholds)
    assert set(EquipmentAssessment.objects.values_list("rating", flat=True)) <= {
        "High", "Critical"}  # fmt: skip
