"""The console's server-side SVG charts: geometry, text for screen readers, CSP-safe markup."""

import re

from django.template.loader import render_to_string

from masterbus.charts import bar_chart, line_chart


def test_a_higher_value_is_drawn_higher_and_the_forecast_continues_the_history():
    chart = line_chart(
        [("Jul", 40), ("Aug", 60), ("Sep", 50)], [("Oct", 55), ("Nov", 58)], title="Risk"
    )
    ys = {p.label: p.y for p in chart.points}
    assert ys["Aug"] < ys["Sep"] < ys["Jul"]  # SVG y grows downwards
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs) and len(set(xs)) == 5
    assert chart.history_path.count("M") == 1 and chart.history_path.count("L") == 2
    sep = next(p for p in chart.points if p.label == "Sep")
    assert chart.forecast_path.startswith(f"M{sep.x:.1f},{sep.y:.1f}")
    assert [p.forecast for p in chart.points] == [False, False, False, True, True]


def test_a_month_without_figures_leaves_a_gap_not_a_zero():
    chart = line_chart([("Jul", 40), ("Aug", None), ("Sep", 50)], title="Risk")
    assert chart.history_path.count("M") == 2 and "L" not in chart.history_path
    assert "Aug: no data" in chart.summary
    assert not chart.empty
    assert line_chart([("Jul", None)], title="Risk").empty


def test_bars_are_scaled_to_the_largest():
    chart = bar_chart([("low", 10), ("high", 40, "high"), ("none", 0)], title="Ratings")
    heights = {b.label: b.height for b in chart.bars}
    assert heights["high"] == 4 * heights["low"] and heights["none"] == 0
    assert chart.total == 50
    assert chart.bars[1].css == "high"


def test_rendered_charts_carry_their_numbers_as_text_and_no_inline_style_or_script():
    line = render_to_string(
        "masterbus/charts/line.html",
        {"chart": line_chart([("Jul 2026", 41), ("Aug 2026", 43)], [("Sep 2026", 44)], title="T")},
    )
    bars = render_to_string(
        "masterbus/charts/bars.html", {"chart": bar_chart([("critical", 7, "critical")], title="B")}
    )
    for html in (line, bars):
        assert "<svg" in html and 'role="img"' in html
        assert not re.search(r"\sstyle=", html) and "<script" not in html
    assert "Sep 2026 (forecast)" in line and ">44<" in line and ">41<" in line
    assert "critical: 7" in bars
