"""demo_setup prints a working threatmap:read key; a re-run retires the previous one."""

import io
import re

import pytest
from django.core.management import call_command

from masterbus.models import ApiKey

from .conftest import READ, key_header

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]


def run_demo():
    out = io.StringIO()
    call_command("demo_setup", facilities=1, equipment_per_facility=2, stdout=out)
    text = out.getvalue()
    m = re.search(r"^  Read API key: (mb_\S+)$", text, re.M)
    assert m, text
    assert f'curl -H "X-API-Key: {m.group(1)}"' in text
    return m.group(1)


def test_demo_setup_prints_a_read_key(client):
    first = run_demo()
    assert client.get(READ, **key_header(first)).status_code == 200
    second = run_demo()
    assert second != first
    assert client.get(READ, **key_header(second)).status_code == 200
    assert client.get(READ, **key_header(first)).status_code == 401
    keys = ApiKey.objects.filter(name="demo read key")
    assert keys.count() == 2 and keys.filter(revoked_at__isnull=True).count() == 1
    assert keys.get(revoked_at__isnull=True).scopes == ["threatmap:read", "events:read"]
    # The printed key reads the event feed too.
    assert client.get("/api/v1/events", {"limit": 1}, **key_header(second)).status_code == 200
