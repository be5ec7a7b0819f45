"""Staff log in through the admin's login form, in the browser."""

from axes.models import AccessAttempt
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from .conftest import BROWSER_TEST, PASSWORD

pytestmark = BROWSER_TEST


def test_log_in_through_the_form_and_out(page, staff_user):
    page.goto("/admin/")
    expect(page).to_have_url("/admin/login/?next=/admin/")

    # A wrong password: the form says so, the failure is counted.
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errornote")).to_contain_text(
        "Please enter the correct username and password"
    )
    assert AccessAttempt.objects.get(username="staff").failures_since_start == 1
    staff_user.refresh_from_db()
    assert staff_user.last_login is None

    # The right one: the admin index, as this user.
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url("/admin/")
    expect(page.locator("#user-tools")).to_contain_text("Welcome, staff")
    expect(page.get_by_role("link", name="Facilities").first).to_be_visible()
    staff_user.refresh_from_db()
    assert staff_user.last_login is not None
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    session = Session.objects.get(session_key=session_key)
    assert session.get_decoded()["_auth_user_id"] == str(staff_user.pk)

    # Logging out (a POST from the header) ends that session.
    page.get_by_role("button", name="Log out").click()
    expect(page.locator("#content")).to_contain_text("Logged out")
    assert not Session.objects.filter(session_key=session_key).exists()
