"""A rejected record's page shows its raw JSON pretty-printed with the failing field marked;
the sync run list shows each run's counts and duration, sortable, in a fixed number of
queries."""

import datetime
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from condoit.admin import show_duration
from condoit.ingest import Ingestor
from condoit.rejected_json import pretty_lines, raw_json_view, resolve
from facilities.models import RejectedRecord, SyncRun
from tests import factories as rf

from . import factories as f

# --- the pure part: layout and paths ----------------------------------------------------------

SAMPLES = [
    {},
    [],
    "text",
    12.5,
    None,
    {"b": [1, {"z": None, "a": [[], {}]}], "a": "é <script>", "c": {"d": {"e": [True, False]}}},
    [[[1]], {"k": "v"}, [], "x"],
]


@pytest.mark.parametrize("value", SAMPLES)
def test_layout_is_jsons_own(value):
    expected = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    assert "\n".join(text for _, text in pretty_lines(value)) == expected


def test_layout_of_a_record_nested_deeper_than_pythons_recursion_limit():
    value = "leaf"
    for _ in range(3000):
        value = {"k": value}
    lines = pretty_lines(value)
    assert len(lines) == 3000 * 2 + 1
    assert lines[3000] == (("k",) * 3000, " " * 6000 + '"k": "leaf"')


RECORD = {
    "id": "eq_1",
    "name": "Main board",
    "address": {"city": "Peoria", "state": "IL"},
    "conductors": [{"id": "c0", "material": "CU"}, {"id": "c1", "material": 7}],
    "specs": {"ratings": [{"kA": 10}, {"kA": "x"}], "phases": 2},
    "odd.key": {"inner": 1},
}


@pytest.mark.parametrize(
    "field, path",
    [
        ("name", ("name",)),
        ("address.city", ("address", "city")),
        ("conductors[1].material", ("conductors", 1, "material")),
        ("conductors[1]", ("conductors", 1)),
        ("specs.ratings[1].kA", ("specs", "ratings", 1, "kA")),
        ("specs.phases", ("specs", "phases")),
        ("odd.key", ("odd.key",)),
        ("odd.key.inner", ("odd.key", "inner")),
        ("installDate", None),
        ("address.zip", None),
        ("conductors[5].material", None),
        ("name.first", None),
    ],
)
def test_field_paths_resolve(field, path):
    assert resolve(RECORD, field) == path


def marked(view) -> list[str]:
    return [line.text.strip() for line in view.lines if line.marked]


def test_a_nested_list_item_is_marked_alone():
    view = raw_json_view(json.dumps(RECORD), "conductors[1].material")
    assert marked(view) == ['"material": 7']
    assert view.found and "conductors[1].material" in view.note


def test_a_container_is_marked_with_everything_inside_it():
    view = raw_json_view(json.dumps(RECORD), "conductors[1]")
    assert marked(view) == ["{", '"id": "c1",', '"material": 7', "}"]


def test_a_missing_field_is_said_above_the_json():
    view = raw_json_view(json.dumps(RECORD), "installDate")
    assert not view.found and marked(view) == []
    assert view.note == "The failing field, installDate, is absent from the record."
    assert view.is_json


def test_a_null_field_is_present_and_marked():
    view = raw_json_view('{"id": "f1", "name": null}', "name")
    assert marked(view) == ['"name": null']


def test_not_json_is_shown_as_it_arrived():
    view = raw_json_view('{"id": "x", "name": "cut', "name", truncated=True)
    assert not view.is_json and view.text == '{"id": "x", "name": "cut'
    assert "cut at the size kept" in view.note
    view = raw_json_view("not json at all", "line")
    assert view.note.startswith("The reason concerns the line as a whole")


def test_whole_record_reasons():
    view = raw_json_view('{"id": "x"}', "record")
    assert marked(view) == [] and view.note == "The reason concerns the record as a whole."


# --- the page ---------------------------------------------------------------------------------


def change_page(client, rejection):
    response = client.get(reverse("admin:facilities_rejectedrecord_change", args=[rejection.pk]))
    assert response.status_code == 200
    return response.text


