"""One set of thresholds: the alert rules of docs/alerts.yml use the numbers of
masterbus/status.py (which ``manage.py status`` and the admin dashboard compare with)."""

import re
from pathlib import Path

import pytest
import yaml

from masterbus import status

RULES = Path(__file__).resolve().parents[2] / "docs" / "alerts.yml"


def rules() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}


def threshold(expr: str) -> float:
    """The number after the comparison ``>`` of a rule's expression (``26 * 3600`` too)."""
    m = re.search(r">\s*([\d\s*]+?)\s*(?:$|and\b)", " ".join(expr.split()))
    assert m, expr
    value = 1
    for factor in m.group(1).split("*"):
        value *= int(factor)
    return value


def duration(text: str) -> int:
    """A Prometheus duration (``30m``, ``24h``, ``5m``) in seconds."""
    n, unit = int(text[:-1]), text[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


@pytest.mark.parametrize(
    ("alert", "constant"),
    [
        ("MasterBusCondoitPullFailing", "PULL_MAX_AGE"),
        ("MasterBusChangesBacklog", "CHANGE_MAX_AGE"),
        ("MasterBusVoltMetricsBacklog", "CHANGE_MAX_AGE"),
        ("MasterBusFullRecomputeMissing", "FULL_RECOMPUTE_MAX_AGE"),
        ("MasterBusQueueBacklog", "QUEUE_MAX"),
    ],
)
def test_the_rules_compare_with_the_status_thresholds(alert, constant):
    assert threshold(rules()[alert]["expr"]) == getattr(status, constant)


def test_voltmetrics_is_unavailable_for_the_status_threshold_before_the_rule_fires():
    rule = rules()["MasterBusVoltMetricsUnavailable"]
    assert "masterbus_voltmetrics_available) == 0" in rule["expr"]
    assert duration(rule["for"]) == status.VOLTMETRICS_MAX_DOWN


def test_the_parser_reads_what_it_should():
    assert threshold("time() - max(x) > 26 * 3600") == 93600
    assert threshold("max by (c) (x) > 900\n  and on () max(y) == 1") == 900
    assert duration("30m") == 1800
