"""Lay out small bar charts for inline SVG, on the server, for pages that must work without JS.

This module only computes geometry and text; templates/admin/audit/chart.svg draws it,
so every label goes through the template engine's autoescaping. The SVG uses
presentation attributes (fill=, font-size=) and classes styled from static/css/site.css,
never style attributes or <style> elements: the CSP allows no inline styles. Every bar
carries a <title>, which browsers show as a tooltip and screen readers announce; pages
also print the figures as a table.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

TEMPLATE = "admin/audit/chart.svg"
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


@dataclass(frozen=True)
class Text:
    """A line of text at (x, y); `vertical` turns it a quarter anticlockwise about that point."""

    x: float
    y: float
    content: str
    anchor: str = "start"
    css: str = ""
    vertical: bool = False


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: str


@dataclass(frozen=True)
class Rect:
    """A filled rectangle; `title` is its tooltip (none for a legend swatch)."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str = ""
    rounded: bool = False


@dataclass(frozen=True)
class Row:
    """One row of a horizontal bar chart: its label, bar and value, linked together."""

    label: Text
    bar: Rect
    value: Text
    link: str | None = None


@dataclass(frozen=True)
class Chart:
    """Everything the chart template draws, back to front, in the SVG's own units."""

    chart_id: str
    title: str
    summary: str
    width: int
    height: int
    font_size: int = FONT_SIZE
    grid: list[Line] = field(default_factory=list)
    legend: list[tuple[Rect, Text]] = field(default_factory=list)
    bars: list[Rect] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    axes: list[Line] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)

    @property
    def has_links(self) -> bool:
        """Whether any row links somewhere (the template then draws a group, not an image)."""
        return any(row.link for row in self.rows)


def whole(value: float) -> str:
    return f"{value:,.0f}"


def nice_ticks(maximum: float, *, count: int = 4, whole: bool = False) -> list[float]:
    """Return evenly spaced round tick values from 0 to at least `maximum`.

    With `whole`, every tick is a whole number: a count of 1 has no tick at 0.25.
    """
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    if whole:
        raw = max(raw, 1.0)
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (m * magnitude for m in (1, 2, 2.5, 5, 10))
    step = next(s for s in steps if s >= raw and (not whole or float(s).is_integer()))
    top = step * math.ceil(maximum / step - 1e-9)
    return [round(step * i, 10) for i in range(round(top / step) + 1)]


def tick_label(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2g}"


def at(value: float) -> float:
    """Round a coordinate to a tenth of a unit: finer is invisible and only lengthens the SVG."""
    return round(float(value), 1)


def grid_line(x1: float, y1: float, x2: float, y2: float) -> Line:
    return Line(at(x1), at(y1), at(x2), at(y2), GRID_COLOUR)


def axis_line(x1: float, y1: float, x2: float, y2: float) -> Line:
    return Line(at(x1), at(y1), at(x2), at(y2), AXIS_COLOUR)


def text(x: float, y: float, content: str, **options) -> Text:
    return Text(at(x), at(y), content, **options)


