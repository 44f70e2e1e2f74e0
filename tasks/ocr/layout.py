"""Put the line boxes of a page in reading order: sections top to bottom, columns left to right.

RapidOCR returns its lines in the order its detector found them, which on a two-column page
alternates between the columns. `reading_order` finds the vertical gutters between columns
(x-ranges that almost no box crosses, with text on both sides) and reads each column top to
bottom; a line that crosses a gutter (a heading over both columns) ends one section and
starts the next, so the columns above it are read before it and those below after it.

`reading_blocks` keeps the grouping: each column of a section, each heading, and each run of
rows set apart by a blank line's gap is a block (hOCR's ocr_carea, ALTO's TextBlock).
"""

from collections.abc import Sequence

import numpy as np

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels of the page image, origin top left."""

# A gutter may be crossed by boxes covering at most this share of the region's height:
# headings and the odd wide line cross it; the lines of a single column do not leave one.
_GUTTER_BLOCKED_SHARE = 0.15
# ...and must be at least this many line heights wide (a word space is about a third).
_GUTTER_LINE_HEIGHTS = 1.0
# Each side of a gutter holds text over at least this share of the region's height, so a
# ragged right margin or a short caption beside a column is not a column of its own.
_COLUMN_HEIGHT_SHARE = 0.3
# Boxes whose vertical centres are closer than this share of a line height are one row.
_SAME_ROW_SHARE = 0.5
# Rows further apart than this many line heights (a blank line between them) are two blocks.
_BLOCK_GAP_LINE_HEIGHTS = 1.0


def reading_order(boxes: Sequence[Box]) -> list[int]:
    """Return the indexes of `boxes` in reading order."""
    return [i for block in reading_blocks(boxes) for i in block]


def reading_blocks(boxes: Sequence[Box]) -> list[list[int]]:
    """Return the indexes of `boxes` in reading order, grouped in blocks of text."""
    return _order(list(range(len(boxes))), boxes)


def _order(indexes: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    if len(indexes) <= 1:
        return [indexes] if indexes else []
    gutters = _gutters(indexes, boxes)
    if not gutters:
        return _row_blocks(indexes, boxes)
    spanning = [i for i in indexes if any(_crosses(boxes[i], gutter) for gutter in gutters)]
    if spanning:
        return _sections(indexes, spanning, boxes)
    columns: list[list[int]] = [[] for _ in range(len(gutters) + 1)]
    for i in indexes:
        centre = (boxes[i][0] + boxes[i][2]) / 2
        columns[sum(centre > (left + right) / 2 for left, right in gutters)].append(i)
    return [block for column in columns for block in _order(column, boxes)]


def _sections(indexes: list[int], spanning: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    """Read the bands between lines that cross a gutter, each band on its own, in order."""
    spanning = sorted(spanning, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rest = [i for i in indexes if i not in set(spanning)]
    ordered: list[list[int]] = []
    for heading in spanning:
        middle = (boxes[heading][1] + boxes[heading][3]) / 2
        above = [i for i in rest if (boxes[i][1] + boxes[i][3]) / 2 < middle]
        rest = [i for i in rest if i not in set(above)]
        ordered += [*_order(above, boxes), [heading]]
    return ordered + _order(rest, boxes)


def _gutters(indexes: list[int], boxes: Sequence[Box]) -> list[tuple[int, int]]:
    """Return the x-ranges [left, right) that separate columns of these boxes."""
    region = [boxes[i] for i in indexes]
    x0 = min(box[0] for box in region)
    x1 = max(box[2] for box in region)
    top = min(box[1] for box in region)
    height = max(box[3] for box in region) - top
    if height <= 0 or x1 - x0 < 3:
        return []
    blocked = np.zeros(x1 - x0)
    for bx0, by0, bx1, by1 in region:
        blocked[bx0 - x0 : bx1 - x0] += by1 - by0
    line_height = float(np.median([box[3] - box[1] for box in region]))
    open_x = blocked <= _GUTTER_BLOCKED_SHARE * height
    gutters = []
    for left, right in _runs(open_x):
        if right - left < _GUTTER_LINE_HEIGHTS * line_height:
            continue
        left_side = [box for box in region if box[2] <= left + x0]
        right_side = [box for box in region if box[0] >= right + x0]
        if min(_covered(left_side), _covered(right_side)) >= _COLUMN_HEIGHT_SHARE * height:
            gutters.append((left + x0, right + x0))
    return gutters


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Return the [start, end) ranges where `flags` is true."""
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(start), int(end)) for start, end in zip(edges[::2], edges[1::2], strict=True)]


def _covered(region: list[Box]) -> int:
    """Return how much height the union of the boxes' y-ranges covers."""
    total, reach = 0, None
    for _, y0, _, y1 in sorted(region, key=lambda box: box[1]):
        if reach is None or y0 > reach:
            total += y1 - y0
            reach = y1
        elif y1 > reach:
            total += y1 - reach
            reach = y1
    return total


def _crosses(box: Box, gutter: tuple[int, int]) -> bool:
    """Return True if `box` runs across the whole gutter, as a heading over the columns does.

    A line that only reaches into it (the gutter's edges are where few lines reach) stays
    in the column its centre is in.
    """
    left, right = gutter
    return box[0] <= left and box[2] >= right


def _row_blocks(indexes: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    """Return the rows top to bottom in blocks, a new block after a gap of a blank line."""
    line_height = float(np.median([boxes[i][3] - boxes[i][1] for i in indexes]))
    blocks: list[list[int]] = []
    bottom = None
    for row in _rows(indexes, boxes):
        top = min(boxes[i][1] for i in row)
        if bottom is None or top - bottom > _BLOCK_GAP_LINE_HEIGHTS * line_height:
            blocks.append([])
        blocks[-1] += row
        bottom = max(boxes[i][3] for i in row)
    return blocks


def _rows(indexes: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    """Return the boxes in rows top to bottom, each row left to right."""
    line_height = float(np.median([boxes[i][3] - boxes[i][1] for i in indexes]))
    by_top = sorted(indexes, key=lambda i: ((boxes[i][1] + boxes[i][3]) / 2, boxes[i][0]))
    rows: list[list[int]] = []
    row_centre = 0.0
    for i in by_top:
        centre = (boxes[i][1] + boxes[i][3]) / 2
        if rows and centre - row_centre <= _SAME_ROW_SHARE * line_height:
            rows[-1].append(i)
        else:
            rows.append([i])
            row_centre = centre
    return [sorted(row, key=lambda i: boxes[i][0]) for row in rows]
