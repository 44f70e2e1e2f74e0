"""Draw a PDF page in a child process under a time and a memory limit.

What a page costs to draw depends on its content stream, which the upload check never
reads: a 250 KB file can inflate to 100 MB of drawing operators that take PDFium
minutes and a gigabyte. So a page is drawn by a child process under RLIMIT_AS, killed at
the time limit, and the page is refused with a reason.

A caller with no other Python thread (a pool child of tasks.ocr.page_reader, a sync
gunicorn worker drawing a preview) forks the child: it starts with pypdfium2 and Pillow
already loaded, where a new interpreter spent about 0.1 s of CPU a page starting and
importing them. A caller with threads (the one-process worker and its heartbeat thread,
a gthread server) starts `python -m tasks.ocr.render PATH INDEX DPI OUT`, which imports
nothing but pypdfium2 and Pillow: a fork copies locks other threads may be holding.
A forked child sees no more than its caller already does: that caller parsed the same
PDF with PDFium itself.

One kind of page skips the child: a plain scan (tasks.ocr.plain_scan), nothing but a few
images whose codecs' work is bounded by the pixels they declare, within the pixel limit.
It costs no more to draw than those pixels, and the child would cost twice that: drawing
a 300 dpi scan page took 0.036 s, a fork of a worker holding Tesseract's model 0.068 s, a
new interpreter about 0.1 s of CPU more. It is drawn in the caller (tasks.ocr.pages,
holding the PDFium lock) by `draw_page`, the child's own drawing, so the pixels are the
same. Every other page, text layer samples and previews included, is drawn by a child.
"""

import contextlib
import ctypes
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageChops

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
PR_SET_PDEATHSIG = 1
# Exit statuses of a forked drawing child (a subprocess one says it on stderr instead).
_DRAWN, _FAILED, _OUT_OF_MEMORY = 0, 1, 3


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
    with tempfile.TemporaryDirectory(prefix="ocr-render-") as folder:
        out = Path(folder) / "page.ppm"
        if _may_fork():
            _draw_in_fork(path=path, index=index, dpi=dpi, out=str(out), crop=crop, limits=limits)
        else:
            _draw_in_subprocess(
                path=path, index=index, dpi=dpi, out=str(out), crop=crop, limits=limits
            )
        with Image.open(out, formats=["PPM"]) as drawn:
            drawn.load()
            image = drawn.copy()
    image.info["dpi"] = (dpi, dpi)
    return image


def _may_fork() -> bool:
    # Python threads only; the caller's native ones (OpenBLAS) handle fork themselves.
    return threading.active_count() == 1 and hasattr(os, "pidfd_open")


def _die_with_parent() -> None:
    # Linux: die with the worker, so a SIGKILLed worker leaves no child drawing on.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _draw_in_subprocess(
    *,
    path: str,
    index: int,
    dpi: int,
    out: str,
    crop: tuple[float, float, float, float] | None,
    limits: RenderLimits,
) -> None:
    def limit_memory() -> None:  # in the child, before it executes Python
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        _die_with_parent()

    command = [sys.executable, "-m", "tasks.ocr.render", path, str(index), str(dpi), out]
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


def _address_space_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _draw_in_fork(
    *,
    path: str,
    index: int,
    dpi: int,
    out: str,
    crop: tuple[float, float, float, float] | None,
    limits: RenderLimits,
) -> None:
    # The child starts with the caller's address space mapped: the limit is what the
    # drawing may add to it, as a new interpreter's drawing had memory_bytes in all.
    ceiling = _address_space_bytes() + limits.memory_bytes
    errors_r, errors_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: draw, say why not on the pipe, and never return
        status = _FAILED
        try:
            os.close(errors_r)
            resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
            _die_with_parent()
            _draw(path, index, dpi, out, crop or (0, 0, 0, 0))
            status = _DRAWN
        except MemoryError:
            status = _OUT_OF_MEMORY
        except BaseException:
            with contextlib.suppress(BaseException):
                os.write(errors_w, traceback.format_exc()[-500:].encode())
        finally:
            os._exit(status)  # no atexit, no finally of the caller's stack
    os.close(errors_w)
    try:
        returncode = _wait_within(pid, seconds=limits.seconds)
        with os.fdopen(errors_r, "rb") as errors:
            errors_r = -1
            detail = errors.read().decode(errors="replace")
    finally:
        if errors_r != -1:
            os.close(errors_r)
    if returncode is None:
        raise RenderRefused("render_timeout")
    if returncode == _OUT_OF_MEMORY or returncode < 0:  # a signal: the kernel's OOM kill
        raise RenderRefused("render_memory", detail)
    if returncode != _DRAWN:
        raise RenderRefused("render_failed", detail)


def _wait_within(pid: int, *, seconds: float) -> int | None:
    """Return the child's exit code (-signal if killed), or None once killed at `seconds`."""
    handle = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([handle], [], [], seconds)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
    finally:
        os.close(handle)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def all_grey(image: Image.Image) -> bool:
    """Return True if every pixel of an RGB image is a grey (red, green and blue equal)."""
    red, green, blue = image.split()
    return not ImageChops.difference(red, green).getbbox() and not (
        ImageChops.difference(red, blue).getbbox()
    )


def draw_page(
    page: pdfium.PdfPage, *, dpi: int, crop: tuple[float, float, float, float] = (0, 0, 0, 0)
) -> Image.Image:
    """Return `page` drawn at `dpi`: grey (mode L) when it holds no colour, else RGB.

    The drawing child's own, and the caller's for a plain scan, so both give the same
    pixels. Call holding the PDFium lock where other threads may use PDFium.
    """
    # PDFium draws BGR; to_pil() reorders it into RGB.
    image = page.render(scale=dpi / 72, crop=crop).to_pil()
    if all_grey(image):
        # A grey or black and white scan, black text: one channel holds the whole drawing.
        # Tesseract read figure 11's pages in 0.41 s instead of 0.58 s as RGB (the same
        # text), setting them straight took 0.06 s instead of 0.10, and the file is a third.
        image = image.convert("L")
    image.info["dpi"] = (dpi, dpi)
    return image


def _draw(
    path: str, index: int, dpi: int, out: str, crop: tuple[float, float, float, float]
) -> None:
    document = pdfium.PdfDocument(path)
    # PPM: raw pixels, no encoding cost.
    draw_page(document[index], dpi=dpi, crop=crop).save(out, format="PPM")


if __name__ == "__main__":
    left, bottom, right, top = (float(value) for value in sys.argv[5:9] or (0, 0, 0, 0))
    _draw(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], (left, bottom, right, top))
