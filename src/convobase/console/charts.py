"""Server-rendered SVG charts: geometry computed here, drawn by templates/_charts.html.

No chart library and no script: a chart is a list of rectangles with labels and a <title>
per bar (the tooltip, and what a screen reader reads with the chart's own title).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

WIDTH = 420
HEIGHT = 180
_LEFT, _BOTTOM, _TOP = 8, 22, 16


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    ticks: list[tuple[float, str]] = field(default_factory=list)
    peak: str = ""
    horizontal: bool = False

    @property
    def empty(self) -> bool:
        return not any(bar.width > 0 and bar.height > 0.5 for bar in self.bars)


def money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def count(value: float) -> str:
    return f"{value:,.0f}"


def days(start: date, end: date, values: dict[date, float]) -> list[tuple[date, float]]:
    """Every day of [start, end] with its value, zero where nothing happened."""
    span = (end - start).days + 1
    return [(start + timedelta(n), values.get(start + timedelta(n), 0.0)) for n in range(span)]


def columns(title: str, points: Sequence[tuple[date, float]], fmt: Callable[[float], str]) -> Chart:
    """One column per day, with a date label about every sixth column."""
    plot_w, plot_h = WIDTH - _LEFT * 2, HEIGHT - _BOTTOM - _TOP
    peak = max((v for _, v in points), default=0.0)
    slot = plot_w / max(len(points), 1)
    bars, ticks = [], []
    every = max(1, len(points) // 6)
    for i, (day, value) in enumerate(points):
        h = plot_h * value / peak if peak else 0.0
        x = _LEFT + i * slot
        bars.append(
            Bar(x + slot * 0.1, _TOP + plot_h - h, slot * 0.8, h, day.isoformat(), fmt(value))
        )
        if i % every == 0:
            ticks.append((x + slot / 2, day.strftime("%b %d")))
    return Chart(title, WIDTH, HEIGHT, bars, ticks, fmt(peak))


def rows(title: str, items: Sequence[tuple[str, float]], fmt: Callable[[float], str]) -> Chart:
    """Horizontal bars, largest first (at most 10), the label above each bar."""
    items = sorted(items, key=lambda item: item[1], reverse=True)[:10]
    peak = max((v for _, v in items), default=0.0)
    step, bar_h, label_w = 30, 14, WIDTH - 40
    bars = [
        Bar(
            _LEFT,
            12 + i * step,
            (label_w - _LEFT) * value / peak if peak else 0.0,
            bar_h,
            key,
            fmt(value),
        )
        for i, (key, value) in enumerate(items)
    ]
    return Chart(title, WIDTH, max(40, 16 + step * len(items)), bars, [], fmt(peak), True)
