"""The inverse of the reader's turns: a pixel as read maps back onto the scan where it was."""

import ctypes

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image

from tasks.ocr.orientation import _apply
from tasks.pdf.placement import SourceFrame, drawn_point, upright_rotation, user_point

DOT = (400, 500, 410, 510)


@pytest.mark.parametrize("quarter", [0, 90, 180, 270])
@pytest.mark.parametrize("skew", [0.0, 2.0, -3.5])
def test_a_dot_on_the_page_as_read_maps_back_to_the_dot_on_the_scan(quarter, skew):
    scan = Image.new("L", (1275, 1650), 255)
    scan.paste(0, DOT)
    read = _apply(scan, quarter=quarter, skew=skew)
    ys, xs = np.nonzero(np.asarray(read) < 128)
    frame = SourceFrame(
        size=(1275, 1650),
        box=(0, 0, 1275, 1650),
        turned=(360 - quarter) % 360,  # stored as the clockwise turn, as OcrPage.rotation
        skew=-skew,
        read_size=read.size,
    )
    x, y = drawn_point(frame, (float(xs.mean()), float(ys.mean())))
    assert abs(x - 404.5) < 1.5 and abs(y - 504.5) < 1.5, (x, y)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_a_page_with_its_own_rotate_maps_into_its_user_space(rotation):
    # PDFium says where the user-space point is drawn: 100 pt right, 100 pt down it must be.
    document = pdfium.PdfDocument.new()
    page = document.new_page(600, 800)
    page.set_mediabox(10, 20, 610, 820)
    page.set_rotation(rotation)
    drawn = page.get_size()
    frame = SourceFrame(
        size=drawn, box=page.get_cropbox(), rotation=page.get_rotation(), read_size=(1, 1)
    )
    x, y = user_point(frame, (100, 100))
    device_x, device_y = ctypes.c_int(), ctypes.c_int()
    size = (round(drawn[0]), round(drawn[1]))
    pdfium_c.FPDF_PageToDevice(page, 0, 0, *size, 0, x, y, device_x, device_y)
    assert (device_x.value, device_y.value) == (100, 100)
    assert upright_rotation(frame) == rotation
    assert (
        upright_rotation(SourceFrame(size=drawn, box=(0, 0, 1, 1), rotation=rotation, turned=90))
        == (rotation + 90) % 360
    )
