"""Charts for the staff console, drawn server-side as inline SVG (no JavaScript, no CDN).

The functions here are pure: they turn numbers into the geometry the templates in
``masterbus/templates/masterbus/charts/`` draw. The SVG carries classes only (no inline
``style``), so it renders under a strict Content-Security-Policy, and its colours come from the
admin's CSS variables (``masterbus/static/masterbus/charts.css``), so it follows the admin's
light and dark themes. Every chart also carries its numbers as text (a ``<title>``/``<desc>``
and a table) for screen readers and for copying.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

WIDTH = 560
HEIGHT = 200
PAD_LEFT = 36
PAD_RIGHT = 24  # room for the last month's label, centred on its point
PAD_TOP = 20  # room for the value written above the highest point or bar
PAD_BOTTOM = 28
INSET = 16  # the line's first and last points stand clear of the axis and its labels

_ids = itertools.count(1)


def _next_id() -> str:
    return f"mb-chart-{next(_ids)}"


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None
    x: float = 0.0
    y: float = 0.0
    forecast: bool = False


@dataclass
class LineChart:
    title: str
    points: list[Point]
    history_path: str
    forecast_path: str
    y_ticks: list[tuple[float, str]]  # (y, label)
    width: int = WIDTH
    height: int = HEIGHT
    y_max: float = 100.0
    unit: str = ""
    summary: str = ""
    plot_left: float = PAD_LEFT
    plot_right: float = WIDTH - PAD_RIGHT
    plot_bottom: float = HEIGHT - PAD_BOTTOM
    dom_id: str = field(default_factory=_next_id)

    @property
    def empty(self) -> bool:
        return all(p.value is None for p in self.points)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    css: str = ""  # an extra class, e.g. the rating ("critical")
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0


@dataclass
class BarChart:
    title: str
    bars: list[Bar]
    width: int = WIDTH
    height: int = HEIGHT
    unit: str = ""
    summary: str = ""
    baseline: float = HEIGHT - PAD_BOTTOM
    dom_id: str = field(default_factory=_next_id)

    @property
    def total(self) -> float:
        return sum(b.value for b in self.bars)


def _fmt(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _path(points: list[Point]) -> str:
    """An SVG path through the points with a value; a gap (None) lifts the pen."""
    parts: list[str] = []
    pen_down = False
    for p in points:
        if p.value is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{p.x:.1f},{p.y:.1f}")
        pen_down = True
    return " ".join(parts)


def line_chart(
    history: list[tuple[str, float | None]],
    forecast: list[tuple[str, float | None]] = (),
    *,
    title: str,
    y_max: float = 100.0,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> LineChart:
    """A line for ``history`` and a dashed continuation for ``forecast`` (both lists of
    (label, value) in time order; a value of None leaves a gap)."""
    labels = [(label, value, False) for label, value in history]
    labels += [(label, value, True) for label, value in forecast]
    n = len(labels)
    left, right = PAD_LEFT, width - PAD_RIGHT
    top, bottom = PAD_TOP, height - PAD_BOTTOM
    top_value = max([y_max] + [v for _, v, _ in labels if v is not None])
    step = (right - left - 2 * INSET) / (n - 1) if n > 1 else 0.0
    points = []
    for i, (label, value, is_forecast) in enumerate(labels):
        x = left + INSET + step * i if n > 1 else (left + right) / 2
        y = bottom - (bottom - top) * (value / top_value) if value is not None else bottom
        points.append(Point(label, value, x, y, is_forecast))
    past = [p for p in points if not p.forecast]
    ahead = [p for p in points if p.forecast]
    # The dashed forecast starts where the history ends, so the two lines meet.
    joined = ([past[-1]] if past and past[-1].value is not None else []) + ahead
    ticks = [
        (bottom - (bottom - top) * (v / top_value), _fmt(round(v)))
        for v in (0, top_value / 2, top_value)
    ]
    text = "; ".join(
        f"{p.label}{' (forecast)' if p.forecast else ''}: {_fmt(p.value)}{unit}" for p in points
    )
    return LineChart(
        title=title,
        points=points,
        history_path=_path(past),
        forecast_path=_path(joined) if ahead else "",
        y_ticks=ticks,
        width=width,
        height=height,
        y_max=top_value,
        unit=unit,
        summary=text,
        plot_left=left,
        plot_right=right,
        plot_bottom=bottom,
    )


def bar_chart(
    bars: list[tuple[str, float] | tuple[str, float, str]],
    *,
    title: str,
    unit: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> BarChart:
    """Vertical bars, one per (label, value[, css class]), scaled to the largest."""
    n = max(1, len(bars))
    left, right = PAD_LEFT, width - PAD_RIGHT
    top, bottom = PAD_TOP, height - PAD_BOTTOM
    slot = (right - left) / n
    bar_width = slot * 0.6
    biggest = max([b[1] for b in bars if b[1] is not None] + [0]) or 1
    out = []
    for i, item in enumerate(bars):
        label, value = item[0], item[1] or 0
        css = item[2] if len(item) > 2 else ""
        h = (bottom - top) * (value / biggest)
        x = left + slot * i + (slot - bar_width) / 2
        out.append(Bar(label, value, css, x, bottom - h, bar_width, h))
    text = "; ".join(f"{b.label}: {_fmt(b.value)}{unit}" for b in out)
    return BarChart(
        title=title, bars=out, width=width, height=height, unit=unit, summary=text, baseline=bottom
    )
