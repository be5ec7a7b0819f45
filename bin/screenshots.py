"""Screenshots of the staff console, for docs/screenshots/ (run by ``bin/screenshots``).

Against the database of the environment (``DATABASE_URL``; ``bin/screenshots`` sets up a
demo one when none is given): serves MasterBus on a free loopback port, logs in as a staff
superuser (a session made server-side, as a login would: no password is needed) and saves,
in the light and the dark theme, the admin index (``dashboard``) and the change page of the
facility at highest risk (``facility``). Debian's chromium drives the pages (``CHROMIUM``,
default ``/usr/bin/chromium``); a JavaScript error or a Content-Security-Policy violation on
a page fails the run.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WIDTH = 1280
MAX_HEIGHT = 1800  # longer pages are cut here


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--user", help="staff username (default: the first active superuser)")
    return parser.parse_args()


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "masterbus.settings")
    import django

    django.setup()


def staff_session(username: str | None) -> tuple[str, str]:
    """(username, session key) of a session of a staff superuser."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = get_user_model().objects.filter(is_active=True, is_staff=True, is_superuser=True)
    user = (users.filter(username=username) if username else users.order_by("pk")).first()
    if user is None:
        who = f"named {username!r}" if username else "at all"
        raise SystemExit(
            f"no active staff superuser {who} in this database: "
            "create one with manage.py createsuperuser"
        )
    client = Client()
    client.force_login(user)
    return user.get_username(), client.cookies["sessionid"].value


def pages() -> list[tuple[str, str]]:
    """(name, path) of each page to take."""
    from voltmetrics.models import FacilityAssessment

    shots = [("dashboard", "/admin/")]
    top = (
        FacilityAssessment.objects.filter(risk_score__isnull=False, facility__deleted_at=None)
        .order_by("-risk_score", "facility__name")
        .values_list("facility_id", flat=True)
        .first()
    )
    if top is None:
        print("no computed facility: only the dashboard is taken", file=sys.stderr)
    else:
        shots.append(("facility", f"/admin/facilities/facility/{top}/change/"))
    return shots


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped:\n{server.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer /health within 60 s")


def take(base: str, session: str, shots: list[tuple[str, str]], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        for scheme in ("light", "dark"):
            context = browser.new_context(
                base_url=base,
                color_scheme=scheme,
                viewport={"width": WIDTH, "height": 900},
                locale="en-US",
                timezone_id="UTC",
            )
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            for name, path in shots:
                response = page.goto(path, wait_until="networkidle")
                if response is None or response.status != 200 or "/login/" in page.url:
                    raise SystemExit(f"{path}: no page ({response and response.status})")
                height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
                target = out / (f"{name}.png" if scheme == "light" else f"{name}-{scheme}.png")
                page.screenshot(
                    path=target,
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": WIDTH, "height": height},
                )
                saved.append(target)
            context.close()
        browser.close()
    if errors:
        raise SystemExit("errors in the browser console:\n" + "\n".join(errors))
    return saved


def main() -> int:
    args = parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"needs chromium at {CHROMIUM} (apt-get install chromium)")
    setup_django()
    from django.db import DatabaseError

    try:
        username, session = staff_session(args.user)
        shots = pages()
    except DatabaseError as exc:
        raise SystemExit(f"cannot read the database (is it migrated?): {exc}") from None
    port = free_port()
    server = serve(port)
    try:
        saved = take(f"http://127.0.0.1:{port}", session, shots, args.out)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for path in saved:
        print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"(logged in as {username})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
