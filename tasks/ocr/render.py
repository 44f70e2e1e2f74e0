"""Draw a PDF page in a child process under a time and a memory limit.

What a page costs to draw depends on its content stream, which the upload check never
reads: a 250 KB file can inflate to 100 MB of drawing operators that take PDFium
minutes and a gigabyte. So no page is drawn in the calling process: a child draws it
under RLIMIT_AS and is killed at the time limit, and the page is refused with a reason.

Run as `python -m tasks.ocr.render PATH INDEX DPI OUT` (the child's side); it imports
nothing but pypdfium2 and Pillow.
"""

import contextlib
import ctypes
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageChops

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, kw_only=True)
class RenderLimits:
    """How long one page may take to draw, and how much memory its drawing may use."""

    seconds: float = 120
    memory_bytes: int = 2 * 1024**3


class RenderRefused(Exception):
    """The page could not be drawn within the limits; ``code`` says which one it hit."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


def render_pdf_page_bounded(
    *,
    path: str,
    index: int,
    dpi: int,
    limits: RenderLimits,
    crop: tuple[float, float, float, float] | None = None,
) -> Image.Image:
    """Return page `index` drawn at `dpi` by a child process kept within `limits`.

    The image is grey (mode L) when the drawing holds no colour, else RGB.

    `crop` (left, bottom, right, top, in points cut off the page as displayed, as
    pypdfium2's render takes it) draws one region only.
    """

    def limit_memory() -> None:  # in the child, before it executes Python
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        # Linux: die with the worker, so a SIGKILLed worker leaves no child drawing on.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    with tempfile.TemporaryDirectory(prefix="ocr-render-") as folder:
        out = Path(folder) / "page.ppm"
        command = [sys.executable, "-m", "tasks.ocr.render", path, str(index), str(dpi), str(out)]
        command += [repr(float(amount)) for amount in crop or ()]
        try:
            # Our own interpreter and module; the path is a local copy we made, never a shell.
            subprocess.run(  # noqa: S603
                command,
                cwd=PROJECT_ROOT,
                preexec_fn=limit_memory,  # a limit only the child carries
                capture_output=True,
                timeout=limits.seconds,
                check=True,
            )
        except subprocess.TimeoutExpired as error:
            raise RenderRefused("render_timeout") from error
        except subprocess.CalledProcessError as error:
            stderr = error.stderr.decode(errors="replace")
            code = "render_memory" if "MemoryError" in stderr or error.returncode < 0 else ""
            raise RenderRefused(code or "render_failed", stderr[-500:]) from error
        with Image.open(out, formats=["PPM"]) as drawn:
            drawn.load()
            image = drawn.copy()
    image.info["dpi"] = (dpi, dpi)
    return image


def all_grey(image: Image.Image) -> bool:
    """Return True if every pixel of an RGB image is a grey (red, green and blue equal)."""
    red, green, blue = image.split()
    return not ImageChops.difference(red, green).getbbox() and not (
        ImageChops.difference(red, blue).getbbox()
    )


def _draw(
    path: str, index: int, dpi: int, out: str, crop: tuple[float, float, float, float]
) -> None:
    document = pdfium.PdfDocument(path)
    page = document[index]
    # PDFium draws BGR; to_pil() reorders it into RGB. PPM: raw pixels, no encoding cost.
    image = page.render(scale=dpi / 72, crop=crop).to_pil()
    if all_grey(image):
        # A grey or black and white scan, black text: one channel holds the whole drawing.
        # Tesseract read figure 11's pages in 0.41 s instead of 0.58 s as RGB (the same
        # text), setting them straight took 0.06 s instead of 0.10, and the file is a third.
        image = image.convert("L")
    image.save(out, format="PPM")


if __name__ == "__main__":
    left, bottom, right, top = (float(value) for value in sys.argv[5:9] or (0, 0, 0, 0))
    _draw(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], (left, bottom, right, top))
