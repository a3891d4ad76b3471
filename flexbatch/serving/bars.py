"""Bar charts for the balance report: horizontal bars (usage by product, by user) and
bars over days or months stacked by product (usage over time). Inline SVG, like
:mod:`flexbatch.serving.charts` (whose module docstring says why no plotting library)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from flexbatch.serving.charts import BLUE, GRID, INK, MUTED, axis_label, coord, nice_step


@dataclass(frozen=True)
class Bar:
    """One bar: its label, length and the text printed next to it."""

    label: str
    value: float
    text: str
    detail: str = ""


def bar_chart(bars: list[Bar], *, color: str = BLUE, title: str = "", width: int = 520) -> str:
    """Horizontal bars, longest first as given; the text goes right of each bar."""
    label_w, text_w, row_h, top = 175, 200, 36, 6  # 175 px holds 18 characters
    bar_w = width - label_w - text_w
    height = top * 2 + row_h * max(1, len(bars))
    longest = max([b.value for b in bars] + [0.0]) or 1.0
    parts = [
        f'<svg class="bars" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for i, bar in enumerate(bars):
        y = top + i * row_h
        length = max(2.0, bar_w * max(0.0, bar.value) / longest) if bar.value > 0 else 0.0
        parts.append(
            f'<text x="{label_w - 10}" y="{y + 21}" text-anchor="end" font-size="13" '
            f'fill="{INK}">{escape(_clip(bar.label, 18))}<title>{escape(bar.label)}</title>'
            f'</text><rect x="{label_w}" y="{y + 7}" width="{coord(bar_w)}" height="20" rx="3" '
            f'fill="#f3f4f6"/><rect x="{label_w}" y="{y + 7}" width="{coord(length)}" '
            f'height="20" rx="3" fill="{color}"/>'
            f'<text x="{label_w + bar_w + 10}" y="{y + 17}" font-size="13" font-weight="600" '
            f'fill="{INK}">{escape(bar.text)}</text>'
            f'<text x="{label_w + bar_w + 10}" y="{y + 31}" font-size="11" fill="{MUTED}">'
            f"{escape(bar.detail)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Distinct, print-safe colours for stacked products, in a fixed order (deterministic).
PALETTE = (
    "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2",
    "#db2777", "#65a30d", "#9333ea", "#ea580c", "#475569",
)  # fmt: skip


@dataclass(frozen=True)
class Stack:
    """One bar of a stacked chart: its day (or month) and the value of each key."""

    day: date
    values: dict[str, float]


def stacked_bars(
    stacks: list[Stack],
    *,
    keys: list[str],
    labels: dict[str, str],
    x_start: date,
    x_end: date,
    monthly: bool = False,
    title: str = "",
    width: int = 1080,
    height: int = 280,
) -> str:
    """Vertical bars, one per day (or month) from ``x_start`` to ``x_end``, each split
    into ``keys`` stacked bottom-up in that order; a legend of ``labels`` above."""
    left, right, top, bottom = 72, 24, 48, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    slots = _slots(x_start, x_end, monthly)
    index = {day: i for i, day in enumerate(slots)}
    high = max([sum(max(0.0, v) for v in s.values.values()) for s in stacks] + [0.0])
    step = nice_step(high or 1.0)
    high = math.ceil((high or 1.0) * 1.04 / step) * step
    slot_w = plot_w / max(1, len(slots))
    bar_w = max(1.0, slot_w * 0.75)

    def y_of(value: float) -> float:
        return top + plot_h * (high - value) / high

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    tick = 0.0
    while tick <= high + step / 1000:
        y = y_of(tick)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{coord(y)}" y2="{coord(y)}" '
            f'stroke="{GRID}"/><text x="{left - 8}" y="{coord(y + 4)}" text-anchor="end" '
            f'font-size="12" fill="{MUTED}">{escape(axis_label(tick, step))}</text>'
        )
        tick += step
    colors = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(keys)}
    for stack in stacks:
        if stack.day not in index:
            continue
        x = left + slot_w * index[stack.day] + (slot_w - bar_w) / 2
        base = 0.0
        for key in keys:
            value = max(0.0, stack.values.get(key, 0.0))
            if value <= 0:
                continue
            y0, y1 = y_of(base), y_of(base + value)
            parts.append(
                f'<rect x="{coord(x)}" y="{coord(y1)}" width="{coord(bar_w)}" '
                f'height="{coord(max(0.5, y0 - y1))}" fill="{colors[key]}"><title>'
                f"{escape(stack.day.strftime('%b %Y' if monthly else '%d %b %Y'))} · "
                f"{escape(labels.get(key, key))}: {value:,.2f}</title></rect>"
            )
            base += value
    every = max(1, math.ceil(len(slots) / 8))
    for i, day in enumerate(slots):
        if i % every:
            continue
        x = left + slot_w * (i + 0.5)
        parts.append(
            f'<text x="{coord(x)}" y="{top + plot_h + 20}" text-anchor="middle" '
            f'font-size="12" fill="{MUTED}">'
            f"{escape(day.strftime('%b %Y' if monthly else '%d %b'))}</text>"
        )
    legend_x = float(left)
    for key in keys:
        label = _clip(labels.get(key, key), 28)
        parts.append(
            f'<rect x="{coord(legend_x)}" y="10" width="12" height="12" rx="2" '
            f'fill="{colors[key]}"/><text x="{coord(legend_x + 17)}" y="21" font-size="13" '
            f'fill="{INK}">{escape(label)}</text>'
        )
        legend_x += 34 + 8 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def _slots(start: date, end: date, monthly: bool) -> list[date]:
    """Every day, or the first of every month, from ``start`` to ``end``."""
    if not monthly:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    months = (end.year - start.year) * 12 + end.month - start.month
    return [
        date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        for i in range(months + 1)
    ]
