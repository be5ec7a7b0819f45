"""CSV export of filtered lists: exactly the changelist's rows, streamed, a fixed number of
queries, formula-like cells escaped, view permission required, bad filters a 400."""

import csv
import io

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection, models
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from equipment.admin import EquipmentAdmin
from facilities.admin_csv import CsvColumn, csv_cell, csv_rows, related_paths

from . import factories as f

pytestmark = pytest.mark.django_db


def changelist_url(name):
    return reverse(f"admin:{name}_changelist")


def export_url(name):
    return reverse(f"admin:{name}_export_csv")


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def listed(client, name, query) -> list:
    response = client.get(changelist_url(name) + query)
    assert response.status_code == 200
    return [str(o.pk) for o in response.context["cl"].result_list]


@pytest.fixture
def portfolio():
    a = f.facility(name="Alpha Plant", state="TX", city="Austin")
    b = f.facility(name="Beta Depot", state="IL")
    c = f.facility(name="Gamma Yard", state="TX", deleted_at=timezone.now())
    eq = [
        f.equipment(a, name="Copper Panel", manufacturer="Eaton"),
        f.equipment(a, name="Alu Panel", manufacturer="Square D"),
        f.equipment(a, name="Odd Gizmo", type="other", class_mapped=False),
        f.equipment(b, name="Copper Busway", manufacturer="Eaton"),
        f.equipment(c, name="Old Panel", deleted_at=timezone.now()),
    ]
    return (a, b, c), eq


@pytest.mark.parametrize(
    "name, query",
    [
        ("facilities_facility", ""),
        ("facilities_facility", "?state=TX"),
        ("facilities_facility", "?state=TX&deleted=no"),
        ("facilities_facility", "?q=depot"),
        ("facilities_facility", "?o=-1"),
        ("equipment_equipment", ""),
        ("equipment_equipment", "?q=copper"),
        ("equipment_equipment", "?q=copper&o=-1"),
        ("equipment_equipment", "?class_mapped__exact=0"),
        ("equipment_equipment", "?deleted=yes"),
        ("equipment_equipment", "?manufacturer=Eaton"),
    ],
)
def test_export_holds_exactly_the_lists_rows_in_its_order(admin_client, portfolio, name, query):
    expected = listed(admin_client, name, query)
    rows = read_csv(admin_client.get(export_url(name) + query))
    assert [r["id"] for r in rows] == expected


def test_equipment_export_by_facility_and_search(admin_client, portfolio):
    (a, b, _), eq = portfolio
    query = f"?facility__id__exact={a.pk}&q=eaton"
    rows = read_csv(admin_client.get(export_url("equipment_equipment") + query))
    assert [r["id"] for r in rows] == listed(admin_client, "equipment_equipment", query)
    assert [r["name"] for r in rows] == ["Copper Panel"]
    first = rows[0]
    assert first["facility_external_id"] == a.external_id
    assert first["facility_name"] == "Alpha Plant"
    assert first["install_date"] == "2005-03-15"
    assert first["class_mapped"] == "true"


def test_facility_export_columns(admin_client, portfolio):
    (a, _, _), _ = portfolio
    rows = read_csv(admin_client.get(export_url("facilities_facility") + "?q=alpha"))
    assert len(rows) == 1
    row = rows[0]
    assert row["external_id"] == a.external_id and row["city"] == "Austin"
    assert row["live_equipment"] == "3"  # the list's annotation
    assert row["deleted_at"] == ""


def test_rejected_records_export_filtered_by_run(admin_client):
    run, other = f.sync_run(), f.sync_run(source="pull")
    mine = [f.rejection(run, field="name"), f.rejection(run, field="installDate")]
    f.rejection(other)
    query = f"?sync_run__exact={run.pk}"
    rows = read_csv(admin_client.get(export_url("facilities_rejectedrecord") + query))
    assert [r["id"] for r in rows] == listed(admin_client, "facilities_rejectedrecord", query)
    assert {r["id"] for r in rows} == {str(r.pk) for r in mine}
    assert rows[0]["sync_run_source"] == "file"
    assert rows[0]["raw"] == mine[0].raw


