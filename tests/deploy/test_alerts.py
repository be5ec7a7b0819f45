"""docs/alerts.yml is valid Prometheus rules, and docs/alerts.test.yml (one firing and one
quiet case per alert) passes: ``promtool check rules`` and ``promtool test rules``."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES = DOCS / "alerts.yml"
RULE_TESTS = DOCS / "alerts.test.yml"
PROMTOOL = shutil.which("promtool") or shutil.which("promtool", path="/usr/bin:/usr/local/bin")

needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="needs promtool (Debian package prometheus; .ci/run installs it)",
)


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], cwd=DOCS, capture_output=True, text=True, timeout=120)


@needs_promtool
def test_the_rules_check():
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_the_rule_tests_pass():
    done = promtool("test", "rules", RULE_TESTS.name)
    assert done.returncode == 0, done.stdout + done.stderr


def _alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_has_a_severity_and_tells_what_to_do():
    for rule in _alerts():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert (
            "docs/" in rule["annotations"]["description"]
            or "admin" in (rule["annotations"]["description"])
        ), rule["alert"]


def test_every_alert_has_a_firing_and_a_quiet_case():
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - firing == set(), "alerts without a firing case"
    assert names - quiet == set(), "alerts without a quiet case"


def test_the_required_alerts_are_there():
    exprs = " ".join(rule["expr"] for rule in _alerts())
    for family in (
        'masterbus_condoit_last_success_timestamp_seconds{door="pull"}',
        "masterbus_changes_oldest_pending_age_seconds",
        "masterbus_voltmetrics_available",
        "masterbus_webhook_subscription_paused",
        'masterbus_recompute_last_success_timestamp_seconds{kind="full"}',
        'masterbus_http_requests_total{status=~"5.."}',
        "masterbus_queue_length",
    ):
        assert family in exprs, family
