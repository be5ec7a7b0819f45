"""bin/prod-smoke's Condoit stand-in (deploy/smoke/condoit_standin.py) is a faithful export API:
MasterBus's own pull pages through it, resumes from its high-water marks, is refused with a
wrong token, and the process stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from condoit.pull import condoit_pull
from facilities.choices import SyncStatus

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "deploy" / "smoke" / "condoit_standin.py"
TOKEN = "standin-test-token"


@pytest.fixture
def standin(tmp_path, settings):
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [sys.executable, str(STANDIN), "--token", TOKEN, "--port-file", str(port_file),
         "--facilities", "2", "--equipment-per-facility", "6", "--seed", "5"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        until = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < until, "the stand-in did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        settings.CONDOIT_URL = url
        settings.CONDOIT_TOKEN = TOKEN
        settings.CONDOIT_PAGE_LIMIT = 3  # several pages per resource: cursors are followed
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        process.stderr.close()


@pytest.mark.django_db
def test_the_pull_pages_through_the_standin_and_resumes_from_its_marks(standin):
    process, url = standin
    first = condoit_pull()
    assert first.status == SyncStatus.SUCCEEDED, first.error
    assert first.rejected == 0
    assert first.created > 2 + 6  # facilities, equipment and their maintenance records
    second = condoit_pull()  # updatedSince = the marks (offsets URL-encoded), inclusive
    assert second.status == SyncStatus.SUCCEEDED, second.error
    assert (second.created, second.updated) == (0, 0)


def test_a_wrong_token_is_refused_and_sigterm_stops_it_cleanly(standin):
    process, url = standin
    request = urllib.request.Request(
        f"{url}/api/export/facilities?limit=1", headers={"Authorization": "Bearer wrong"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert json.loads(refused.value.read())["error"]["code"] == "unauthorized"
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0
