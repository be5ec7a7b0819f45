"""Admin of model versions and the stored risk figures."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from equipment.models import TypeProfile
from tests import factories as f
from voltmetrics.choices import VersionStatus
from voltmetrics.models import (
    EquipmentAssessment,
    FacilityAssessment,
    FacilitySnapshot,
    ModelVersion,
    PortfolioAssessment,
    PortfolioSnapshot,
)
from voltmetrics.services import risk_recompute
from voltmetrics.versions import model_version_copy

from .conftest import AS_OF

pytestmark = pytest.mark.django_db

MODELS = [
    ModelVersion, EquipmentAssessment, FacilityAssessment, PortfolioAssessment,
    FacilitySnapshot, PortfolioSnapshot,
]  # fmt: skip


def url(model, view, *args):
    return reverse(f"admin:voltmetrics_{model._meta.model_name}_{view}", args=args)


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def computed(world):
    risk_recompute(as_of=AS_OF)
    return world


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_and_change_form_render(admin_client, computed, model):
    response = admin_client.get(url(model, "changelist"))
    assert response.status_code == 200
    obj = model.objects.first()
    assert obj is not None
    response = admin_client.get(url(model, "change", obj.pk))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query",
    ["?q=eq_panel", "?q=Alpha", "?source__exact=local", "?rating__exact=Low", "?served__exact=1"],
)
def test_equipment_assessment_search_and_filters(admin_client, computed, query):
    response = admin_client.get(url(EquipmentAssessment, "changelist") + query)
    assert response.status_code == 200


def _queries(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_changelists_have_no_n_plus_one(admin_client, computed, import_export):
    lists = [url(m, "changelist") for m in MODELS]
    before = [_queries(admin_client, path) for path in lists]
    more = [f.facility(id=f"fac_more_{i}") for i in range(3)]
    import_export(
        facilities=more,
        equipment=[f.equipment(fac["id"]) for fac in more for _ in range(3)],
    )
    risk_recompute(as_of=AS_OF)
    assert EquipmentAssessment.objects.count() == 12
    assert [_queries(admin_client, path) for path in lists] == before


def test_assessments_are_read_only(admin_client, computed):
    row = EquipmentAssessment.objects.first()
    assert admin_client.get(url(EquipmentAssessment, "add")).status_code == 403
    response = admin_client.post(url(EquipmentAssessment, "change", row.pk), {"risk_score": 1})
    assert response.status_code == 403
    row.refresh_from_db()
    assert row.risk_score != 1


def test_published_version_is_read_only_with_its_profiles_table(admin_client):
    v = ModelVersion.objects.get(version="1.0")
    response = admin_client.get(url(ModelVersion, "change", v.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in html and 'name="weights"' not in html
    assert "Expected life (years)" in html and "<td>transformer</td>" in html
    response = admin_client.post(
        url(ModelVersion, "change", v.pk),
        {"version": "1.0", "weights": "{}", "thresholds": "{}", "notes": "x", "_save": "Save"},
    )
    assert response.status_code == 403
    assert ModelVersion.objects.get(pk=v.pk).notes == "Risk model 1.0 as specified."


def test_draft_is_editable_and_validated(admin_client):
    draft = model_version_copy(source=ModelVersion.objects.get(version="1.0"))
    change = url(ModelVersion, "change", draft.pk)
    html = admin_client.get(change).content.decode()
    assert 'name="weights"' in html and "the table now holds" in html
    data = {
        "version": "1.1",
        "weights": '{"age": 0.5, "material": 0.2, "maintenance": 0.2, "environmental": 0.1, '
        '"loading": 0.1, "condition": 0.05}',
        "thresholds": '{"low_max": 40, "medium_max": 70, "high_max": 85}',
        "notes": "",
        "_save": "Save",
    }
    response = admin_client.post(change, data)
    assert response.status_code == 200  # the form again, with the error
    assert "Weights must sum to 1; they sum to 1.15" in response.content.decode()
    draft.refresh_from_db()
    assert draft.weights["age"] == 0.35

    data["weights"] = data["weights"].replace('"age": 0.5', '"age": 0.35')
    data["thresholds"] = '{"low_max": 30, "medium_max": 60, "high_max": 80}'
    response = admin_client.post(change, data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.thresholds == {"low_max": 30, "medium_max": 60, "high_max": 80}


def test_copy_action_makes_the_next_minor_draft(admin_client):
    v = ModelVersion.objects.get(version="1.0")
    response = admin_client.post(
        url(ModelVersion, "changelist"), {"action": "copy_as_draft", "_selected_action": [v.pk]}
    )
    assert response.status_code == 302
    draft = ModelVersion.objects.get(version="1.1")
    assert draft.status == VersionStatus.DRAFT and draft.weights == v.weights
    assert "Created draft 1.1 from 1.0." in texts(response)
    admin_client.post(
        url(ModelVersion, "changelist"), {"action": "copy_as_draft", "_selected_action": [v.pk]}
    )
    assert ModelVersion.objects.filter(version="1.2", status=VersionStatus.DRAFT).exists()


def test_publish_action(admin_client, admin_user, computed, django_capture_on_commit_callbacks):
    TypeProfile.objects.filter(type="ups").update(importance=2.0)
    draft = model_version_copy(source=ModelVersion.objects.get(version="1.0"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url(ModelVersion, "changelist"),
            {"action": "publish_draft", "_selected_action": [draft.pk]},
        )
    assert response.status_code == 302
    assert "Published 1.1; a full recompute was queued" in texts(response)
    draft.refresh_from_db()
    assert draft.is_current and draft.published_by == admin_user
    assert draft.profiles["ups"]["importance"] == 2.0
    assert not ModelVersion.objects.get(version="1.0").is_current
    assert set(EquipmentAssessment.objects.values_list("algorithm_version", flat=True)) == {"1.1"}
    # The changelist shows it.
    html = admin_client.get(url(ModelVersion, "changelist")).content.decode()
    assert "1.1" in html


def test_publish_action_refuses_published_and_multiple(admin_client):
    v = ModelVersion.objects.get(version="1.0")
    response = admin_client.post(
        url(ModelVersion, "changelist"), {"action": "publish_draft", "_selected_action": [v.pk]}
    )
    assert "1.0 is already published." in texts(response)
    a = model_version_copy(source=v)
    b = model_version_copy(source=v)
    response = admin_client.post(
        url(ModelVersion, "changelist"),
        {"action": "publish_draft", "_selected_action": [a.pk, b.pk]},
    )
    assert "Select exactly one draft to publish." in texts(response)
    assert ModelVersion.objects.get(is_current=True).version == "1.0"


def test_publish_action_reports_an_invalid_draft(admin_client):
    draft = model_version_copy(source=ModelVersion.objects.get(version="1.0"))
    ModelVersion.objects.filter(pk=draft.pk).update(
        thresholds={"low_max": 70, "medium_max": 40, "high_max": 85}
    )
    response = admin_client.post(
        url(ModelVersion, "changelist"),
        {"action": "publish_draft", "_selected_action": [draft.pk]},
    )
    [message] = texts(response)
    assert message.startswith("Cannot publish 1.1: Thresholds must satisfy")
    assert ModelVersion.objects.get(is_current=True).version == "1.0"


def test_add_form_makes_a_draft(admin_client):
    response = admin_client.post(
        url(ModelVersion, "add"),
        {
            "version": "2.0",
            "weights": '{"age": 0.35, "material": 0.2, "maintenance": 0.2, '
            '"environmental": 0.1, "loading": 0.1, "condition": 0.05}',
            "thresholds": '{"low_max": 40, "medium_max": 70, "high_max": 85}',
            "notes": "fresh",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    v = ModelVersion.objects.get(version="2.0")
    assert v.status == VersionStatus.DRAFT and not v.is_current