def test_export_link_carries_the_lists_query(admin_client, portfolio):
    (a, _, _), _ = portfolio
    query = f"?facility__id__exact={a.pk}&q=panel&o=2"
    response = admin_client.get(changelist_url("equipment_equipment") + query)
    link = response.context["csv_export_url"]
    assert link.startswith(export_url("equipment_equipment") + "?")
    assert f'href="{link.replace("&", "&amp;")}"' in response.text
    assert "Export CSV" in response.text
    rows = read_csv(admin_client.get(link))
    assert [r["id"] for r in rows] == listed(admin_client, "equipment_equipment", query)


def test_the_page_number_is_ignored(admin_client, portfolio):
    rows = read_csv(admin_client.get(export_url("equipment_equipment") + "?p=7"))
    assert len(rows) == 5


@pytest.mark.parametrize(
    "name", ["facilities_facility", "equipment_equipment", "facilities_rejectedrecord"]
)
def test_export_queries_do_not_grow_with_rows(admin_client, name):
    def build(n):
        for _ in range(n):
            fac = f.facility()
            f.equipment(fac)
            f.rejection(f.sync_run())

    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(export_url(name))
            rows = read_csv(response)
        return len(ctx.captured_queries), len(rows)

    build(3)
    count()  # warm the session and content types
    few, n_few = count()
    build(27)
    many, n_many = count()
    assert (n_few, n_many) == (3, 30)
    assert many == few


