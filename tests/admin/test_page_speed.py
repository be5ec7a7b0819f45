"""What the admin's faster pages still show: the equipment assessment list's order and its
algorithm version filter, the selects rendered without a template per option (editable
mappings, crontab time zones), the facility page's first equipment."""

import re

import pytest
from django.contrib import admin
from django.db import connection
from django.forms import Select
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule

from equipment.admin_records import INLINE_EQUIPMENT_LIMIT
from equipment.choices import EquipmentType
from equipment.models import EquipmentClassMapping
from masterbus.admin_widgets import PlainSelect
from voltmetrics.models import EquipmentAssessment, ModelVersion
from voltmetrics.services import risk_recompute

from . import factories as af
from .risk_fixtures import AS_OF, build_risk_world

pytestmark = pytest.mark.django_db

ASSESSMENTS = "admin:voltmetrics_equipmentassessment_changelist"
OPTION = re.compile(r'<option value="([^"]*)"( selected)?>([^<]*)</option>')


@pytest.fixture
def risk_world(db, import_export):
    return build_risk_world(import_export)


def options(html: str) -> list[tuple[str, bool, str]]:
    return [(v, bool(s), label) for v, s, label in OPTION.findall(html)]


@pytest.mark.parametrize("value", ["", "switchboard", "panel", None])
def test_plain_select_renders_the_stock_selects_options(value):
    choices = [("", "---------"), *EquipmentType.choices]
    attrs = {"id": "id_type"}
    stock = Select(choices=choices).render("type", value, attrs)
    plain = PlainSelect(choices=choices).render("type", value, attrs)
    assert options(plain) == options(stock) and len(options(plain)) == len(choices)
    assert plain.startswith('<select name="type" id="id_type">')


def test_plain_select_escapes_labels():
    html = PlainSelect(choices=[("a&b", "<b>x</b>")]).render("f", "a&b")
    assert '<option value="a&amp;b" selected>&lt;b&gt;x&lt;/b&gt;</option>' in html


def test_assessment_list_highest_score_first_then_newest(risk_world, admin_client):
    response = admin_client.get(reverse(ASSESSMENTS))
    assert response.status_code == 200
    shown = [(a.risk_score, a.pk) for a in response.context["cl"].result_list]
    stored = sorted(EquipmentAssessment.objects.values_list("risk_score", "pk"), reverse=True)
    assert shown == stored and len(shown) > 3


def test_assessment_list_filters_by_algorithm_version_from_fixed_choices(risk_world, admin_client):
    current = ModelVersion.objects.get(is_current=True).version
    response = admin_client.get(reverse(ASSESSMENTS))
    spec = next(
        s
        for s in response.context["cl"].filter_specs
        if getattr(s, "parameter_name", "") == "algorithm_version"
    )
    assert current in [value for value, _label in spec.lookup_choices]
    stored = EquipmentAssessment.objects.filter(algorithm_version=current).count()
    assert stored > 0
    shown = admin_client.get(reverse(ASSESSMENTS), {"algorithm_version": current})
    assert len(shown.context["cl"].result_list) == stored
    none = admin_client.get(reverse(ASSESSMENTS), {"algorithm_version": "no-such-version"})
    assert none.status_code == 200 and len(none.context["cl"].result_list) == 0


def test_assessment_list_queries_do_not_grow_with_rows(risk_world, admin_client):
    def measure():
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(reverse(ASSESSMENTS))
        assert response.status_code == 200
        return len(ctx), len(response.context["cl"].result_list)

    few, rows_few = measure()
    fac = af.facility()
    for _ in range(6):
        af.equipment(fac)
    risk_recompute(as_of=AS_OF)
    many, rows_many = measure()
    assert rows_many > rows_few
    assert many == few


def test_class_mapping_list_edits_through_the_plain_select(db, admin_client):
    mapping = EquipmentClassMapping.objects.create(
        condoit_class="odd box", type=EquipmentType.PANEL
    )
    url = reverse("admin:equipment_equipmentclassmapping_changelist")
    response = admin_client.get(url)
    i = [m.pk for m in response.context["cl"].result_list].index(mapping.pk)
    html = response.content.decode()
    select = re.search(rf'<select name="form-{i}-type"[^>]*>.*?</select>', html, re.S).group(0)
    assert ("panel", True, "Panel") in options(select)
    assert len(options(select)) == len(EquipmentType.choices) + 1  # and the empty choice
    count = EquipmentClassMapping.objects.count()
    rows = list(EquipmentClassMapping.objects.order_by("condoit_class"))
    data = {
        "form-TOTAL_FORMS": str(count), "form-INITIAL_FORMS": str(count), "_save": "Save",
    }  # fmt: skip
    for i, row in enumerate(rows):
        data[f"form-{i}-id"] = str(row.pk)
        data[f"form-{i}-type"] = "switchboard" if row.pk == mapping.pk else row.type
    response = admin_client.post(url, data)
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert mapping.type == "switchboard"


def test_crontab_page_lists_the_time_zones_and_saves(db, admin_client):
    assert type(admin.site._registry[CrontabSchedule]).__module__ == "masterbus.admin_widgets"
    url = reverse("admin:django_celery_beat_crontabschedule_add")
    html = admin_client.get(url).content.decode()
    select = re.search(r'<select name="timezone"[^>]*>.*?</select>', html, re.S).group(0)
    zones = options(select)
    assert len(zones) > 300 and ("Europe/Paris", False, "Europe/Paris") in zones
    response = admin_client.post(
        url,
        {"minute": "5", "hour": "4", "day_of_month": "*", "month_of_year": "*",
         "day_of_week": "*", "timezone": "Europe/Paris",
         "periodictask_set-TOTAL_FORMS": "0", "periodictask_set-INITIAL_FORMS": "0"},
    )  # fmt: skip
    assert response.status_code == 302
    assert str(CrontabSchedule.objects.get(minute="5", hour="4").timezone) == "Europe/Paris"


def test_facility_page_shows_the_first_equipment_and_links_to_the_rest(db, admin_client):
    fac = af.facility()
    for i in range(INLINE_EQUIPMENT_LIMIT + 5):
        af.equipment(fac, name=f"Unit {i:03d}")
    response = admin_client.get(reverse("admin:facilities_facility_change", args=[fac.pk]))
    html = response.content.decode()
    shown = sorted(set(re.findall(r"Unit \d{3}", html)))
    assert shown == [f"Unit {i:03d}" for i in range(INLINE_EQUIPMENT_LIMIT)]
    assert f"{INLINE_EQUIPMENT_LIMIT + 5} equipment" in html
    assert f"?facility__exact={fac.pk}" in html
