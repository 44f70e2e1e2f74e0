"""The page-drawing child, forked or started anew, keeps its time and memory limits.

A caller without other threads (a page-reader pool child) forks it; others start a new
interpreter. Both must draw the same page and refuse the same hostile ones. The fork path is
taken in a forkserver child with no thread (tasks.tests.thread_free_drawing), the subprocess
path here, in the test process, told it may not fork.
"""

import pytest

from tasks.ocr import render
from tasks.ocr.render import RenderLimits
from tasks.tests import samples
from tasks.tests.thread_free_drawing import draw_without_threads, drawn_or_refused


def _from_here(*, path: str, index: int, dpi: int, limits: RenderLimits) -> dict:
    ways = []
    chosen = render._draw_in_subprocess

    def counted(**kwargs):
        ways.append("subprocess")
        return chosen(**kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render, "_may_fork", lambda: False)
        patch.setattr(render, "_draw_in_subprocess", counted)
        return drawn_or_refused(path=path, index=index, dpi=dpi, limits=limits, ways=ways)


@pytest.fixture(params=["fork", "subprocess"])
def way(request):
    """A drawing function for one path, and the path it must have taken."""
    draw = draw_without_threads if request.param == "fork" else _from_here
    return draw, request.param


def _pdf(tmp_path, data: bytes) -> str:
    path = tmp_path / "in.pdf"
    path.write_bytes(data)
    return str(path)


def test_both_ways_draw_the_same_grey_page(tmp_path, way):
    draw, expected_way = way
    image = samples.make_text_image(["Forked", "or", "not"], size=(600, 200))
    path = _pdf(tmp_path, samples.image_pdf_bytes([image], dpi=150))

    drawn = draw(path=path, index=0, dpi=150, limits=RenderLimits())

    assert drawn == {"ways": [expected_way], "mode": "L", "size": (600, 200), "dpi": (150, 150)}


def test_a_slow_page_is_killed_at_the_time_limit(tmp_path, way):
    draw, expected_way = way
    path = _pdf(tmp_path, samples.content_stream_bomb_pdf_bytes())

    refused = draw(path=path, index=0, dpi=72, limits=RenderLimits(seconds=1))

    assert refused == {"ways": [expected_way], "refused": "render_timeout"}


def test_a_drawing_over_the_memory_limit_is_refused(tmp_path, way):
    draw, expected_way = way
    image = samples.make_text_image(["big"], size=(300, 300))
    path = _pdf(tmp_path, samples.image_pdf_bytes([image], dpi=10))
    # 30 x 30 inches at 600 dpi: an 18000 x 18000 bitmap, 1.3 GB, over a 64 MB drawing.
    limits = RenderLimits(memory_bytes=64 * 2**20)

    refused = draw(path=path, index=0, dpi=600, limits=limits)

    assert refused == {"ways": [expected_way], "refused": "render_memory"}
