"""Audit history in the admin (masterbus/audit.py, masterbus/admin_history.py): an admin edit of
each audited model records who, when, why and what changed, and the object's History page
shows it; secrets are never recorded nor shown; an invalid save records nothing; a History
page runs a fixed number of queries whatever its rows; there is no revert."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from consumers.models import Portfolio, Subscription
from equipment.models import EquipmentClassMapping, MaterialMapping, TypeProfile
from facilities.models import FieldOverride, RecordChange
from masterbus import audit
from masterbus.models import ApiKey, key_digest
from masterbus.services import api_key_create
from voltmetrics.models import ModelVersion

from . import factories as f
from .conftest import form_post_data

pytestmark = pytest.mark.django_db


def rows(obj_or_model, pk=None):
    """The history rows of one object, oldest first."""
    model = obj_or_model if pk is not None else type(obj_or_model)
    pk = pk if pk is not None else obj_or_model.pk
    return list(model.history.filter(id=pk).order_by("history_date", "history_id"))


def url(obj, view="change"):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{view}", args=[obj.pk])


def history_page(client, obj) -> str:
    response = client.get(url(obj, "history"))
    assert response.status_code == 200
    return response.content.decode()


def changes_on_page(page: str) -> list[str]:
    """The text of each change listed on a History page, tags stripped."""
    items = re.findall(r"<li><strong>(.*?)</li>", page, flags=re.S)
    return [html.unescape(" ".join(re.sub(r"<[^>]+>", " ", i).split())) for i in items]


def post_form(client, obj, **changes):
    target = url(obj)
    data = form_post_data(client.get(target))
    data.update(changes)
    response = client.post(target, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


# --- overrides ------------------------------------------------------------------------------------


def test_an_equipment_edit_records_the_override_with_its_user_and_reason(admin_client, admin_user):
    eq = f.equipment(f.facility(), name="Panel A", manufacturer="Square D")
    post_form(admin_client, eq, manufacturer="Eaton")
    ov = FieldOverride.objects.get(external_id=eq.external_id, field="manufacturer")
    (row,) = rows(ov)
    assert row.history_type == "+"
    assert row.history_user == admin_user and row.history_username == admin_user.username
    assert row.history_change_reason == "admin: equipment change form"
    assert (row.value, row.condoit_value) == ("Eaton", "Square D")

    post_form(admin_client, eq, manufacturer="Siemens")
    assert [r.value for r in rows(ov)] == ["Eaton", "Siemens"]
    page = history_page(admin_client, ov)
    assert "value: Eaton → Siemens" in changes_on_page(page)
    assert "admin: equipment change form" in page and admin_user.username in page
    # The equipment page links each override to its history.
    assert url(ov, "history") in admin_client.get(url(eq)).content.decode()


def test_removing_an_override_records_its_deletion(admin_client, admin_user):
    eq = f.equipment(f.facility(), manufacturer="Square D")
    post_form(admin_client, eq, manufacturer="Eaton")
    ov = FieldOverride.objects.get()
    response = admin_client.post(
        reverse("admin:facilities_fieldoverride_changelist"),
        {"action": "remove_overrides", "_selected_action": [ov.pk]},
    )
    assert response.status_code == 302 and not FieldOverride.objects.exists()
    gone = rows(FieldOverride, ov.pk)
    assert [r.history_type for r in gone] == ["+", "-"]
    assert gone[-1].history_user == admin_user
    assert gone[-1].history_change_reason == (
        "admin action: Remove selected overrides (fields go back to Condoit's value)"
    )
    # The page of a removed override still shows its history.
    page = history_page(admin_client, ov)
    assert "Deleted" in page and "Created" in page


# --- mappings and type profiles ------------------------------------------------------------------


def test_class_mapping_add_change_delete_are_recorded(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:equipment_equipmentclassmapping_add"),
        {"condoit_class": "Widget Box", "type": "ups", "_save": "Save"},
    )
    assert response.status_code == 302
    mapping = EquipmentClassMapping.objects.get(condoit_class="widget box")
    post_form(admin_client, mapping, type="panel")
    response = admin_client.post(url(mapping, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not EquipmentClassMapping.objects.filter(pk=mapping.pk).exists()
    history = rows(EquipmentClassMapping, mapping.pk)
    assert [(r.history_type, r.type, r.history_user) for r in history] == [
        ("+", "ups", admin_user),
        ("~", "panel", admin_user),
        ("-", "panel", admin_user),
    ]
    assert [r.history_change_reason for r in history] == [
        "admin: equipment class mapping add form",
        "admin: equipment class mapping change form",
        "admin: equipment class mapping delete",
    ]
    page = history_page(admin_client, mapping)
    assert "type: UPS → Panel" in changes_on_page(page)


def test_material_mapping_change_is_recorded(admin_client, admin_user):
    mapping = MaterialMapping.objects.create(code="cu-x", material="copper")
    post_form(admin_client, mapping, material="aluminum")
    last = rows(mapping)[-1]
    assert (last.history_type, last.material, last.history_user) == ("~", "aluminum", admin_user)
    assert "material: Copper → Aluminum" in changes_on_page(history_page(admin_client, mapping))


def test_type_profile_edit_is_recorded(admin_client, admin_user):
    profile = TypeProfile.objects.get(type="panel")
    before = len(rows(profile))
    post_form(admin_client, profile, life_years="40", interval_months="6")
    history = rows(profile)
    assert len(history) == before + 1
    assert (history[-1].life_years, history[-1].interval_months) == (40.0, 6)
    assert history[-1].history_user == admin_user
    shown = changes_on_page(history_page(admin_client, profile))
    assert "expected life (years): 35.0 → 40.0" in shown
    assert "maintenance interval (months): 12 → 6" in shown


def test_type_profile_list_edit_is_recorded(admin_client, admin_user):
    profile = TypeProfile.objects.get(type="panel")
    changelist = admin_client.get(reverse("admin:equipment_typeprofile_changelist"))
    formset = changelist.context["cl"].formset
    data = {
        formset.management_form.add_prefix(k): v
        for k, v in formset.management_form.initial.items()
    }
    for form in formset.forms:
        for name in form.fields:
            value = form[name].value()
            data[form.add_prefix(name)] = "" if value is None else value
        if form.instance.pk == profile.pk:
            data[form.add_prefix("importance")] = "2.5"
    data["_save"] = "Save"
    response = admin_client.post(reverse("admin:equipment_typeprofile_changelist"), data)
    assert response.status_code == 302
    last = rows(profile)[-1]
    assert (last.importance, last.history_user) == (2.5, admin_user)
    assert last.history_change_reason == "admin: type profile list edit"


# --- API keys: never the secret ------------------------------------------------------------------


def test_api_key_history_records_creation_and_revocation_never_the_key(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:masterbus_apikey_add"),
        {"name": "planner", "scopes": ["threatmap:read"], "_save": "Save"},
    )
    assert response.status_code == 200
    raw = re.search(r'id="api-key"[^>]*>(mb_[^<]+)<', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    response = admin_client.post(
        reverse("admin:masterbus_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [key.pk]},
    )
    assert response.status_code == 302
    history = rows(key)
    assert [(r.history_type, r.history_user) for r in history] == [
        ("+", admin_user),
        ("~", admin_user),
    ]
    assert history[0].revoked_at is None and history[1].revoked_at is not None
    assert history[1].history_change_reason == "admin action: Revoke selected keys"
    assert history[0].created_by == admin_user and history[0].scopes == ["threatmap:read"]

    page = history_page(admin_client, key)
    assert "revoked at:" in " ".join(changes_on_page(page))
    digest = key_digest(raw)
    assert raw not in page and digest not in page
    stored = [str(v) for row in ApiKey.history.values() for v in row.values()]
    assert not any(raw in v or digest in v for v in stored)
    assert "digest" not in {f.name for f in ApiKey.history.model._meta.fields}


# --- model versions ------------------------------------------------------------------------------


WEIGHTS = (
    '{"age": 0.3, "material": 0.1, "maintenance": 0.2, "environmental": 0.1, "loading": 0.1, '
    '"condition": 0.2}'
)
THRESHOLDS = '{"low_max": 40, "medium_max": 70, "high_max": 85}'


def test_model_version_draft_edit_and_publish_are_recorded(admin_client, admin_user):
    current = ModelVersion.objects.get(is_current=True)
    before_current = len(rows(current))
    response = admin_client.post(
        reverse("admin:voltmetrics_modelversion_add"),
        {"version": "9.0", "weights": WEIGHTS, "thresholds": THRESHOLDS, "notes": "trial",
         "_save": "Save"},
    )  # fmt: skip
    assert response.status_code == 302
    draft = ModelVersion.objects.get(version="9.0")
    post_form(admin_client, draft, notes="trial, tuned")
    response = admin_client.post(
        reverse("admin:voltmetrics_modelversion_changelist"),
        {"action": "publish_draft", "_selected_action": [draft.pk]},
    )
    assert response.status_code == 302
    history = rows(draft)
    assert [(r.history_type, r.status, r.is_current) for r in history] == [
        ("+", "draft", False),
        ("~", "draft", False),
        ("~", "published", True),  # one row for the publish
    ]
    assert all(r.history_user == admin_user for r in history)
    assert history[-1].history_change_reason == "admin action: Publish selected draft"
    assert history[-1].published_by == admin_user and history[-1].profiles
    superseded = rows(current)[before_current:]
    assert [(r.is_current, r.history_user) for r in superseded] == [(False, admin_user)]
    shown = changes_on_page(history_page(admin_client, draft))
    assert "notes: trial → trial, tuned" in shown
    assert "status: Draft → Published" in shown


# --- portfolios: with the facilities picked and who sees them -----------------------------------


def _portfolio_post(facilities, keys=(), **fields):
    data = {
        "slug": "north", "name": "North", "description": "", "rule_contractor": "",
        "rule_city": "", "rule_state": "", "api_keys": [k.pk for k in keys],
        "members-TOTAL_FORMS": str(len(facilities)), "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0", "members-MAX_NUM_FORMS": "1000", "_save": "Save",
    }  # fmt: skip
    for i, fac in enumerate(facilities):
        data[f"members-{i}-facility"] = str(fac.pk)
    data.update(fields)
    return data


def test_portfolio_admin_save_is_one_row_with_its_picked_facilities(admin_client, admin_user):
    a, b = f.facility(external_id="fac_a"), f.facility(external_id="fac_b")
    key, _ = api_key_create(name="reader", scopes=["threatmap:read"])
    response = admin_client.post(
        reverse("admin:consumers_portfolio_add"), _portfolio_post([a], keys=[key])
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    portfolio = Portfolio.objects.get()
    (created,) = rows(portfolio)
    assert (created.history_type, created.history_user) == ("+", admin_user)
    assert created.picked_facilities == ["fac_a"]
    assert created.bound_api_keys == [str(key)]
    assert created.history_change_reason == "admin: portfolio add form"

    data = form_post_data(admin_client.get(url(portfolio)))
    total = int(data["members-TOTAL_FORMS"])
    data[f"members-{total - 1}-facility"] = str(b.pk)  # the empty extra form
    data["name"] = "North sites"
    response = admin_client.post(url(portfolio), data)
    assert response.status_code == 302
    history = rows(portfolio)
    assert len(history) == 2  # one row for the form, its inline included
    assert (history[1].name, history[1].picked_facilities) == ("North sites", ["fac_a", "fac_b"])
    shown = changes_on_page(history_page(admin_client, portfolio))
    assert "name: North → North sites" in shown
    assert "picked facilities: +fac_b" in shown


# --- subscriptions: never a secret -------------------------------------------------------------


def test_subscription_history_never_holds_a_secret(admin_client, admin_user, settings):
    portfolio = Portfolio.objects.create(slug="acme", name="Acme")
    response = admin_client.post(
        reverse("admin:consumers_subscription_add"),
        {"url": "https://hooks.example.com/in", "description": "planner",
         "event_types": ["facility.risk_changed"], "portfolios": [portfolio.pk],
         "active": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    first = re.search(r"(whsec_[A-Za-z0-9+/=]+)", response.content.decode()).group(1)
    sub = Subscription.objects.get()
    (created,) = rows(sub)
    assert (created.history_type, created.history_user) == ("+", admin_user)
    assert created.bound_portfolios == ["acme"]

    rotate = reverse("admin:consumers_subscription_button", args=[sub.pk, "rotate"])
    response = admin_client.post(rotate)
    assert response.status_code == 200
    second = re.search(r"(whsec_[A-Za-z0-9+/=]+)", response.content.decode()).group(1)
    pause = reverse("admin:consumers_subscription_button", args=[sub.pk, "pause"])
    assert admin_client.post(pause).status_code == 302
    data = form_post_data(admin_client.get(url(sub)))
    data["description"] = "route planner"
    data.pop("active", None)  # switched off
    assert admin_client.post(url(sub), data).status_code == 302

    history = rows(sub)
    assert [(r.history_type, r.history_change_reason) for r in history] == [
        ("+", "admin: subscription add form"),
        ("~", "signing secret rotated"),
        ("~", f"paused by {admin_user.username}"),
        ("~", "admin: subscription change form"),
    ]
    assert all(r.history_user == admin_user for r in history)
    assert history[1].previous_secret_until is not None
    assert (history[3].description, history[3].active) == ("route planner", False)

    sub.refresh_from_db()
    secrets_ = [first, second, sub.secret_encrypted, sub.previous_secret_encrypted]
    page = history_page(admin_client, sub)
    assert not any(s in page for s in secrets_)
    stored = [str(v) for row in Subscription.history.values() for v in row.values()]
    assert not any(s in v for s in secrets_ for v in stored)
    fields = {f.name for f in Subscription.history.model._meta.fields}
    assert not fields & {"secret_encrypted", "previous_secret_encrypted"}
    shown = changes_on_page(page)
    assert "description: planner → route planner" in shown
    assert "active: yes → no" in shown


# --- an invalid save records nothing -------------------------------------------------------------


def _history_counts():
    return {
        m.__name__: m.history.count()
        for m in (EquipmentClassMapping, MaterialMapping, TypeProfile, ApiKey, ModelVersion,
                  Portfolio, Subscription, FieldOverride)
    }  # fmt: skip


def test_invalid_admin_saves_record_nothing(admin_client):
    eq = f.equipment(f.facility(), load_percent=20)
    profile = TypeProfile.objects.get(type="panel")
    before = _history_counts()
    posts = [
        (reverse("admin:equipment_equipmentclassmapping_add"),
         {"condoit_class": "   ", "type": "ups", "_save": "Save"}),
        (reverse("admin:equipment_materialmapping_add"),
         {"code": "cu", "material": "gold", "_save": "Save"}),
        (reverse("admin:masterbus_apikey_add"), {"name": "no scopes", "_save": "Save"}),
        (reverse("admin:voltmetrics_modelversion_add"),
         {"version": "9.1", "weights": '{"age": 1.5}', "thresholds": THRESHOLDS,
          "_save": "Save"}),
        (reverse("admin:consumers_portfolio_add"), _portfolio_post([], slug="Not A Slug")),
        (reverse("admin:consumers_subscription_add"),
         {"url": "ftp://nowhere.example.com/", "active": "on"}),
    ]  # fmt: skip
    for target, data in posts:
        response = admin_client.post(target, data)
        assert response.status_code == 200 and response.context["adminform"].form.errors, target
    data = form_post_data(admin_client.get(url(profile)))
    data["life_years"] = "0"  # below its minimum
    assert admin_client.post(url(profile), data).status_code == 200
    data = form_post_data(admin_client.get(url(eq)))
    data["load_percent"] = "900"  # out of bounds: no override either
    assert admin_client.post(url(eq), data).status_code == 200
    assert _history_counts() == before
    assert not RecordChange.objects.exists()


# --- the page: bounded queries, read-only ------------------------------------------------------


def _edit_profile(profile, n, user=None):
    with audit.audited("test edits", user=user):
        for i in range(n):
            profile.importance = 1 + (profile.importance + i) % 7
            profile.save()


def _page_queries(client, obj, page=None):
    target = url(obj, "history") + (f"?p={page}" if page else "")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(target)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_history_page_queries_do_not_grow_with_its_rows(admin_client, admin_user):
    profile = TypeProfile.objects.get(type="panel")
    other = get_user_model().objects.create_user("dora", is_staff=True)
    _edit_profile(profile, 3, user=admin_user)
    admin_client.get(url(profile, "history"))  # warm the session and content types
    few, response = _page_queries(admin_client, profile)
    assert len(response.context["page_obj"].object_list) == 4  # the baseline row too
    _edit_profile(profile, 20, user=admin_user)
    _edit_profile(profile, 20, user=other)
    many, response = _page_queries(admin_client, profile)
    assert len(response.context["page_obj"].object_list) == 44
    assert many == few
    _edit_profile(profile, 60, user=other)  # two full pages and more: the row before a page is read once
    paged, response = _page_queries(admin_client, profile, page=2)
    assert len(response.context["page_obj"].object_list) == 50
    assert paged == few + 1
    oldest_on_page = response.context["page_obj"].object_list[-1]
    assert oldest_on_page.history_delta_changes  # compared with the row before the page


def test_history_rows_with_users_and_relations_run_no_query_each(admin_client, admin_user):
    users = [admin_user, get_user_model().objects.create_user("dora", is_staff=True)]
    sub = Subscription.objects.create(url="https://a.example.com/", secret_encrypted="x",
                                      created_by=users[1])  # fmt: skip

    def edit(n):
        for i in range(n):
            with audit.audited("test edits", user=users[i % 2]):
                sub.description = f"d{sub.description}{i}"[:400]
                sub.save()

    edit(4)
    admin_client.get(url(sub, "history"))
    few, _ = _page_queries(admin_client, sub)
    edit(30)
    many, response = _page_queries(admin_client, sub)
    assert many == few
    assert "dora" in response.content.decode()


def test_there_is_no_revert_of_an_old_version(admin_client):
    profile = TypeProfile.objects.get(type="panel")
    _edit_profile(profile, 1)
    row = rows(profile)[0]
    with pytest.raises(NoReverseMatch):
        reverse("admin:equipment_typeprofile_simple_history", args=[profile.pk, row.pk])
    target = url(profile, "history") + f"{row.pk}/"
    admin_client.post(target, {"importance": "9"}, follow=True)
    profile.refresh_from_db()
    assert profile.importance != 9 and len(rows(profile)) == 2
    page = history_page(admin_client, profile)
    assert "revert" not in page.lower()