@pytest.mark.django_db
def test_page_marks_the_failing_field_of_a_real_rejection(admin_client):
    fac = rf.facility(id="fac_pg")
    eq = rf.equipment("fac_pg", id="eq_pg")
    eq["conductors"] = [{"id": "c0", "material": "CU"}, {"id": "c1", "material": 12}]
    ing = Ingestor(source="file")
    ing.add("facility", fac)
    ing.add("equipment", eq)
    ing.finish()
    rejection = RejectedRecord.objects.get(record_id="eq_pg")
    assert rejection.field == "conductors[1].material"
    html = change_page(admin_client, rejection)
    assert "condoit/admin/rejected_record.css" in html
    marks = re.findall(r'<mark class="rejected-field">(.*?)</mark>', html)
    assert [m.strip() for m in marks] == ["&quot;material&quot;: 12"]
    assert "The failing field, conductors[1].material, is marked below." in html
    # Pretty-printed with sorted keys: "conductors" comes before "facilityId".
    pre = re.search(r'<pre class="rejected-raw">(.*?)</pre>', html, re.DOTALL).group(1)
    assert pre.index("&quot;conductors&quot;") < pre.index("&quot;facilityId&quot;")


@pytest.mark.django_db
def test_page_escapes_what_the_record_holds(admin_client):
    raw = json.dumps({"id": "eq_x", "name": "<script>alert(1)</script>", "installDate": "<b>"})
    rejection = f.rejection(f.sync_run(), field="installDate", raw=raw)
    html = change_page(admin_client, rejection)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert (
        '<mark class="rejected-field">  &quot;installDate&quot;: &quot;&lt;b&gt;&quot;,</mark>'
        in html
    )


@pytest.mark.django_db
def test_page_says_when_the_failing_field_is_missing(admin_client):
    rejection = f.rejection(f.sync_run(), field="name", reason="is required", raw='{"id": "f"}')
    html = change_page(admin_client, rejection)
    assert "The failing field, name, is absent from the record." in html
    assert "<mark" not in html


# --- sync runs ---------------------------------------------------------------------------------


def test_durations_read_well():
    assert show_duration(None, running=True) == "running"
    assert show_duration(None) == "—"
    assert show_duration(datetime.timedelta(seconds=0.42)) == "0.4 s"
    assert show_duration(datetime.timedelta(seconds=42.4)) == "42 s"
    assert show_duration(datetime.timedelta(seconds=185)) == "3 min 05 s"
    assert show_duration(datetime.timedelta(hours=2, minutes=3, seconds=9)) == "2 h 03 min"


def make_runs(n: int, start: int = 0):
    now = timezone.now()
    for i in range(start, start + n):
        run = f.sync_run(created=i, updated=2 * i, unchanged=3, rejected=i % 4, deleted=1)
        SyncRun.objects.filter(pk=run.pk).update(
            started_at=now - datetime.timedelta(hours=i, seconds=10 + i),
            finished_at=now - datetime.timedelta(hours=i),
        )


@pytest.mark.django_db
def test_sync_run_list_shows_counts_and_duration_sorted(admin_client):
    make_runs(3)
    f.sync_run(status="running", finished_at=None)
    url = reverse("admin:facilities_syncrun_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    headers = [h["text"] for h in response.context["result_headers"]]
    for name in ("created", "updated", "unchanged", "rejected", "deleted", "duration"):
        assert name in [h.lower() for h in headers]
    assert "running" in response.text and "12 s" in response.text
    duration_column = [h.lower() for h in headers].index("duration")
    # Sorted by duration, longest first (a running run has none: it sorts with the nulls).
    response = admin_client.get(url, {"o": f"-{duration_column}"})
    shown = [r.run_duration for r in response.context["cl"].result_list if r.run_duration]
    assert shown == sorted(shown, reverse=True) and len(shown) == 3
    created_column = [h.lower() for h in headers].index("created")
    response = admin_client.get(url, {"o": f"-{created_column}"})
    assert [r.created for r in response.context["cl"].result_list] == [3, 2, 1, 0]


@pytest.mark.django_db
def test_sync_run_list_queries_do_not_grow_with_runs(admin_client):
    url = reverse("admin:facilities_syncrun_changelist")
    make_runs(3)
    admin_client.get(url)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    make_runs(27, start=3)
    assert count() == few


@pytest.mark.django_db
def test_sync_run_page_shows_the_duration(admin_client):
    make_runs(1, start=1)
    run = SyncRun.objects.get()
    response = admin_client.get(reverse("admin:facilities_syncrun_change", args=[run.pk]))
    assert response.status_code == 200
    assert "11 s" in response.text