def test_formula_cells_are_escaped(admin_client):
    fac = f.facility(name='=HYPERLINK("http://x")', city="+1+2", contractor="@SUM(A1)")
    f.equipment(fac, name="-2-3", manufacturer="\tTab", model="\rCR", serial_number="ok=1")
    rows = read_csv(admin_client.get(export_url("facilities_facility")))
    assert rows[0]["name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["city"] == "'+1+2"
    assert rows[0]["contractor"] == "'@SUM(A1)"
    rows = read_csv(admin_client.get(export_url("equipment_equipment")))
    row = rows[0]
    assert (row["name"], row["manufacturer"], row["model"]) == ("'-2-3", "'\tTab", "'\rCR")
    assert row["serial_number"] == "ok=1"
    assert row["facility_name"].startswith("'=")


def test_numbers_stay_numbers():
    assert csv_cell(-87.6) == "-87.6"
    assert csv_cell(-3) == "-3"
    assert csv_cell("-3") == "'-3"
    assert csv_cell(None) == ""
    assert csv_cell(False) == "false"
    assert csv_cell({"b": 1, "a": "=x"}) == '{"a": "=x", "b": 1}'


def test_staff_without_view_permission_is_refused(client):
    user = User.objects.create_user("clerk", password="pw-clerk-123", is_staff=True)
    client.force_login(user)
    url = export_url("equipment_equipment")
    assert client.get(url).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_equipment"))
    assert client.get(url).status_code == 200
    assert client.get(export_url("facilities_facility")).status_code == 403


def test_anonymous_is_sent_to_the_login(client):
    response = client.get(export_url("equipment_equipment"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.parametrize(
    "query",
    [
        "?facility__id__exact=abc",
        "?facility__id__exact=99999999999999999999999",
        "?class_mapped__exact=maybe",
        "?install_date__gte=2024-13-45",
        "?no_such_field=1",
        "?facility__password=x",
        "?o=not-a-number",
        "?_to_field=secret",
    ],
)
def test_bad_filters_are_a_400_not_a_500(admin_client, portfolio, query):
    response = admin_client.get(export_url("equipment_equipment") + query)
    if query == "?o=not-a-number":  # the list ignores an ordering it cannot read
        assert len(read_csv(response)) == 5
        return
    assert response.status_code == 400
    assert "Export refused" in response.content.decode() or query.startswith(
        ("?facility__password", "?_to_field")
    )


def test_a_pattern_the_database_refuses_is_a_400(admin_client, portfolio):
    response = admin_client.get(export_url("facilities_facility") + "?state__regex=(")
    assert response.status_code == 400
    assert "database refused" in response.content.decode()


def test_columns_extend_in_a_subclass(rf, admin_user, portfolio):
    """A subclass adds columns (as the risk columns will) and they are read from the row."""

    class WithExtra(EquipmentAdmin):
        csv_columns = (*EquipmentAdmin.csv_columns, ("upper_name", lambda eq: eq.name.upper()))

    from django.contrib import admin

    from equipment.models import Equipment

    columns = WithExtra(Equipment, admin.site).get_csv_columns(rf.get("/"))
    assert columns[-1].header == "upper_name"
    assert [c.header for c in columns[:-1]] == [
        CsvColumn.of(c).header for c in EquipmentAdmin.csv_columns
    ]
    assert related_paths(Equipment, columns) == ["facility"]


def test_a_download_cut_short_closes_the_rows_iterator():
    """Closing the stream (a client gone away) closes the rows' iterator at once, and with it
    the database cursor, rather than whenever it is collected."""
    closed = []

    def rows():
        try:
            for n in range(2000):
                yield {"n": n}
        finally:
            closed.append(True)

    stream = csv_rows([CsvColumn("n", lambda row: row["n"])], rows(), model_admin=None)
    assert next(stream).startswith("n\r\n0\r\n1\r\n")  # the header and the first rows
    stream.close()
    assert closed == [True]


def test_plain_columns_are_read_as_values_with_the_same_text(rf, portfolio):
    """Columns that are fields, annotations or fields through foreign keys are read with
    values_list (no model instances); the text is the same as read from the records."""
    from django.contrib import admin

    from equipment.models import Equipment
    from facilities.admin_csv import value_paths

    model_admin = admin.site.get_model_admin(Equipment)
    columns = model_admin.get_csv_columns(rf.get("/"))
    queryset = Equipment.objects.select_related("facility").order_by("pk")
    paths = value_paths(queryset, columns)
    assert paths == [c.source for c in columns]
    from_values = "".join(csv_rows(columns, queryset.values_list(*paths), None, tuples=True))
    from_records = "".join(csv_rows(columns, iter(queryset), model_admin))
    assert from_values == from_records
    assert from_values.count("\r\n") == 6  # the header and five equipment


def test_columns_that_need_the_record_are_read_from_it():
    from equipment.models import Equipment
    from facilities.admin_csv import value_paths

    queryset = Equipment.objects.all()
    assert value_paths(queryset, [CsvColumn.of("facility")]) is None  # the record itself
    assert value_paths(queryset, [CsvColumn.of("facility_id")]) == ["facility_id"]
    assert value_paths(queryset, [CsvColumn.of("deleted")]) is None  # an admin method
    assert value_paths(queryset, [CsvColumn("x", str)]) is None
    assert value_paths(queryset, [CsvColumn.of("conductors__material")]) is None
    assert value_paths(queryset.distinct(), [CsvColumn.of("name")]) is None
    annotated = queryset.annotate(n=models.Count("conductors"))
    assert value_paths(annotated, [CsvColumn.of("n"), CsvColumn.of("facility__name")]) == [
        "n",
        "facility__name",
    ]


def test_a_column_from_a_modeladmin_method_is_plain_text(admin_client, portfolio):
    """A subclass's column may be a display method returning HTML: the export strips it."""
    from django.contrib import admin

    from equipment.models import Equipment

    model_admin = admin.site.get_model_admin(Equipment)
    original = model_admin.csv_columns
    model_admin.csv_columns = (*original, "deleted", ("link", "maintenance_summary"))
    try:
        rows = read_csv(admin_client.get(export_url("equipment_equipment") + "?deleted=yes"))
    finally:
        model_admin.csv_columns = original
    assert len(rows) == 1
    assert rows[0]["deleted"] == "true"
    assert rows[0]["link"] == "0 records — open them in the maintenance list"
