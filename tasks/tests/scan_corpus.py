"""Generate scan-like pages with known text: fonts, resolutions, rotations, skew, noise.

Shared by the orientation/deskew tests and the OCR accuracy figure in `make bench`.
"""

import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

# The fonts come with the repo (tasks/tests/fonts/, licences beside them), so the corpus
# is the same on every machine: Debian's fonts-liberation 1:1.07.4-11 and
# fonts-dejavu-core 2.37-6, the files CI installed before they were vendored.
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FILES = {
    "DejaVu Sans": str(FONT_DIR / "DejaVuSans.ttf"),
    "DejaVu Serif": str(FONT_DIR / "DejaVuSerif.ttf"),
    "Liberation Serif": str(FONT_DIR / "LiberationSerif-Regular.ttf"),
    "Liberation Sans": str(FONT_DIR / "LiberationSans-Regular.ttf"),
    "Liberation Mono": str(FONT_DIR / "LiberationMono-Regular.ttf"),
}

SCAN_WORDS = (
    "invoice",
    "harbour",
    "quantum",
    "lantern",
    "meadow",
    "copper",
    "budget",
    "report",
    "office",
    "building",
    "seven",
    "account",
    "balance",
    "payment",
    "received",
    "customer",
    "order",
    "delivery",
    "address",
    "total",
    "amount",
    "reference",
    "number",
    "quarterly",
    "summary",
    "approved",
    "signature",
    "date",
    "page",
    "due",
    "monthly",
    "contract",
    "supplier",
    "warehouse",
    "shipment",
    "freight",
    "insurance",
    "premium",
    "renewal",
    "notice",
    "council",
    "planning",
    "permission",
    "garden",
    "fence",
    "boundary",
    "survey",
    "estate",
    "agent",
    "tenant",
)

# Page of 6 x 4.5 inches: big enough for orientation detection, small enough to bench.
PAGE_INCHES = (6.0, 4.5)
FONT_POINTS = 12
LINES = 9


@dataclass(frozen=True)
class ScanPage:
    """A generated page image and the text printed on it, line by line."""

    name: str
    image: Image.Image
    text: str


def available_fonts() -> dict[str, str]:
    """Return the corpus fonts by family name (all of them: they come with the repo)."""
    return dict(FONT_FILES)


