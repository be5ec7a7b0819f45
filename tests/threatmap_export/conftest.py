"""Fixtures of the ThreatMap export tests: a realistic demo portfolio, imported and computed
through the real commands, and a small hand-made world."""

import io
import json
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command

from masterbus.choices import ApiScope
from masterbus.services import api_key_create
from voltmetrics.services import risk_recompute

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "threatmap" / "schemas" / "threatmap-export.schema.json"
)


@pytest.fixture(scope="session")
def export_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.fixture
def validate(export_schema):
    validator = jsonschema.Draft202012Validator(
        export_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    def run(doc):
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:20])

    return run


@pytest.fixture
def demo_portfolio(db, tmp_path):
    """generate_demo_portfolio --facilities 3 --equipment-per-facility 20, imported, computed."""
    path = tmp_path / "demo.json"
    call_command(
        "generate_demo_portfolio", facilities=3, equipment_per_facility=20, seed=7,
        out=str(path), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    call_command("import_condoit", str(path), "--no-progress", stdout=io.StringIO())
    risk_recompute()
    return path


@pytest.fixture
def import_doc(db, import_export):
    """``import_doc(facilities=…, equipment=…, maintenance=…)``: imported by the command."""
    return import_export


@pytest.fixture
def read_key(db):
    _, raw = api_key_create(name="threatmap", scopes=[ApiScope.THREATMAP_READ])
    return raw


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("export_threatmap", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def walk(node, path=()):
    """Yield (path, value) of every value in a JSON document."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))
