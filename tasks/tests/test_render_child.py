"""The page-drawing child, forked or started anew, keeps its time and memory limits.

A caller without other threads (a page-reader pool child) forks it; others start a new
interpreter. Both must draw the same page and refuse the same hostile ones.
"""

import threading

import pytest

from tasks.ocr import render
from tasks.ocr.render import RenderLimits, RenderRefused, render_pdf_page_bounded
from tasks.tests import samples


@pytest.fixture(params=["fork", "subprocess"])
def way(request, monkeypatch):
    """Draw through one path; the fork path only where the test runs with no other thread."""
    if request.param == "fork":
        assert threading.active_count() == 1, "the fork path needs a caller without threads"
    else:
        monkeypatch.setattr(render, "_may_fork", lambda: False)
    calls = []
    chosen = render._draw_in_fork if request.param == "fork" else render._draw_in_subprocess

    def counted(**kwargs):
        calls.append(request.param)
        return chosen(**kwargs)

    monkeypatch.setattr(render, f"_draw_in_{request.param}", counted)
    return calls


def _pdf(tmp_path, data: bytes) -> str:
    path = tmp_path / "in.pdf"
    path.write_bytes(data)
    return str(path)


def test_both_ways_draw_the_same_grey_page(tmp_path, way):
    image = samples.make_text_image(["Forked", "or", "not"], size=(600, 200))
    path = _pdf(tmp_path, samples.image_pdf_bytes([image], dpi=150))

    drawn = render_pdf_page_bounded(path=path, index=0, dpi=150, limits=RenderLimits())

    assert way  # the path under test drew it
    assert drawn.mode == "L"
    assert drawn.size == (600, 200)
    assert drawn.info["dpi"] == (150, 150)


def test_a_slow_page_is_killed_at_the_time_limit(tmp_path, way):
    path = _pdf(tmp_path, samples.content_stream_bomb_pdf_bytes())

    with pytest.raises(RenderRefused) as refused:
        render_pdf_page_bounded(path=path, index=0, dpi=72, limits=RenderLimits(seconds=1))

    assert refused.value.code == "render_timeout"


def test_a_drawing_over_the_memory_limit_is_refused(tmp_path, way):
    image = samples.make_text_image(["big"], size=(300, 300))
    path = _pdf(tmp_path, samples.image_pdf_bytes([image], dpi=10))
    # 30 x 30 inches at 600 dpi: an 18000 x 18000 bitmap, 1.3 GB, over a 64 MB drawing.
    limits = RenderLimits(memory_bytes=64 * 2**20)

    with pytest.raises(RenderRefused) as refused:
        render_pdf_page_bounded(path=path, index=0, dpi=600, limits=limits)

    assert refused.value.code == "render_memory"
    assert way