def page_lines(seed: int, *, count: int = LINES) -> list[str]:
    """Return `count` lines of words and numbers, the same for the same seed."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = [rng.choice(SCAN_WORDS) for _ in range(rng.randint(5, 7))]
        words[0] = words[0].capitalize()
        words.insert(rng.randint(1, len(words)), str(rng.randint(10, 9999)))
        lines.append(" ".join(words) + rng.choice([".", ",", "", ":"]))
    return lines


def upright_page(*, seed: int, font: str, dpi: int) -> tuple[Image.Image, str]:
    """Return an upright greyscale page at `dpi` printed in `font`, and its text."""
    width, height = (round(side * dpi) for side in PAGE_INCHES)
    size_px = round(FONT_POINTS * dpi / 72)
    face = ImageFont.truetype(available_fonts()[font], size_px)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    lines = page_lines(seed)
    margin = round(0.4 * dpi)
    kept = []
    for number, line in enumerate(lines):
        # Wide fonts (Mono) drop the words that would run off the page.
        words = line.split()
        while words and draw.textlength(" ".join(words), font=face) > width - 2 * margin:
            words.pop()
        text = " ".join(words)
        draw.text((margin, margin + number * round(size_px * 1.5)), text, font=face, fill=0)
        kept.append(text)
    image.info["dpi"] = (dpi, dpi)
    return image, "\n".join(kept)


def skewed(image: Image.Image, degrees: float, *, fill: int = 255) -> Image.Image:
    """Return `image` turned `degrees` anticlockwise on a white background, like a skewed scan."""
    dpi = image.info.get("dpi")
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)
    if dpi:
        turned.info["dpi"] = dpi
    return turned


def rotated(image: Image.Image, quarter_turns_clockwise: int) -> Image.Image:
    """Return `image` fed in sideways or upside down: turned 90/180/270 degrees clockwise."""
    dpi = image.info.get("dpi")
    turned = image.rotate(-90 * quarter_turns_clockwise, expand=True)
    if dpi:
        turned.info["dpi"] = dpi
    return turned


def noisy(image: Image.Image, *, seed: int, sigma: float = 18.0, specks: float = 0.002):
    """Return `image` with sensor noise and dust specks, as a cheap scanner leaves them."""
    rng = np.random.default_rng(seed)
    pixels: np.ndarray = np.asarray(image, dtype=np.float32)
    pixels = pixels + rng.normal(0, sigma, pixels.shape)
    mask = rng.random(pixels.shape) < specks
    pixels[mask] = 0
    out = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def photographed(image: Image.Image, *, seed: int) -> Image.Image:
    """Return `image` as a phone photo of it: grey paper, uneven light, blur, JPEG, a tilt."""
    rng = np.random.default_rng(seed)
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    height, width = pixels.shape
    ys, xs = np.mgrid[0:height, 0:width]
    # Light falls off from one corner: paper goes from near white to mid grey.
    light = 0.95 - 0.35 * ((xs / width) * 0.6 + (ys / height) * 0.4)
    paper = pixels * light + (1 - pixels) * 0.12
    paper = paper + rng.normal(0, 0.03, paper.shape)
    out = Image.fromarray(np.clip(paper * 255, 0, 255).astype(np.uint8))
    out = out.filter(ImageFilter.GaussianBlur(radius=1.0))
    # Cropped to the sheet, as phone scanner apps do: the corners show more paper, not a desk.
    out = skewed(out, 3.0, fill=int(np.median(np.asarray(out)[-20:, -20:])))
    buffer = io.BytesIO()
    out.convert("RGB").save(buffer, format="JPEG", quality=70)
    photo = Image.open(io.BytesIO(buffer.getvalue()))
    photo.load()
    photo.info["dpi"] = image.info.get("dpi", (300, 300))
    return photo


def shadowed(image: Image.Image) -> Image.Image:
    """Return `image` with a shadow over its right half, as a book's gutter casts on a scan."""
    pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    height, width = pixels.shape
    xs = np.mgrid[0:height, 0:width][1]
    # The paper darkens from near the middle to a quarter of its brightness at the edge.
    light = 1.0 - 0.75 * np.clip((xs / width - 0.45) * 3, 0, 1)
    out = Image.fromarray(np.clip(pixels * light * 255, 0, 255).astype(np.uint8))
    out = out.filter(ImageFilter.GaussianBlur(radius=0.8))
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def faint(image: Image.Image, *, ink: int = 190) -> Image.Image:
    """Return `image` with its black printed as grey `ink`: a worn ribbon, a pale photocopy."""
    pixels = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    out = Image.fromarray((255 - (1 - pixels) * (255 - ink)).astype(np.uint8))
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def character_error_rate(*, expected: str, actual: str) -> float:
    """Return the edit distance between the texts, whitespace collapsed, per expected char."""
    reference = " ".join(expected.split())
    hypothesis = " ".join(actual.split())
    if not reference:
        return 0.0 if not hypothesis else 1.0
    previous = list(range(len(hypothesis) + 1))
    for i, ref_char in enumerate(reference, start=1):
        current = [i]
        for j, hyp_char in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (ref_char != hyp_char),
                )
            )
        previous = current
    return previous[-1] / len(reference)


def corpus(*, quick: bool = False) -> list[ScanPage]:
    """Return the benchmark corpus: every font upright, rotated, skewed, noisy and photographed."""
    pages: list[ScanPage] = []
    fonts = list(available_fonts())
    if quick:
        fonts = fonts[:2]
    skews = (1.0, -2.5, 4.0, -5.0, 7.5, -10.0)
    for number, font in enumerate(fonts):
        for dpi in (300, 150):
            seed = number * 10 + dpi
            base, text = upright_page(seed=seed, font=font, dpi=dpi)
            tag = f"{font.replace(' ', '')}-{dpi}"
            pages.append(ScanPage(name=f"{tag}-upright", image=base, text=text))
            turns = (1, 2, 3) if not quick else (number % 3 + 1,)
            for turn in turns:
                pages.append(
                    ScanPage(name=f"{tag}-rot{90 * turn}", image=rotated(base, turn), text=text)
                )
            chosen = skews if not quick else skews[number % 2 :: 2]
            for degrees in chosen:
                pages.append(
                    ScanPage(name=f"{tag}-skew{degrees:+g}", image=skewed(base, degrees), text=text)
                )
            if dpi == 300:
                pages.append(
                    ScanPage(
                        name=f"{tag}-noise-rot270-skew-3",
                        image=noisy(skewed(rotated(base, 3), -3.0), seed=seed),
                        text=text,
                    )
                )
                pages.append(
                    ScanPage(name=f"{tag}-photo", image=photographed(base, seed=seed), text=text)
                )
    return pages


