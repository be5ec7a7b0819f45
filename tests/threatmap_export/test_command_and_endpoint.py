"""``manage.py export_threatmap`` and ``GET /api/v1/export/threatmap``."""

import json
import os

import pytest
from django.core.management.base import CommandError

from tests import factories as f
from voltmetrics.services import risk_recompute

from .conftest import run_command

URL = "/api/v1/export/threatmap"


def test_command_to_stdout_is_pure_json_with_the_report_on_stderr(demo_portfolio, validate):
    stdout, stderr = run_command()
    doc = json.loads(stdout)
    validate(doc)
    assert f"Exported {len(doc)} facilities (from the stored figures)." in stderr


def test_command_writes_the_file_and_lists_left_out_facilities(
    demo_portfolio, import_doc, tmp_path
):
    nowhere = f.facility(id="fac_nowhere", name="Nowhere Plant")
    del nowhere["latitude"], nowhere["longitude"]
    import_doc(facilities=[nowhere, f.facility(id="fac_empty", name="Empty Lot")],
               equipment=[f.equipment("fac_nowhere")])  # fmt: skip
    risk_recompute()
    out = tmp_path / "threatmap.json"
    stdout, stderr = run_command("--out", str(out))
    doc = json.loads(out.read_text())
    assert stderr == ""
    assert f"Exported {len(doc)} facilities to {out}" in stdout
    assert "Left out 2 facilities" in stdout
    assert "fac_empty  Empty Lot: no counted equipment" in stdout
    assert "fac_nowhere  Nowhere Plant: no coordinates" in stdout
    assert {"fac_nowhere", "fac_empty"}.isdisjoint(e["id"] for e in doc)


@pytest.mark.parametrize("bad", ["2024-13-01", "yesterday", "2024/01/01", "2999-01-01"])
def test_command_refuses_a_bad_date(db, bad):
    with pytest.raises(CommandError, match="as-of"):
        run_command("--as-of", bad)


def test_command_refuses_an_unwritable_path(db, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run_command("--out", str(tmp_path / "missing" / "x.json"))
    with pytest.raises(CommandError, match="is a directory"):
        run_command("--out", str(tmp_path))
    # A directory nobody may create files in (not even root): /proc.
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    with pytest.raises(CommandError, match="Cannot write"):
        run_command("--out", "/proc/threatmap-export.json")


def test_endpoint_returns_what_the_command_writes(demo_portfolio, client, read_key, tmp_path):
    out = tmp_path / "tm.json"
    run_command("--out", str(out))
    for url in (URL, URL + "/"):
        response = client.get(url, HTTP_X_API_KEY=read_key)
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("application/json")
        assert response.json() == json.loads(out.read_text())


def test_endpoint_needs_credentials(db, client):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTH_INVALID_CREDENTIALS"


def test_endpoint_is_an_empty_array_without_data(db, client, read_key):
    response = client.get(URL, HTTP_X_API_KEY=read_key)
    assert response.status_code == 200
    assert response.json() == []


def test_endpoint_is_in_the_openapi_schema(db, client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    op = schema["paths"]["/api/v1/export/threatmap"]["get"]
    body = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert body["type"] == "array"
    assert "topThreats" in body["items"]["required"]
    assert "401" in op["responses"]


def test_endpoint_etag_and_304(demo_portfolio, client, read_key):
    first = client.get(URL, HTTP_X_API_KEY=read_key)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    again = client.get(URL, HTTP_X_API_KEY=read_key, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    risk_recompute()  # same figures: same body, same tag
    assert client.get(URL, HTTP_X_API_KEY=read_key)["ETag"] == first["ETag"]