def shorten(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def legend(
    series: Sequence[Series], *, x: float, y: float, width: float
) -> tuple[list[tuple[Rect, Text]], float]:
    """Return legend entries laid out in rows from (x, y), and the height they take."""
    entries = []
    cursor_x, cursor_y = x, y
    for layer in series:
        entry_width = 16 + len(layer.name) * CHAR_WIDTH + 18
        if cursor_x + entry_width > width and cursor_x > x:
            cursor_x, cursor_y = x, cursor_y + 18
        swatch = Rect(at(cursor_x), at(cursor_y - 9), 11, 11, layer.colour, rounded=True)
        entries.append((swatch, text(cursor_x + 16, cursor_y, layer.name, css="legend")))
        cursor_x += entry_width
    return entries, cursor_y - y + 18


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
) -> Chart:
    """Return a chart with one bar per label, the series stacked bottom to top."""
    totals = [sum(layer.values[i] for layer in series) for i in range(len(labels))]
    summary = ngettext(
        "%(title)s: %(bars)d bar; %(totals)s.", "%(title)s: %(bars)d bars; %(totals)s.", len(labels)
    ) % {
        "title": title,
        "bars": len(labels),
        "totals": ", ".join(f"{layer.name} {value_format(sum(layer.values))}" for layer in series),
    }
    chart = Chart(chart_id=chart_id, title=title, summary=summary, width=width, height=height)
    legend_height = 0.0
    if len(series) > 1:
        entries, legend_height = legend(series, x=56, y=14, width=width)
        chart.legend.extend(entries)

    left, right = 56.0, width - 12.0
    top, bottom = 12.0 + legend_height, height - 44.0
    # Counts (shown whole) get whole ticks; other figures (seconds) may have fractions.
    ticks = nice_ticks(max(totals, default=0), whole=value_format is whole)
    scale = (bottom - top) / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        chart.grid.append(grid_line(left, y, right, y))
        chart.texts.append(text(left - 6, y + 4, tick_label(tick), anchor="end", css="tick"))
    chart.axes.append(axis_line(left, top, left, bottom))
    chart.texts.append(
        text(14, (top + bottom) / 2, y_label, anchor="middle", css="axis-label", vertical=True)
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
            chart.bars.append(
                Rect(
                    at(x),
                    at(base),
                    at(bar_width),
                    at(bar_height),
                    layer.colour,
                    title=f"{label} · {layer.name}: {value_format(value)}",
                )
            )
        if (len(labels) - 1 - index) % every == 0:
            chart.texts.append(
                text(x + bar_width / 2, bottom + 16, label, anchor="middle", css="tick")
            )
    chart.axes.append(axis_line(left, bottom, right, bottom))
    chart.texts.append(
        text((left + right) / 2, height - 6, x_label, anchor="middle", css="axis-label")
    )
    if not sum(totals):
        chart.texts.append(
            text((left + right) / 2, (top + bottom) / 2, empty_text, anchor="middle", css="empty")
        )
    return chart


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
) -> Chart:
    """Return a chart with one labelled horizontal bar per (label, value) row.

    With `links`, each row (label, bar and value) links to the URL at its index.
    """
    row_height = 24
    label_width = 170.0
    left, right = label_width + 8, width - 40.0
    top = 8.0
    height = top + max(1, len(rows)) * row_height + 36
    figures = "; ".join(f"{label} {value_format(value)}" for label, value in rows)
    summary = _("%(title)s: %(figures)s.") % {"title": title, "figures": figures or empty_text}
    chart = Chart(
        chart_id=chart_id, title=title, summary=summary, width=width, height=round(height)
    )
    ticks = nice_ticks(max((value for _, value in rows), default=0), whole=value_format is whole)
    scale = (right - left) / ticks[-1]
    bottom = top + max(1, len(rows)) * row_height
    for tick in ticks:
        x = left + tick * scale
        chart.grid.append(grid_line(x, top, x, bottom))
        chart.texts.append(text(x, bottom + 14, tick_label(tick), anchor="middle", css="tick"))
    for index, (label, value) in enumerate(rows):
        y = top + index * row_height
        bar = value * scale
        middle = y + row_height / 2 + 4
        chart.rows.append(
            Row(
                label=text(label_width, middle, shorten(label, 26), anchor="end", css="row"),
                bar=Rect(
                    at(left),
                    at(y + 4),
                    at(bar),
                    row_height - 8,
                    colour,
                    title=f"{label}: {value_format(value)}",
                ),
                value=text(left + bar + 6, middle, value_format(value), css="value"),
                link=links[index] if links else None,
            )
        )
    chart.axes.append(axis_line(left, top, left, bottom))
    chart.texts.append(
        text((left + right) / 2, height - 4, x_label, anchor="middle", css="axis-label")
    )
    if not rows:
        chart.texts.append(
            text((left + right) / 2, top + row_height / 2 + 4, empty_text, anchor="middle")
        )
    return chart