# A4 at the resolution most office scanners default to for documents.
A4_INCHES = (8.27, 11.69)
A4_DPI = 150


def _paragraph_lines(rng: random.Random, *, words: int) -> list[str]:
    """Return the words of one paragraph, a sentence with a number or two."""
    picked = [rng.choice(SCAN_WORDS) for _ in range(words)]
    picked[0] = picked[0].capitalize()
    for _ in range(rng.randint(0, 2)):
        picked.insert(rng.randint(1, len(picked)), str(rng.randint(10, 9999)))
    return picked


def _wrapped(draw: ImageDraw.ImageDraw, words: list[str], *, face, width: int) -> list[str]:
    """Return `words` broken into lines no wider than `width`; the last line is short."""
    lines: list[str] = []
    current: list[str] = []
    for word in words:
        if current and draw.textlength(" ".join([*current, word]), font=face) > width:
            lines.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        lines.append(" ".join(current) + ".")
    return lines


def a4_document(
    *, seed: int, font: str, points: int = 11, blur: float = 0.0
) -> tuple[Image.Image, str]:
    """Return an upright A4 page at 150 dpi: a title, headed paragraphs of running text.

    Paragraphs end on short lines, headings are short lines of their own and there is a
    blank band at the foot of the page: the page a user scans, not a block of equal lines.
    """
    rng = random.Random(seed)
    width, height = (round(side * A4_DPI) for side in A4_INCHES)
    margin = round(0.9 * A4_DPI)
    size_px = round(points * A4_DPI / 72)
    face = ImageFont.truetype(available_fonts()[font], size_px)
    heading_face = ImageFont.truetype(available_fonts()[font], round(size_px * 1.4))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    leading = round(size_px * rng.uniform(1.3, 1.7))
    # Most of the page, but not all: a letter or a report stops short of the foot.
    bottom = height - margin - rng.randint(0, height // 3)
    y = margin
    printed: list[str] = []
    while y + 4 * leading < bottom:
        heading = " ".join(rng.choice(SCAN_WORDS) for _ in range(rng.randint(1, 3))).title()
        draw.text((margin, y), heading, font=heading_face, fill=0)
        printed.append(heading)
        y += round(leading * 1.6)
        for line in _wrapped(
            draw,
            _paragraph_lines(rng, words=rng.randint(12, 70)),
            face=face,
            width=width - 2 * margin,
        ):
            if y + leading > bottom:
                break
            draw.text((margin, y), line, font=face, fill=0)
            printed.append(line)
            y += leading
        y += leading
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(radius=blur))
    image.info["dpi"] = (A4_DPI, A4_DPI)
    return image, "\n".join(printed)


