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
