"""Server-rendered SVG charts: geometry computed here, drawn by templates/_charts.html.

No chart library and no script: a chart is a list of rectangles with labels and a <title>
per bar (the tooltip, and what a screen reader reads with the chart's own title).

Horizontal positions and widths are percentages of the chart's width, vertical ones pixels,
and the SVG has no viewBox: it fills its card's width without being scaled, so its labels
keep their CSS size (12px) at any width instead of shrinking with the drawing. Date labels
are centred under their column, only on columns far enough from the sides that a label cannot
be cut off by the SVG's border, and far enough apart not to overlap (a phone's card is about
320px wide: 6 labels of about 42px).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

HEIGHT = 180  # px, the columns chart
INSET = 1.0  # % of the width kept clear at each side
MAX_TICKS = 6  # date labels under a columns chart (about 55px apart on a phone)
MAX_ROWS = 10
MAX_LABEL = 32  # characters of a row's label shown (the bar's title has it all)
_TOP, _BOTTOM = 22, 28  # px above the plot (the peak) and below it (the date labels)
_ROW_STEP, _ROW_BAR, _ROW_TOP = 34, 14, 22  # px: row pitch, bar thickness, first bar
_EDGE = 7.5  # % of the width a date label's centre keeps from each side (half a label)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float  # % of the width
    y: float  # px
    width: float  # % of the width
    height: float  # px
    label: str
    value: str

    @property
    def short_label(self) -> str:
        return self.label if len(self.label) <= MAX_LABEL else self.label[: MAX_LABEL - 1] + "…"


@dataclass(frozen=True, slots=True)
class Tick:
    x: float  # % of the width, the label's centre
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    height: int
    bars: list[Bar]
    ticks: list[Tick] = field(default_factory=list)
    peak: str = ""
    horizontal: bool = False
    unknown: int = 0  # bars whose value is unknown (an unpriced cost): drawn empty, noted

    @property
    def unknown_note(self) -> str:
        if not self.unknown:
            return ""
        what = "day" if not self.horizontal else "row"
        return f"{self.unknown} {what}{'s' if self.unknown > 1 else ''} of unknown value (no price)"

    @property
    def baseline(self) -> int:
        """The x axis of a columns chart (px from the top)."""
        return self.height - _BOTTOM

    @property
    def inset(self) -> float:
        return INSET

    @property
    def empty(self) -> bool:
        return not any(bar.width > 0 and bar.height > 0.5 for bar in self.bars)


# A value may be unknown (None): a cost with no price is never drawn or written as $0.
Value = float | None
UNKNOWN = "unknown"


def money(value: Value) -> str:
    if value is None:
        return UNKNOWN
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def count(value: Value) -> str:
    return UNKNOWN if value is None else f"{value:,.0f}"


def days(start: date, end: date, values: dict[date, Value]) -> list[tuple[date, Value]]:
    """Every day of [start, end] with its value, zero where nothing happened."""
    span = (end - start).days + 1
    return [(start + timedelta(n), values.get(start + timedelta(n), 0.0)) for n in range(span)]


def columns(title: str, points: Sequence[tuple[date, Value]], fmt: Callable[[Value], str]) -> Chart:
    """One column per day, with at most ``MAX_TICKS`` evenly spaced date labels."""
    plot_h = HEIGHT - _BOTTOM - _TOP
    peak = max((v or 0.0 for _, v in points), default=0.0)
    slot = (100 - 2 * INSET) / max(len(points), 1)
    bars, labelled = [], []
    for i, (day, value) in enumerate(points):
        h = plot_h * (value or 0.0) / peak if peak else 0.0
        left = INSET + i * slot
        bars.append(
            Bar(left + slot * 0.1, _TOP + plot_h - h, slot * 0.8, h, day.isoformat(), fmt(value))
        )
        centre = left + slot / 2
        if _EDGE <= centre <= 100 - _EDGE:
            labelled.append(Tick(centre, day.strftime("%b %d")))
    every = max(1, math.ceil(len(points) / MAX_TICKS))
    unknown = sum(1 for _, v in points if v is None)
    return Chart(title, HEIGHT, bars, labelled[::every], fmt(peak), unknown=unknown)


def rows(
    title: str,
    items: Sequence[tuple[str, Value]],
    fmt: Callable[[Value], str],
    *,
    keep_order: bool = False,
) -> Chart:
    """Horizontal bars for the ``MAX_ROWS`` largest items, the label above each bar: largest
    first, or in the given order with ``keep_order`` (a distribution reads fast to slow)."""
    largest = sorted(range(len(items)), key=lambda n: items[n][1] or 0.0, reverse=True)[:MAX_ROWS]
    chosen = [items[n] for n in (sorted(largest) if keep_order else largest)]
    peak = max((v or 0.0 for _, v in chosen), default=0.0)
    full = 100 - 2 * INSET
    bars = [
        Bar(
            INSET,
            _ROW_TOP + i * _ROW_STEP,
            full * (value or 0.0) / peak if peak else 0.0,
            _ROW_BAR,
            key,
            fmt(value),
        )
        for i, (key, value) in enumerate(chosen)
    ]
    height = _ROW_TOP + _ROW_STEP * max(len(chosen) - 1, 0) + _ROW_BAR + 8
    unknown = sum(1 for _, v in chosen if v is None)
    return Chart(title, height, bars, [], fmt(peak), True, unknown=unknown)