def line_chart(*, seed: int, font: str = "DejaVu Sans") -> tuple[Image.Image, str]:
    """Return an upright A4 line chart at 150 dpi: axes, ticks, numbers, title, legend.

    Little running text: the title, the legend labels and tick numbers are all there is.
    """
    rng = random.Random(seed)
    width, height = (round(side * A4_DPI) for side in A4_INCHES)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    small = ImageFont.truetype(available_fonts()[font], 22)
    large = ImageFont.truetype(available_fonts()[font], 36)
    title = f"{rng.choice(SCAN_WORDS).title()} {rng.choice(SCAN_WORDS)} by month"
    # Plots from a third of the page to most of it; the series span all of it or a strip.
    left, top, right = 180, 260, width - 120
    bottom = top + rng.randint(450, 840)
    low, high = top + 20, bottom - 20
    if rng.random() < 0.5:
        low = rng.randint(top + 20, (top + bottom) // 2)
        high = low + (bottom - top) // 4
    draw.text((left, 140), title, font=large, fill="black")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=3)
    printed = [title]
    steps_x, steps_y = 10, rng.randint(4, 8)
    top_value = rng.choice([50, 100, 200, 500, 1000])
    for step in range(steps_y + 1):
        y = bottom - step * (bottom - top) // steps_y
        draw.line([(left - 12, y), (left, y)], fill="black", width=2)
        label = str(top_value * step // steps_y)
        draw.text((left - 20, y), label, font=small, fill="black", anchor="rm")
        printed.append(label)
    for step in range(steps_x + 1):
        x = left + step * (right - left) // steps_x
        draw.line([(x, bottom), (x, bottom + 12)], fill="black", width=2)
        draw.text((x, bottom + 20), str(step + 1), font=small, fill="black", anchor="mt")
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"]
    series = rng.randint(2, 4)
    for number in range(series):
        points = [
            (left + step * (right - left) // steps_x, rng.randint(low, high))
            for step in range(steps_x + 1)
        ]
        draw.line(points, fill=colours[number], width=4)
    # Legend inside the plot's top right corner or below it: a short coloured line and a
    # word, one entry a line.
    legend_x, legend_y = (
        (right - 300, top + 30)
        if rng.random() < 0.5
        else (left + 20, bottom + rng.randint(110, 400))
    )
    for number in range(series):
        label = rng.choice(SCAN_WORDS)
        y = legend_y + number * 40
        draw.line([(legend_x, y), (legend_x + 60, y)], fill=colours[number], width=4)
        draw.text((legend_x + 80, y), label, font=small, fill="black", anchor="lm")
        printed.append(label)
    image.info["dpi"] = (A4_DPI, A4_DPI)
    return image, "\n".join(printed)


def two_column_page(*, seed: int, font: str = "DejaVu Serif") -> tuple[Image.Image, list[str]]:
    """Return an A4 page at 150 dpi: a full-width heading over two columns, and its lines.

    The lines come in reading order: the heading, the left column top to bottom, then
    the right one; the columns' lines sit at the same heights, so an engine that reads
    across the gutter interleaves them.
    """
    rng = random.Random(seed)
    width, height = (round(side * A4_DPI) for side in A4_INCHES)
    margin = round(0.8 * A4_DPI)
    gutter = round(0.45 * A4_DPI)
    size_px = round(11 * A4_DPI / 72)
    face = ImageFont.truetype(available_fonts()[font], size_px)
    heading_face = ImageFont.truetype(available_fonts()[font], round(size_px * 1.6))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    heading = " ".join(rng.choice(SCAN_WORDS) for _ in range(6)).title()
    draw.text((margin, margin), heading, font=heading_face, fill=0)
    column_width = (width - 2 * margin - gutter) // 2
    leading = round(size_px * 1.5)
    top = margin + round(size_px * 3.5)
    printed = [heading]
    for column in range(2):
        words = _paragraph_lines(rng, words=90)
        lines = _wrapped(draw, words, face=face, width=column_width)[:16]
        left = margin + column * (column_width + gutter)
        for number, line in enumerate(lines):
            draw.text((left, top + number * leading), line, font=face, fill=0)
        printed += lines
    image.info["dpi"] = (A4_DPI, A4_DPI)
    return image, printed


def photograph_without_text(*, seed: int) -> Image.Image:
    """Return a 1200x900 photo-like scene with no text: sky, fence, bricks, branches, noise.

    Its fence posts, mortar lines and twigs are the edges Tesseract reads as "l", "\\" or "VN".
    """
    rng = np.random.default_rng(seed)
    width, height = 1200, 900
    ys, xs = np.mgrid[0:height, 0:width]
    sky = 215 - 60 * ys / height + 15 * np.sin(xs / 90.0)
    image = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(image)
    x = 20
    while x < width:
        post, tall = int(rng.integers(6, 16)), int(rng.integers(40, 90))
        draw.rectangle((x, height * 0.62 - tall, x + post, height * 0.62), fill=(40, 35, 30))
        x += post + int(rng.integers(8, 30))
    draw.rectangle((0, int(height * 0.58), width, int(height * 0.59)), fill=(40, 35, 30))
    for row in range(int(height * 0.66), height, 22):
        offset = 0 if (row // 22) % 2 else 30
        for brick in range(-offset, width, 60):
            red = 150 + int(rng.integers(-20, 20))
            draw.rectangle(
                (brick, row, brick + 56, row + 19), fill=(red, 70, 60), outline=(60, 50, 40)
            )
    for _ in range(40):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height // 2))
        for _ in range(6):
            x1, y1 = x0 + int(rng.integers(-40, 40)), y0 + int(rng.integers(-30, 30))
            draw.line([(x0, y0), (x1, y1)], fill=(30, 30, 30), width=int(rng.integers(1, 4)))
            x0, y0 = x1, y1
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 8, (height, width, 3))
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    photo.info["dpi"] = (150, 150)
    return photo
