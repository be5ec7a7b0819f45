"""``manage.py create_portfolio`` and ``create_api_key --portfolio`` (consumers.md §6): bad
arguments exit non-zero with a one-line reason and create nothing."""

import io

import pytest
from django.core.management import CommandError, call_command

from consumers.models import Portfolio, PortfolioFacility
from masterbus.models import ApiKey, key_digest

from .conftest import key_client


def run(command, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_then_update_prints_the_facility_count(world):
    out, err = run("create_portfolio", "acme", "--name", "Acme covered sites",
                   "--facility", "fac_alpha", "--rule-city", "Springfield")  # fmt: skip
    assert out == "3\n" and "Created" in err
    p = Portfolio.objects.get(slug="acme")
    assert p.name == "Acme covered sites" and p.rule_city == "Springfield"
    out, err = run("create_portfolio", "acme", "--rule-city", "", "--rule-state", "or")
    assert out == "1\n" and "Updated" in err
    p.refresh_from_db()
    assert p.name == "Acme covered sites" and p.rule_state == "OR" and p.rule_city == ""
    assert set(p.facilities.values_list("external_id", flat=True)) == {"fac_alpha"}
    # Exactly these picks; alpha (Oregon) stays, by the rule now.
    out, _ = run("create_portfolio", "acme", "--facility", "fac_zeta", "--facility", "fac_beta")
    assert out == "3\n"
    assert dict(PortfolioFacility.objects.values_list("facility__external_id", "by_rule")) == {
        "fac_zeta": False, "fac_beta": False, "fac_alpha": True
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["Bad_Slug", "--name", "x"], "slug 'Bad_Slug'"),
        (["a" * 51, "--name", "x"], "slug"),
        (["new-one"], "--name is needed"),
        (["new-one", "--name", " "], "name is empty"),
        (["new-one", "--name", "x", "--facility", "fac_nope"], "unknown facility id(s): fac_nope"),
        (["new-one", "--name", "x", "--facility", "fac_gone"], "unknown facility id(s): fac_gone"),
        (["new-one", "--name", "x", "--rule-state", "Illinois"], "two-letter state"),
    ],
)
def test_bad_portfolio_arguments_fail_with_one_line_and_create_nothing(world, args, reason):
    with pytest.raises(CommandError) as exc:
        run("create_portfolio", *args)
    assert reason in str(exc.value) and "\n" not in str(exc.value)
    assert not Portfolio.objects.exists() and not PortfolioFacility.objects.exists()


def test_create_api_key_binds_portfolios_and_prints_the_key_alone(world):
    run("create_portfolio", "north", "--name", "North", "--facility", "fac_zeta")
    run("create_portfolio", "west", "--name", "West", "--facility", "fac_alpha")
    out, err = run("create_api_key", "--name", "insurer", "--scope", "threatmap:read",
                   "--scope", "events:read", "--portfolio", "north", "--portfolio", "west",
                   "--expires", "2099-12-31", "--rate-limit", "500")  # fmt: skip
    raw = out.removesuffix("\n")
    assert out == raw + "\n" and raw.startswith("mb_") and raw not in err
    assert "portfolios north, west" in err
    key = ApiKey.objects.get(digest=key_digest(raw))
    assert key.scopes == ["threatmap:read", "events:read"] and key.rate_limit_per_minute == 500
    assert sorted(key.portfolios.values_list("slug", flat=True)) == ["north", "west"]
    facilities = key_client(raw).get("/api/v1/facilities").json()["facilities"]
    assert sorted(f["id"] for f in facilities) == ["fac_alpha", "fac_zeta"]


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--portfolio", "nope"], "unknown portfolio(s): nope"),
        (["--portfolio", "north", "--portfolio", "Bad Slug"], "unknown portfolio(s): Bad Slug"),
        (["--portfolio", "north", "--scope", "threatmap:write"], "Unknown scope(s)"),
    ],
)
def test_bad_key_arguments_create_no_key(world, args, reason):
    run("create_portfolio", "north", "--name", "North", "--facility", "fac_zeta")
    with pytest.raises(CommandError) as exc:
        run("create_api_key", "--name", "k", "--scope", "threatmap:read", *args)
    assert reason in str(exc.value) and "no key created" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert not ApiKey.objects.exists()
