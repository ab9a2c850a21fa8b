"""Charts as inline SVG, drawn on the server: no script, no CDN, readable without colour alone.

The geometry is computed here; the templates only place the shapes.
"""

import math
from dataclasses import dataclass

WIDTH, HEIGHT = 720, 220
NARROW_WIDTH = 340  # drawn for phones, so the labels keep their size
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28


def _nice_ceiling(value: int) -> int:
    """A round number at or above value (an axis maximum people read easily)."""
    if value <= 0:
        return 1
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if value <= step * exponent:
            return int(step * exponent) if step * exponent >= 1 else 1
    return 10 * exponent


def _short(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:g}M"
    if n >= 1_000:
        return f"{n / 1_000:g}k"
    return str(n)


@dataclass
class Bar:
    x: float
    width: float
    aligned_y: float
    aligned_height: float
    failed_y: float
    failed_height: float
    title: str


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class DailyChart:
    width: int
    height: int
    left: int
    bottom_y: float
    right_x: float
    middle_x: float
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    empty: bool


def daily_chart(per_day, *, width: int = WIDTH) -> DailyChart:
    """Stacked bars per day: messages that passed DMARC (bottom) and that failed (top)."""
    plot_w = width - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_ceiling(max((d.messages for d in per_day), default=0))
    slot = plot_w / max(len(per_day), 1)
    gap = min(2.0, slot * 0.2)
    bars = []
    for i, d in enumerate(per_day):
        aligned_h = plot_h * d.aligned / top
        failed_h = plot_h * d.failed / top
        x = LEFT + i * slot + gap / 2
        base = TOP + plot_h
        bars.append(
            Bar(
                x=round(x, 2),
                width=round(slot - gap, 2),
                aligned_y=round(base - aligned_h, 2),
                aligned_height=round(aligned_h, 2),
                failed_y=round(base - aligned_h - failed_h, 2),
                failed_height=round(failed_h, 2),
                title=f"{d.day:%a %d %b}: {d.messages:,} messages, {d.aligned:,} passed, {d.failed:,} failed",
            )
        )
    y_ticks = [Tick(round(TOP + plot_h - plot_h * f, 2), _short(int(top * f))) for f in (0, 0.5, 1)]
    every = max(1, math.ceil(len(per_day) / (8 if width >= WIDTH else 4)))
    x_ticks = [
        Tick(round(LEFT + i * slot + slot / 2, 2), f"{d.day:%d %b}")
        for i, d in enumerate(per_day)
        if i % every == 0
    ]
    return DailyChart(
        width=width,
        height=HEIGHT,
        left=LEFT,
        bottom_y=TOP + plot_h,
        right_x=width - RIGHT,
        middle_x=LEFT + plot_w / 2,
        bars=bars,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        empty=not any(d.messages for d in per_day),
    )
