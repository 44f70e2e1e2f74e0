"""Map a page's OCR boxes back onto the page as it was uploaded, turned and skewed as it was.

The OCR boxes are given in the pixels of the page as it was read: the scan turned by quarter
turns and straightened by its skew, each step `Image.rotate(angle, expand=True)` around the
image's centre (tasks.ocr.orientation). The searchable PDF shows the scan's own image instead
of a re-encoded straightened copy (so the output stays as small as the input),
so each line of the text layer is placed through the inverse of those turns, as a rotated
text object, and quarter turns go into the page's /Rotate so viewers show it upright.
"""

import math
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True, kw_only=True)
class SourceFrame:
    """Where the page as uploaded sits in PDF user space, and how it was read.

    `size` is the page as drawn (after its own /Rotate), in points; `box` its crop box
    (left, bottom, right, top) in user space; `rotation` its own /Rotate.
    """

    size: tuple[float, float]
    box: tuple[float, float, float, float]
    rotation: int = 0
    # What the OCR did to the drawn page: clockwise quarter turns and clockwise skew.
    turned: int = 0
    skew: float = 0.0
    # Points per pixel of the page as read.
    scale: float = 1.0
    read_size: tuple[int, int] = (0, 0)


def _unrotate(point: Point, *, angle: float, out_centre: Point, in_centre: Point) -> Point:
    """Return where `point` of `Image.rotate(angle, expand=True)`'s output was in its input."""
    # Pillow's own inverse matrix (Image.rotate): theta = -radians(angle).
    theta = -math.radians(angle)
    dx, dy = point[0] - out_centre[0], point[1] - out_centre[1]
    return (
        math.cos(theta) * dx + math.sin(theta) * dy + in_centre[0],
        -math.sin(theta) * dx + math.cos(theta) * dy + in_centre[1],
    )


def drawn_point(frame: SourceFrame, pixel: Point) -> Point:
    """Return a pixel of the page as read as points on the page as drawn (origin top left)."""
    width, height = frame.size
    quarter = (360 - frame.turned) % 360  # the anticlockwise turn the reader applied
    turned_size = (height, width) if quarter % 180 else (width, height)
    read_w, read_h = frame.read_size
    point = (pixel[0] * frame.scale, pixel[1] * frame.scale)
    if frame.skew:
        point = _unrotate(
            point,
            angle=-frame.skew,
            out_centre=(read_w * frame.scale / 2, read_h * frame.scale / 2),
            in_centre=(turned_size[0] / 2, turned_size[1] / 2),
        )
    if quarter:
        point = _unrotate(
            point,
            angle=quarter,
            out_centre=(turned_size[0] / 2, turned_size[1] / 2),
            in_centre=(width / 2, height / 2),
        )
    return point


def user_point(frame: SourceFrame, pixel: Point) -> Point:
    """Return a pixel of the page as read in the PDF user space of the page as uploaded."""
    u, v = drawn_point(frame, pixel)
    left, bottom, right, top = frame.box
    # A page with /Rotate is drawn turned clockwise: undo that to reach user space.
    match frame.rotation % 360:
        case 90:
            return left + v, bottom + u
        case 180:
            return right - u, bottom + v
        case 270:
            return right - v, top - u
        case _:
            return left + u, top - v


@dataclass(frozen=True)
class LineFrame:
    """A line's baseline start and its x and y axes in user space, one point per unit."""

    origin: Point
    along: Point  # the box's bottom edge, left to right, full length
    up: Point  # unit vector from the bottom edge towards the top
    height: float


def line_frame(frame: SourceFrame, box: tuple[float, float, float, float]) -> LineFrame:
    """Return where the line box (x0, y0, x1, y1), in pixels as read, lies in user space."""
    x0, y0, x1, y1 = box
    bottom_left = user_point(frame, (x0, y1))
    bottom_right = user_point(frame, (x1, y1))
    top_left = user_point(frame, (x0, y0))
    up = (top_left[0] - bottom_left[0], top_left[1] - bottom_left[1])
    height = math.hypot(*up)
    return LineFrame(
        origin=bottom_left,
        along=(bottom_right[0] - bottom_left[0], bottom_right[1] - bottom_left[1]),
        up=(up[0] / height, up[1] / height) if height else (0.0, 1.0),
        height=height,
    )


def upright_rotation(frame: SourceFrame) -> int:
    """Return the /Rotate that shows the page as it was read: its own plus the reader's turn."""
    return (frame.rotation + frame.turned) % 360
