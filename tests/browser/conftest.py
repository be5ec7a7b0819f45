"""The browser tests: Playwright (pytest-playwright) driving Debian's chromium against a live
server (pytest-django's ``live_server``) on the test database.

- One browser for all of them (``browser``, package-scoped here), launched from ``CHROMIUM``
  (default ``/usr/bin/chromium``): the Playwright browser download is never used.
  Without that executable the tests are skipped and listed (tests/conftest.py).
- Each test gets a fresh context and page (``page``, relative URLs go to the live server),
  and fails when any page it opened logged a JavaScript error or a Content-Security-Policy
  violation (``browser_errors``, autouse).
- Data is committed (transactional tests, the migrations' rows restored afterwards), so the
  live server's threads see what the test writes and the test sees what they write.
- Tasks run eagerly in the process (tests/conftest.py) and the recompute debounce is 0 here:
  a change is recomputed right after its commit, inside the request that made it.

Helpers for new browser tests: ``staff_user`` (a superuser with a known password),
``admin_page`` (a page logged in as that user, at the admin index) and ``portfolio`` (a small
portfolio imported through the Condoit file import and computed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from playwright.sync_api import sync_playwright

from condoit.files import import_file
from tests import factories as rf

from . import CHROMIUM

PASSWORD = "correct horse battery staple 42"

# Marks of every browser test module: chromium, the live server on PostgreSQL, committed data.
BROWSER_TEST = [
    pytest.mark.browser,
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


# --- one Playwright and one chromium for this package ------------------------------------
# pytest-playwright's own fixtures are session-scoped: its sync API would keep an asyncio loop
# running in the main thread for the rest of the session. Scoped to this package, the loop
# (and the browser) end with the browser tests.

_ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"


@pytest.fixture(scope="package")
def playwright(django_db_setup):
    """Playwright, while the browser tests run.

    Its sync API keeps an asyncio loop running in this thread, which changes two things for
    Django. It refuses ORM calls from a thread with a running loop unless told it is safe:
    it is here (the test's ORM calls and the browser's requests never share a connection;
    the live server answers from threads of its own), so ``DJANGO_ALLOW_ASYNC_UNSAFE`` is
    set while Playwright runs, and no longer. And database connections become local to the
    loop's context: the test database is set up first, the migrations' rows it serialized
    are handed to the connection the tests will use (for ``serialized_rollback``), and that
    connection is closed before the loop ends (else the test database could not be dropped).
    """
    from django.db import connections

    serialized = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    saved = os.environ.get(_ASYNC_UNSAFE)
    pw = sync_playwright().start()
    os.environ[_ASYNC_UNSAFE] = "true"
    for alias, contents in serialized.items():
        connections[alias]._test_serialized_contents = contents
    yield pw
    connections.close_all()
    if saved is None:
        os.environ.pop(_ASYNC_UNSAFE, None)
    else:
        os.environ[_ASYNC_UNSAFE] = saved
    pw.stop()


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's options (--headed, --slowmo …) with Debian's chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def _recompute_at_once(settings):
    settings.RECOMPUTE_DEBOUNCE_SECONDS = 0
    settings.PORTFOLIO_RULES_DEBOUNCE_SECONDS = 0


@pytest.fixture(scope="package")
def browser_context_args(playwright, device, live_server):
    """Every context: the live server as its base URL (``page.goto("/admin/")``), one
    window size, language and time zone (``--device`` still picks another device)."""
    args = dict(playwright.devices[device]) if device else {}
    return {
        "viewport": {"width": 1280, "height": 900},
        "locale": "en-US",
        "timezone_id": "UTC",
        **args,
        "base_url": live_server.url,
    }


@dataclass
class BrowserErrors:
    """JavaScript errors and CSP violations of every page of one test's browser context."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"{page.url}: uncaught {exc}"))

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.messages.append(f"{msg.location.get('url', '')}: {msg.text}")

    def take(self) -> list[str]:
        taken, self.messages = self.messages, []
        return taken


# Reported by the page itself, so a violation is named even where Chromium's own console
# message is terse; init scripts run whatever the page's policy says.
_REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
                + ` at ${e.sourceFile || document.URL}:${e.lineNumber}`);
});
"""


@pytest.fixture
def context(context):
    context.add_init_script(_REPORT_CSP_VIOLATIONS)
    context.set_default_timeout(10_000)  # the live server answers in well under a second
    return context


@pytest.fixture(autouse=True)
def browser_errors(context):
    """Fails the test when a page of its context logged an error or a CSP violation."""
    errors = BrowserErrors()
    for page in context.pages:
        errors.watch(page)
    context.on("page", errors.watch)
    yield errors
    found = errors.take()
    assert not found, "errors in the browser console:\n" + "\n".join(found)


@pytest.fixture
def staff_user(db):
    User = get_user_model()
    return User.objects.create_superuser(
        username="staff", email="staff@example.com", password=PASSWORD
    )


@pytest.fixture
def admin_page(page, context, staff_user, live_server):
    """A page logged in as ``staff_user`` (a session made server-side, as a login would),
    at the admin index."""
    client = Client()
    client.force_login(staff_user)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page.goto("/admin/")
    return page


@dataclass
class Portfolio:
    """What ``portfolio`` imported, by role."""

    facilities: list[dict]
    equipment: list[dict]
    old_panel: dict  # installed long ago: its install date is the one to fix
    widgets: list[dict]  # of a Condoit class with no mapping: typed "other"


@pytest.fixture
def portfolio(tmp_path) -> Portfolio:
    """Two facilities and their equipment imported through the Condoit file import (the real
    entry point), then computed, as the demo would be."""
    from voltmetrics.services import risk_recompute

    facilities = [rf.facility(id="fac_north", name="North Plant"), rf.facility(id="fac_south")]
    old_panel = rf.equipment(
        "fac_north", id="eq_old_panel", name="Old Panel", installDate="1968-05-01"
    )
    widgets = [
        rf.equipment("fac_north", id="eq_widget_1", equipmentClass="Widget Box"),
        rf.equipment("fac_south", id="eq_widget_2", equipmentClass="WIDGET BOX"),
    ]
    others = [
        rf.equipment("fac_north", id="eq_switchboard", equipmentClass="Switchboard"),
        rf.equipment("fac_south", id="eq_transformer", equipmentClass="Transformer"),
    ]
    equipment = [old_panel, *widgets, *others]
    maintenance = [rf.maintenance(e["id"]) for e in equipment]
    path = rf.write_export(
        tmp_path / "portfolio.json",
        facilities=facilities,
        equipment=equipment,
        maintenance=maintenance,
    )
    run = import_file(path)
    assert (run.created, run.rejected) == (len(facilities) + len(equipment) + len(maintenance), 0)
    risk_recompute()
    return Portfolio(facilities, equipment, old_panel, widgets)
