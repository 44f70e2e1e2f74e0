"""WCAG AA contrast of the site's colours, computed from static/css/site.css itself.

The browser tests measure what is rendered on the pages they visit; this covers every
status badge and colour pair, including states a browser test rarely catches (queued,
processing, failed).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tasks.models import Status

CSS = (Path(settings.BASE_DIR) / "static" / "css" / "site.css").read_text()
AA = 4.5


def variables() -> dict[str, str]:
    match = re.search(r":root\s*{([^}]*)}", CSS)
    assert match is not None, "no :root block in the stylesheet"
    root = match.group(1)
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", root))


def rule(selector: str) -> dict[str, str]:
    """Return the declarations of the first rule whose selector list contains `selector`."""
    for selectors, body in re.findall(r"([^{}]+){([^}]*)}", CSS):
        if selector in [part.strip() for part in selectors.split(",")]:
            return dict(
                (name.strip(), value.strip())
                for name, value in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body)
            )
    raise AssertionError(f"no rule for {selector}")


def colour(value: str) -> str:
    value = value.replace("!important", "").strip()
    match = re.fullmatch(r"var\(--([\w-]+)\)", value)
    return variables()[match.group(1)] if match else value


def luminance(hex_colour: str) -> float:
    digits = hex_colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def ratio(one: str, other: str) -> float:
    high, low = sorted([luminance(one), luminance(other)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_ratio_matches_known_wcag_values():
    assert ratio("#000", "#fff") == pytest.approx(21.0)
    assert ratio("#777", "#fff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("status", Status.values)
def test_every_status_badge_is_at_least_aa(status):
    badge = rule(f".badge.{status}")

    assert ratio(colour(badge["color"]), colour(badge["background"])) >= AA


@pytest.mark.parametrize(
    ("text", "background"),
    [
        ("fg", "bg"),
        ("fg", "card"),
        ("muted", "bg"),
        ("muted", "card"),
        ("accent", "bg"),
        ("accent", "card"),
        ("bad", "bg"),
        ("bad", "card"),
    ],
)
def test_text_colours_on_page_backgrounds_are_at_least_aa(text, background):
    names = variables()

    assert ratio(names[text], names[background]) >= AA


def test_buttons_and_top_bar_are_at_least_aa():
    top = rule(".topbar")
    assert ratio(colour(rule(".topbar a")["color"]), colour(top["background"])) >= AA
    for selector in ("button.primary", "button.danger"):
        button = rule(selector)
        assert ratio(colour(button["color"]), colour(button["background"])) >= AA
