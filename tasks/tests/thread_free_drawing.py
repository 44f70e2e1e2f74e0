"""Draw a page from a process with no other Python thread, as a page-reader pool child does.

The test process itself may hold threads left by earlier tests (a live server, a pool's
management thread), and forking beside them is what the fork path avoids; so the fork path
is exercised in a forkserver child, the same start method as tasks.ocr.page_reader's pool.
"""

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from tasks.ocr import render
from tasks.ocr.render import RenderLimits, RenderRefused


def recording_the_ways(put: Callable[[object, str, object], object]) -> list[str]:
    """Wrap both ways of starting the drawing child with `put` (setattr or monkeypatch's).

    Return the list each way (fork, subprocess) is appended to as it starts, still drawing.
    """
    ways: list[str] = []
    for way in ("fork", "subprocess"):
        drawn_by = getattr(render, f"_draw_in_{way}")

        def counted(_drawn_by=drawn_by, _way=way, **kwargs):
            ways.append(_way)
            return _drawn_by(**kwargs)

        put(render, f"_draw_in_{way}", counted)
    return ways


def _draw_recording_the_way(path: str, index: int, dpi: int, limits: RenderLimits) -> dict:
    # A throwaway forkserver child: its module is changed for good, nothing to undo.
    ways = recording_the_ways(setattr)
    return drawn_or_refused(path=path, index=index, dpi=dpi, limits=limits, ways=ways)


def drawn_or_refused(
    *, path: str, index: int, dpi: int, limits: RenderLimits, ways: list[str]
) -> dict:
    """Draw the page; return the ways taken and what was drawn (mode, size, dpi) or refused."""
    try:
        image = render.render_pdf_page_bounded(path=path, index=index, dpi=dpi, limits=limits)
    except RenderRefused as refused:
        return {"ways": ways, "refused": refused.code}
    return {"ways": ways, "mode": image.mode, "size": image.size, "dpi": image.info["dpi"]}


def draw_without_threads(*, path: str, index: int, dpi: int, limits: RenderLimits) -> dict:
    """What a thread-free caller drew (mode, size, dpi) or its refusal code, and the way."""
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_draw_recording_the_way, path, index, dpi, limits).result()
