"""The monthly collection-rate chart as hand-written inline SVG (no plotting library).

Bars: the rate by amount; a line with markers: the rate by households; a percent axis with
gridlines, month labels under the bars and a legend above the plot. Month labels are rotated when
they do not fit their slot, and thinned out when even rotated ones would touch. Geometry is in
SVG user units (the viewBox); the document scales it to the page.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Final

WIDTH: Final = 680
PLOT_HEIGHT: Final = 220
FONT_SIZE: Final = 11
TOP: Final = 40  # room for the legend
RIGHT: Final = 12
MIN_LEFT: Final = 44  # room for "100%"
BAR_COLOUR: Final = "#4e79a7"
LINE_COLOUR: Final = "#e07b39"
GRID_COLOUR: Final = "#d9d9d9"
AXIS_COLOUR: Final = "#333333"
TEXT_COLOUR: Final = "#1a1a1a"

_FONTS: Final[dict[str, str]] = {
    "zh_TW": "'Noto Sans CJK TC', 'Noto Sans CJK SC', sans-serif",
    "zh_HK": "'Noto Sans CJK HK', 'Noto Sans CJK TC', sans-serif",
}
_DEFAULT_FONT: Final = "'Noto Sans CJK SC', 'DejaVu Sans', sans-serif"


@dataclass(frozen=True)
class ChartPoint:
    label: str
    by_amount: Decimal | None  # a fraction, 0.8333; None when nothing was billed
    by_households: Decimal | None


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Rough advance width: CJK and other wide characters one em, the rest about half an em."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("W", "F"))
    return (wide + (len(text) - wide) * 0.58) * size


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


def collection_chart(
    points: list[ChartPoint], amount_name: str, households_name: str, locale: str, title: str = ""
) -> str:
    """The chart as an ``<svg>`` element (text escaped), ready to place in a template."""
    if not points:
        raise ValueError("a chart needs at least one month")
    font = _FONTS.get(locale, _DEFAULT_FONT)
    rates = [r for p in points for r in (p.by_amount, p.by_households) if r is not None]
    top_percent = max(100, math.ceil(max((float(r) * 100 for r in rates), default=0) / 20) * 20)

    # X axis labels: horizontal when they fit their slot, else rotated 45°, thinned when crowded.
    label_width = max(text_width(p.label) for p in points)
    left = float(MIN_LEFT)
    slot = (WIDTH - left - RIGHT) / len(points)
    rotated = label_width + 6 > slot
    step = 1
    if rotated:
        step = max(1, math.ceil(FONT_SIZE * 1.5 / slot))
        # The first label runs down-left from its slot's centre: keep it on the canvas.
        left = max(left, label_width * math.cos(math.radians(45)) - slot / 2 + 6)
        slot = (WIDTH - left - RIGHT) / len(points)
    label_depth = label_width * math.sin(math.radians(45)) + FONT_SIZE if rotated else FONT_SIZE * 1.6
    bottom = TOP + PLOT_HEIGHT
    height = math.ceil(bottom + 8 + label_depth + 6)

    def y_of(rate: Decimal) -> float:
        return bottom - PLOT_HEIGHT * float(rate) * 100 / top_percent

    def x_of(index: int) -> float:
        return left + slot * (index + 0.5)

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" class="chart" role="img" aria-label="{escape(title)}" '
        f'font-family="{escape(font)}" font-size="{FONT_SIZE}" fill="{TEXT_COLOUR}">'
    ]
    # Gridlines and percent ticks.
    for percent in range(0, top_percent + 1, 20):
        y = bottom - PLOT_HEIGHT * percent / top_percent
        colour = AXIS_COLOUR if percent == 0 else GRID_COLOUR
        out.append(
            f'<line x1="{_num(left)}" y1="{_num(y)}" x2="{WIDTH - RIGHT}" y2="{_num(y)}" '
            f'stroke="{colour}" stroke-width="{1 if percent == 0 else 0.6}"/>'
        )
        out.append(f'<text x="{_num(left - 6)}" y="{_num(y + FONT_SIZE * 0.35)}" text-anchor="end">{percent}%</text>')
    out.append(f'<line x1="{_num(left)}" y1="{TOP - 4}" x2="{_num(left)}" y2="{bottom}" stroke="{AXIS_COLOUR}"/>')

    # Bars: by amount.
    bar = min(slot * 0.55, 40.0)
    for i, point in enumerate(points):
        if point.by_amount is None:
            continue
        y = y_of(point.by_amount)
        out.append(
            f'<rect x="{_num(x_of(i) - bar / 2)}" y="{_num(y)}" width="{_num(bar)}" '
            f'height="{_num(bottom - y)}" fill="{BAR_COLOUR}"><title>{escape(point.label)} '
            f"{escape(amount_name)} {_percent(point.by_amount)}</title></rect>"
        )

    # Line: by households, broken where a month has nothing billed.
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for i, point in enumerate(points):
        if point.by_households is None:
            segment = []
            segments.append(segment)
            continue
        segment.append(f"{_num(x_of(i))},{_num(y_of(point.by_households))}")
    for seg in segments:
        if len(seg) > 1:
            out.append(
                f'<polyline points="{" ".join(seg)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2" '
                'stroke-linejoin="round"/>'
            )
    for i, point in enumerate(points):
        if point.by_households is not None:
            out.append(
                f'<circle cx="{_num(x_of(i))}" cy="{_num(y_of(point.by_households))}" r="3.2" fill="white" '
                f'stroke="{LINE_COLOUR}" stroke-width="1.8"><title>{escape(point.label)} '
                f"{escape(households_name)} {_percent(point.by_households)}</title></circle>"
            )

    # Month labels.
    for i, point in enumerate(points):
        if i % step:
            continue
        x = x_of(i)
        out.append(f'<line x1="{_num(x)}" y1="{bottom}" x2="{_num(x)}" y2="{bottom + 4}" stroke="{AXIS_COLOUR}"/>')
        if rotated:
            y = bottom + 8 + FONT_SIZE * 0.7
            out.append(
                f'<text x="{_num(x)}" y="{_num(y)}" text-anchor="end" '
                f'transform="rotate(-45 {_num(x)} {_num(y)})">{escape(point.label)}</text>'
            )
        else:
            out.append(
                f'<text x="{_num(x)}" y="{_num(bottom + 8 + FONT_SIZE)}" text-anchor="middle">'
                f"{escape(point.label)}</text>"
            )

    # Legend, above the plot on the left.
    legend_y = 14
    x = left
    out.append(f'<rect x="{_num(x)}" y="{legend_y - 8}" width="14" height="10" fill="{BAR_COLOUR}"/>')
    out.append(f'<text x="{_num(x + 20)}" y="{legend_y + 1}">{escape(amount_name)}</text>')
    x += 20 + text_width(amount_name) + 24
    out.append(
        f'<line x1="{_num(x)}" y1="{legend_y - 3}" x2="{_num(x + 18)}" y2="{legend_y - 3}" '
        f'stroke="{LINE_COLOUR}" stroke-width="2"/>'
    )
    out.append(
        f'<circle cx="{_num(x + 9)}" cy="{legend_y - 3}" r="3.2" fill="white" stroke="{LINE_COLOUR}" '
        'stroke-width="1.8"/>'
    )
    out.append(f'<text x="{_num(x + 24)}" y="{legend_y + 1}">{escape(households_name)}</text>')
    out.append("</svg>")
    return "\n".join(out)
