"""Inline SVG charts for the balance report: the burndown line chart and the donut (bar
charts: :mod:`flexbatch.serving.bars`).

Hand-built SVG rather than a plotting library (matplotlib, plotly, altair were weighed):
the report needs four simple shapes, and SVG written here

* adds no dependency (matplotlib would add ~40 MB and half a second of import to every
  ``flexbatch report``; plotly and altair render with JavaScript, which a file that must
  make no network request cannot load from a CDN and should not inline by the megabyte);
* keeps labels as real ``<text>`` in the page's own font, so numbers stay selectable,
  searchable and sharp at any zoom (matplotlib's SVG backend draws glyphs as paths);
* is deterministic byte for byte (no ids, dates or hash salts), so reports diff cleanly.

Values arrive as floats because they only place pixels; the numbers printed in the
report come from exact decimals. Every label is HTML-escaped here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
GREEN = "#16a34a"
RED = "#dc2626"
BLUE = "#2563eb"
AMBER = "#d97706"
SLATE = "#cbd5e1"
RED_TINT = "#fef2f2"


@dataclass(frozen=True)
class Series:
    """One line of a line chart: (day, value) points in day order."""

    label: str
    points: list[tuple[date, float]]
    color: str
    dashed: bool = False


@dataclass(frozen=True)
class Segment:
    """One arc of a donut."""

    label: str
    value: float
    color: str


def coord(value: float) -> str:
    """A coordinate with at most 2 decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_step(span: float, target_ticks: int = 5) -> float:
    """A 1-2-2.5-5 × 10^n step giving about ``target_ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def axis_label(value: float, step: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.{1 if step < 1_000_000 else 0}f}M"
    if abs(value) >= 10_000:
        return f"{value / 1_000:,.{1 if step < 1_000 else 0}f}k"
    decimals = 0 if step >= 1 else min(3, -math.floor(math.log10(step)))
    return f"{value:,.{decimals}f}"


def day_ticks(start: date, end: date) -> list[date]:
    """About six readable day ticks between ``start`` and ``end`` (inclusive)."""
    span = (end - start).days
    if span <= 0:
        return [start]
    if span <= 21:
        step = max(1, round(span / 6))
        return [start + timedelta(days=i) for i in range(0, span + 1, step)]
    if span <= 75:
        first = start + timedelta(days=(7 - start.weekday()) % 7)  # Mondays
        return [first + timedelta(days=i) for i in range(0, (end - first).days + 1, 7)]
    months_between = (end.year - start.year) * 12 + end.month - start.month
    every = max(1, math.ceil(months_between / 7))
    ticks = []
    year, month = start.year, start.month
    while True:
        tick = date(year, month, 1)
        if tick > end:
            break
        if tick >= start and (year * 12 + month) % every == 0:
            ticks.append(tick)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return ticks


def line_chart(
    series: list[Series],
    *,
    x_start: date,
    x_end: date,
    threshold: list[tuple[date, float]] | None = None,
    threshold_label: str = "",
    markers: list[tuple[date, str, str]] | None = None,
    title: str = "",
    width: int = 1080,
    height: int = 320,
) -> str:
    """Lines over days. ``threshold`` is a step line (a value from each day on) with a red
    zone shaded below it; ``markers`` are (day, label, color) vertical lines."""
    left, right, top, bottom = 72, 24, 40, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for s in series for _, v in s.points]
    values.extend(v for _, v in threshold or [])
    low = min([0.0, *values])
    high = max([0.0, *values])
    if high == low:
        high = low + 1
    step = nice_step(high - low)
    low = math.floor(low / step) * step
    high = math.ceil(high * 1.04 / step) * step
    days = max(1, (x_end - x_start).days)

    def x_of(day: date) -> float:
        return left + plot_w * (day - x_start).days / days

    def y_of(value: float) -> float:
        return top + plot_h * (high - value) / (high - low)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    step_path = _step_path(threshold or [], x_of, y_of)
    if step_path:
        first_x, last_x = x_of(threshold[0][0]), x_of(threshold[-1][0])
        parts.append(
            f'<path d="{step_path} L{coord(last_x)},{coord(y_of(low))} '
            f'L{coord(first_x)},{coord(y_of(low))} Z" fill="{RED_TINT}"/>'
        )
    tick = low
    while tick <= high + step / 1000:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{coord(y)}" y2="{coord(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{left - 8}" y="{coord(y + 4)}" text-anchor="end" font-size="12" '
            f'fill="{MUTED}">{escape(axis_label(tick, step))}</text>'
        )
        tick += step
    for day in day_ticks(x_start, x_end):
        x = x_of(day)
        parts.append(
            f'<line x1="{coord(x)}" x2="{coord(x)}" y1="{top + plot_h}" y2="{top + plot_h + 5}" '
            f'stroke="{MUTED}"/><text x="{coord(x)}" y="{top + plot_h + 20}" '
            f'text-anchor="middle" font-size="12" fill="{MUTED}">'
            f"{escape(day.strftime('%d %b'))}</text>"
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{coord(y_of(0))}" y2="{coord(y_of(0))}" '
        f'stroke="{MUTED}" stroke-width="1"/>'
    )
    if step_path:
        parts.append(
            f'<path d="{step_path}" fill="none" stroke="{RED}" stroke-width="1.5" '
            f'stroke-dasharray="6 4"/><text x="{left + plot_w - 4}" '
            f'y="{coord(y_of(threshold[-1][1]) - 6)}" text-anchor="end" font-size="12" '
            f'fill="{RED}">{escape(threshold_label)}</text>'
        )
    label_row = 0
    previous_x = -1e9
    for day, label, color in sorted(markers or [], key=lambda m: m[0]):
        if not x_start <= day <= x_end:
            continue
        x = x_of(day)
        label_row = label_row + 1 if x - previous_x < 7.5 * len(label) + 12 else 0
        previous_x = x
        text_width = 7 * len(label)
        anchor, text_x = ("start", x + 5) if x + 5 + text_width <= left + plot_w else ("end", x - 5)
        parts.append(
            f'<line x1="{coord(x)}" x2="{coord(x)}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{color}" stroke-width="1.5" stroke-dasharray="2 3"/>'
            f'<text x="{coord(text_x)}" y="{top + 12 + 16 * label_row}" font-size="12" '
            f'text-anchor="{anchor}" fill="{color}">{escape(label)}</text>'
        )
    for line in series:
        if not line.points:
            continue
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{coord(x_of(d))},{coord(y_of(v))}"
            for i, (d, v) in enumerate(line.points)
        )
        dash = ' stroke-dasharray="7 5"' if line.dashed else ""
        parts.append(
            f'<path d="{path}" fill="none" stroke="{line.color}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round"{dash}/>'
        )
        if len(line.points) == 1:
            d, v = line.points[0]
            parts.append(
                f'<circle cx="{coord(x_of(d))}" cy="{coord(y_of(v))}" r="3.5" fill="{line.color}"/>'
            )
    legend_x = left
    for line in series:
        dash = ' stroke-dasharray="7 5"' if line.dashed else ""
        parts.append(
            f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="16" y2="16" stroke="{line.color}" '
            f'stroke-width="2.5"{dash}/><text x="{legend_x + 28}" y="20" font-size="13" '
            f'fill="{INK}">{escape(line.label)}</text>'
        )
        legend_x += 40 + 7.5 * len(line.label)
    if step_path:
        parts.append(
            f'<rect x="{coord(legend_x)}" y="9" width="22" height="14" fill="{RED_TINT}" '
            f'stroke="{RED}" stroke-dasharray="3 2"/><text x="{coord(legend_x + 28)}" y="20" '
            f'font-size="13" fill="{INK}">red band (≤ 20 % of purchased)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _step_path(points: list[tuple[date, float]], x_of, y_of) -> str:
    """An SVG path holding each value until the next point (a step-after line)."""
    if not points:
        return ""
    path = [f"M{coord(x_of(points[0][0]))},{coord(y_of(points[0][1]))}"]
    for (_, previous), (day, value) in zip(points, points[1:], strict=False):
        x = coord(x_of(day))
        path.append(f"L{x},{coord(y_of(previous))} L{x},{coord(y_of(value))}")
    return " ".join(path)


def donut(
    segments: list[Segment],
    *,
    center_title: str,
    center_subtitle: str,
    threshold_fraction: float | None = None,
    overdraft: float = 0.0,
    title: str = "",
    size: int = 220,
) -> str:
    """A ring of ``segments`` clockwise from 12 o'clock; ``threshold_fraction`` draws a
    tick at that share of the ring (the 20 % band boundary); ``overdraft`` (uncovered
    usage, beyond everything purchased) is a red outer ring of that share of the total,
    a full ring when it is as large or there is nothing purchased."""
    radius, stroke = size * 0.36, size * 0.12
    centre = size / 2
    circumference = 2 * math.pi * radius
    total = sum(max(0.0, s.value) for s in segments)
    parts = [
        f'<svg class="donut" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<circle cx="{coord(centre)}" cy="{coord(centre)}" r="{coord(radius)}" fill="none" '
        f'stroke="{GRID}" stroke-width="{coord(stroke)}"/>',
    ]
    offset = 0.0
    if total > 0:
        for segment in segments:
            length = circumference * max(0.0, segment.value) / total
            if length <= 0:
                continue
            parts.append(
                f'<circle cx="{coord(centre)}" cy="{coord(centre)}" r="{coord(radius)}" '
                f'fill="none" stroke="{segment.color}" stroke-width="{coord(stroke)}" '
                f'stroke-dasharray="{coord(length)} {coord(circumference - length)}" '
                f'stroke-dashoffset="{coord(-offset)}" '
                f'transform="rotate(-90 {coord(centre)} {coord(centre)})">'
                f"<title>{escape(segment.label)}</title></circle>"
            )
            offset += length
    if overdraft > 0:
        outer = radius + stroke / 2 + 5
        share = min(1.0, overdraft / total) if total > 0 else 1.0
        length = 2 * math.pi * outer * share
        parts.append(
            f'<circle cx="{coord(centre)}" cy="{coord(centre)}" r="{coord(outer)}" fill="none" '
            f'stroke="{RED}" stroke-width="6" stroke-dasharray="{coord(length)} '
            f'{coord(2 * math.pi * outer - length)}" transform="rotate(-90 {coord(centre)} '
            f'{coord(centre)})"><title>overdraft: usage not covered by credits</title></circle>'
        )
    if threshold_fraction is not None and total > 0:
        angle = 2 * math.pi * threshold_fraction - math.pi / 2
        inner, outer = radius - stroke / 2 - 4, radius + stroke / 2 + 4
        x1, y1 = centre + inner * math.cos(angle), centre + inner * math.sin(angle)
        x2, y2 = centre + outer * math.cos(angle), centre + outer * math.sin(angle)
        parts.append(
            f'<line x1="{coord(x1)}" y1="{coord(y1)}" x2="{coord(x2)}" y2="{coord(y2)}" '
            f'stroke="{INK}" stroke-width="2.5"><title>20 % of purchased</title></line>'
        )
    parts.append(
        f'<text x="{coord(centre)}" y="{coord(centre + 2)}" text-anchor="middle" '
        f'font-size="{coord(size * 0.11)}" font-weight="700" '
        f'fill="{RED if overdraft > 0 else INK}">'
        f"{escape(center_title)}</text>"
        f'<text x="{coord(centre)}" y="{coord(centre + size * 0.1)}" text-anchor="middle" '
        f'font-size="{coord(size * 0.06)}" fill="{MUTED}">{escape(center_subtitle)}</text>'
        "</svg>"
    )
    return "".join(parts)
