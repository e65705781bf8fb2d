"""Small inline SVG charts for the programme report, drawn on the server (report adapter).

No script and no external reference: each chart is one `<svg>` element with a `<title>` for
screen readers. Every word on a chart is handed in by the caller (from the language's
templates); values are escaped here, so the result can be dropped into an HTML page as is.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

HELD = "#2f6690"
PROMISED = "#d1495b"
GROUPS = ("#2f6690", "#e0a458")  # mentors, mentees
GRID = "#d9dde3"
INK = "#30343f"
MUTED = "#6b7280"
FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""


def _n(value: float) -> str:
    """Coordinates with at most one decimal, never '-0'."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _ticks(top: float) -> list[int]:
    """Three to six whole-number grid lines up to at least `top`."""
    top = max(top, 1)
    step = max(1, math.ceil(top / 5))
    for nice in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if nice >= step:
            step = nice
            break
    count = math.ceil(top / step)
    return [i * step for i in range(count + 1)]


def meetings_chart(months: Sequence[tuple[str, int, float]], *, title: str, held_label: str,
                   promised_label: str, width: int = 760, height: int = 280) -> Markup:
    """Bars of meetings held per month, and the cadence's promise as a line of steps.

    `months` holds (label, held, promised) in order; labels are already in the reader's
    language (e.g. "Sep", "Jan 27").
    """
    left, right, top, bottom = 40, 12, 34, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([0.0, *(h for _, h, _ in months), *(p for _, _, p in months)])
    ticks = _ticks(peak)
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(months), 1)
    bar = max(slot * 0.62, 2)
    parts = [f'<svg viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="{escape(title)}" class="chart" {FONT}>',
             f"<title>{escape(title)}</title>"]
    for tick in ticks:
        y = top + plot_h - tick * scale
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y)}" y2="{_n(y)}" '
                     f'stroke="{GRID}" stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{_n(y + 4)}" text-anchor="end" font-size="11" '
                     f'fill="{MUTED}">{tick}</text>')
    steps = []
    for i, (label, held, promised) in enumerate(months):
        x = left + i * slot
        height_held = held * scale
        y = top + plot_h - height_held
        parts.append(f'<rect x="{_n(x + (slot - bar) / 2)}" y="{_n(y)}" width="{_n(bar)}" '
                     f'height="{_n(height_held)}" fill="{HELD}" rx="2">'
                     f"<title>{escape(label)}: {held}</title></rect>")
        if held:  # inside the bar when it is tall enough, so the promise line never hides it
            inside = height_held >= 20
            parts.append(f'<text x="{_n(x + slot / 2)}" y="{_n(y + 15 if inside else y - 4)}" '
                         f'text-anchor="middle" font-size="11" font-weight="600" '
                         f'fill="{"#ffffff" if inside else INK}">{held}</text>')
        parts.append(f'<text x="{_n(x + slot / 2)}" y="{height - bottom + 16}" '
                     f'text-anchor="middle" font-size="11" fill="{MUTED}">{escape(label)}</text>')
        y_promise = top + plot_h - promised * scale
        steps.append(f"{_n(x)},{_n(y_promise)} {_n(x + slot)},{_n(y_promise)}")
    if steps:
        parts.append(f'<polyline points="{" ".join(steps)}" fill="none" stroke="{PROMISED}" '
                     f'stroke-width="2" stroke-dasharray="6 4"/>')
    # Legend, top left.
    parts.append(f'<rect x="{left}" y="8" width="12" height="12" fill="{HELD}" rx="2"/>'
                 f'<text x="{left + 18}" y="18" font-size="12" fill="{INK}">'
                 f"{escape(held_label)}</text>")
    offset = left + 30 + 7 * len(held_label)
    parts.append(f'<line x1="{offset}" x2="{offset + 22}" y1="14" y2="14" stroke="{PROMISED}" '
                 f'stroke-width="2" stroke-dasharray="6 4"/>'
                 f'<text x="{offset + 28}" y="18" font-size="12" fill="{INK}">'
                 f"{escape(promised_label)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def distribution_chart(groups: Sequence[tuple[str, Sequence[int] | None]], *, title: str,
                       hidden_label: str, scale_labels: Sequence[str] = ("1", "2", "3", "4", "5"),
                       width: int = 300, height: int = 150) -> Markup:
    """Grouped bars for the answers 1–5: one bar per group (mentors, mentees) and answer.

    Bars show each group's share of its own respondents, so groups of different sizes compare;
    the count is written above each bar. A group given as None (too few respondents) draws no
    bars, only `hidden_label` in the legend, so nobody can read a small group off the chart.
    """
    left, right, top, bottom = 6, 6, 38, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / 5
    shown = [(label, counts) for label, counts in groups]
    bar = min(26.0, slot * 0.8 / max(len(shown), 1))
    parts = [f'<svg viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-label="{escape(title)}" class="chart" {FONT}>',
             f"<title>{escape(title)}</title>",
             f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
             f'stroke="{GRID}" stroke-width="1"/>']
    for g, (label, counts) in enumerate(shown):
        colour = GROUPS[g % len(GROUPS)]
        y_legend = 8 + g * 16
        text = label if counts is not None else f"{label}: {hidden_label}"
        parts.append(f'<rect x="{left}" y="{y_legend}" width="11" height="11" rx="2" '
                     f'fill="{colour if counts is not None else "none"}" stroke="{colour}"/>'
                     f'<text x="{left + 17}" y="{y_legend + 10}" font-size="11" '
                     f'fill="{INK if counts is not None else MUTED}">{escape(text)}</text>')
    for answer in range(5):
        x0 = left + answer * slot + (slot - bar * len(shown)) / 2
        for g, (label, counts) in enumerate(shown):
            if counts is None:
                continue
            total = sum(counts) or 1
            share = counts[answer] / total
            h = share * (plot_h - 14)
            x, y = x0 + g * bar, top + plot_h - h
            parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar - 2)}" height="{_n(h)}" '
                         f'fill="{GROUPS[g % len(GROUPS)]}" rx="2">'
                         f"<title>{escape(label)} · {escape(scale_labels[answer])}: "
                         f"{counts[answer]}</title></rect>")
            if counts[answer]:
                parts.append(f'<text x="{_n(x + (bar - 2) / 2)}" y="{_n(y - 3)}" '
                             f'text-anchor="middle" font-size="10" fill="{INK}">'
                             f"{counts[answer]}</text>")
        parts.append(f'<text x="{_n(left + answer * slot + slot / 2)}" y="{height - 8}" '
                     f'text-anchor="middle" font-size="11" fill="{MUTED}">'
                     f"{escape(scale_labels[answer])}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
