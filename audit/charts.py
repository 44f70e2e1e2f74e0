"""Draw small bar charts as inline SVG, on the server, for pages that must work without JS.

The SVG uses presentation attributes (fill=, font-size=) and classes styled from
static/css/site.css, never style attributes or <style> elements: the CSP allows no
inline styles. Every bar carries a <title>, which browsers show as a tooltip and
screen readers announce; pages also print the figures as a table.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
FONT_SIZE = 11
# Rough advance of one character at FONT_SIZE, for laying out labels and the legend.
CHAR_WIDTH = 6.6
AXIS_COLOUR = "#5b6474"
GRID_COLOUR = "#dfe3ea"

ValueFormat = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    """One stacked layer of a bar chart: a legend entry and a value per bar."""

    name: str
    colour: str
    values: Sequence[float]


def whole(value: float) -> str:
    return f"{value:,.0f}"


def nice_ticks(maximum: float, *, count: int = 4) -> list[float]:
    """Return evenly spaced round tick values from 0 to at least `maximum`."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    top = step * math.ceil(maximum / step - 1e-9)
    return [round(step * i, 10) for i in range(round(top / step) + 1)]


def tick_label(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2g}"


def _text(x: float, y: float, content: str, *, anchor: str = "start", css: str = "") -> str:
    css_attr = f' class="{css}"' if css else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{FONT_SIZE}"'
        f"{css_attr}>{escape(content)}</text>"
    )


def _open_svg(*, chart_id: str, title: str, summary: str, width: float, height: float) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>'
    )


def _shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _legend(
    series: Sequence[Series], *, x: float, y: float, width: float
) -> tuple[list[str], float]:
    """Return legend parts laid out in rows from (x, y), and the height they take."""
    parts = []
    cursor_x, cursor_y = x, y
    for layer in series:
        entry_width = 16 + len(layer.name) * CHAR_WIDTH + 18
        if cursor_x + entry_width > width and cursor_x > x:
            cursor_x, cursor_y = x, cursor_y + 18
        parts.append(
            f'<rect x="{cursor_x:.1f}" y="{cursor_y - 9:.1f}" width="11" height="11" rx="2" '
            f'fill="{layer.colour}"/>'
        )
        parts.append(_text(cursor_x + 16, cursor_y, layer.name, css="legend"))
        cursor_x += entry_width
    return parts, cursor_y - y + 18


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    x_label: str,
    value_format: ValueFormat = whole,
    width: int = WIDTH,
    height: int = 280,
    empty_text: str = "No data",
) -> SafeString:
    """Return an SVG chart with one bar per label, the series stacked bottom to top."""
    totals = [sum(layer.values[i] for layer in series) for i in range(len(labels))]
    grand_total = sum(totals)
    summary = (
        f"{title}: {len(labels)} bars, "
        + ", ".join(f"{layer.name} {value_format(sum(layer.values))}" for layer in series)
        + "."
    )
    parts = [_open_svg(chart_id=chart_id, title=title, summary=summary, width=width, height=height)]
    legend, legend_height = (
        _legend(series, x=56, y=14, width=width) if len(series) > 1 else ([], 0.0)
    )
    parts += legend

    left, right = 56.0, width - 12.0
    top, bottom = 12.0 + legend_height, height - 44.0
    ticks = nice_ticks(max(totals, default=0))
    scale = (bottom - top) / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        parts.append(
            f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, tick_label(tick), anchor="end", css="tick"))
    parts.append(
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(
        f'<text x="14" y="{(top + bottom) / 2:.1f}" text-anchor="middle" font-size="{FONT_SIZE}" '
        f'class="axis-label" transform="rotate(-90 14 {(top + bottom) / 2:.1f})">'
        f"{escape(y_label)}</text>"
    )

    band = (right - left) / max(1, len(labels))
    bar_width = max(1.0, band * 0.72)
    # Label every k-th bar so that labels never overlap.
    longest = max((len(label) for label in labels), default=1)
    every = max(1, math.ceil((longest * CHAR_WIDTH + 8) / band))
    for index, label in enumerate(labels):
        x = left + index * band + (band - bar_width) / 2
        base = bottom
        for layer in series:
            value = layer.values[index]
            if value <= 0:
                continue
            bar_height = value * scale
            base -= bar_height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar_width:.1f}" '
                f'height="{bar_height:.1f}" fill="{layer.colour}">'
                f"<title>{escape(f'{label} · {layer.name}: {value_format(value)}')}</title></rect>"
            )
        if (len(labels) - 1 - index) % every == 0:
            parts.append(_text(x + bar_width / 2, bottom + 16, label, anchor="middle", css="tick"))
    parts.append(
        f'<line x1="{left:.1f}" x2="{right:.1f}" y1="{bottom:.1f}" y2="{bottom:.1f}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(_text((left + right) / 2, height - 6, x_label, anchor="middle", css="axis-label"))
    if not grand_total:
        parts.append(
            _text((left + right) / 2, (top + bottom) / 2, empty_text, anchor="middle", css="empty")
        )
    parts.append("</svg>")
    # Every piece of text was escaped above; numbers and colours come from this module.
    return mark_safe("".join(parts))  # noqa: S308


def horizontal_bar_chart(
    *,
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float]],
    colour: str,
    x_label: str,
    value_format: ValueFormat = whole,
    width: int = WIDTH,
    empty_text: str = "No data",
    links: Sequence[str | None] | None = None,
) -> SafeString:
    """Return an SVG chart with one labelled horizontal bar per (label, value) row.

    With `links`, each row (label, bar and value) links to the URL at its index.
    """
    row_height = 24
    label_width = 170.0
    left, right = label_width + 8, width - 40.0
    top = 8.0
    height = top + max(1, len(rows)) * row_height + 36
    summary = f"{title}: " + (
        "; ".join(f"{label} {value_format(value)}" for label, value in rows) or empty_text
    )
    parts = [_open_svg(chart_id=chart_id, title=title, summary=summary, width=width, height=height)]
    maximum = max((value for _, value in rows), default=0)
    ticks = nice_ticks(maximum)
    scale = (right - left) / ticks[-1]
    bottom = top + max(1, len(rows)) * row_height
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
            f'stroke="{GRID_COLOUR}" stroke-width="1"/>'
        )
        parts.append(_text(x, bottom + 14, tick_label(tick), anchor="middle", css="tick"))
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        bar = value * scale
        link = links[index] if links else None
        if link:
            parts.append(f'<a href="{escape(link)}">')
        parts.append(
            _text(label_width, y + row_height / 2 + 4, _shorten(label, 26), anchor="end", css="row")
        )
        parts.append(
            f'<rect x="{left:.1f}" y="{y + 4:.1f}" width="{bar:.1f}" '
            f'height="{row_height - 8}" fill="{colour}">'
            f"<title>{escape(f'{label}: {value_format(value)}')}</title></rect>"
        )
        parts.append(
            _text(left + bar + 6, y + row_height / 2 + 4, value_format(value), css="value")
        )
        if link:
            parts.append("</a>")
    parts.append(
        f'<line x1="{left:.1f}" x2="{left:.1f}" y1="{top:.1f}" y2="{bottom:.1f}" '
        f'stroke="{AXIS_COLOUR}" stroke-width="1"/>'
    )
    parts.append(_text((left + right) / 2, height - 4, x_label, anchor="middle", css="axis-label"))
    if not rows:
        parts.append(
            _text((left + right) / 2, top + row_height / 2 + 4, empty_text, anchor="middle")
        )
    parts.append("</svg>")
    # Every piece of text was escaped above; numbers and colours come from this module.
    return mark_safe("".join(parts))  # noqa: S308
