"""Reading order over line boxes: columns, the headings across them, rows."""

from tasks.ocr.layout import reading_blocks, reading_order

# One column's lines: 16 lines 30 px high, 34 px apart, ragged on the right.
WIDTHS = (456, 419, 440, 380, 404, 386, 416, 455, 414, 460, 426, 406, 392, 461, 466, 393)


def column(left: int, *, top: int = 200, count: int = 16) -> list[tuple[int, int, int, int]]:
    return [
        (left, top + 34 * row, left + WIDTHS[row % len(WIDTHS)], top + 34 * row + 30)
        for row in range(count)
    ]


def interleaved(*columns: list) -> tuple[list, list[int]]:
    """Return the columns' boxes alternating row by row, and each box's reading position."""
    boxes, positions = [], []
    offsets = [sum(len(c) for c in columns[:n]) for n in range(len(columns))]
    for row in range(max(len(c) for c in columns)):
        for number, col in enumerate(columns):
            if row < len(col):
                boxes.append(col[row])
                positions.append(offsets[number] + row)
    return boxes, positions


def read(boxes: list) -> list:
    return [boxes[i] for i in reading_order(boxes)]


def test_two_columns_are_read_one_after_the_other():
    left, right = column(116), column(651)
    boxes, _ = interleaved(left, right)

    assert read(boxes) == left + right


def test_a_heading_across_both_columns_is_read_first():
    heading = (116, 122, 993, 165)
    left, right = column(116), column(651)
    boxes, _ = interleaved(left, right)

    assert read([*boxes, heading]) == [heading, *left, *right]


def test_a_heading_between_two_rows_of_columns_splits_the_page_into_sections():
    upper_left, upper_right = column(116, count=8), column(651, count=8)
    heading = (116, 480, 1100, 520)
    lower_left, lower_right = column(116, top=540, count=8), column(651, top=540, count=8)
    boxes = [*interleaved(lower_left, lower_right)[0], heading]
    boxes += interleaved(upper_left, upper_right)[0]

    assert read(boxes) == [*upper_left, *upper_right, heading, *lower_left, *lower_right]


def test_a_single_ragged_column_is_read_top_to_bottom():
    lines = column(116)

    assert read(list(reversed(lines))) == lines


def test_a_line_reaching_into_the_gutter_stays_in_its_column():
    left, right = column(116), column(651)
    left[10] = (116, left[10][1], 600, left[10][3])
    boxes, _ = interleaved(left, right)

    assert read(boxes) == left + right


def test_pieces_of_one_line_are_read_left_to_right():
    # A wide word space makes RapidOCR box one line in two; the line still reads in order.
    lines = column(116, count=6)
    pieces = [(116, 404, 300, 432), (352, 402, 560, 434)]

    assert read([pieces[1], *lines, pieces[0]]) == [*lines, *pieces]


def test_nothing_and_one_box_are_their_own_order():
    assert reading_order([]) == []
    assert reading_order([(0, 0, 10, 10)]) == [0]


def blocks(boxes: list) -> list[list]:
    return [[boxes[i] for i in block] for block in reading_blocks(boxes)]


def test_the_heading_and_each_column_are_blocks_of_their_own():
    heading = (116, 122, 993, 165)
    left, right = column(116), column(651)
    boxes, _ = interleaved(left, right)

    assert blocks([*boxes, heading]) == [[heading], left, right]


def test_a_blank_line_between_paragraphs_starts_a_new_block():
    first, second = column(116, count=5), column(116, top=200 + 34 * 5 + 34, count=4)

    assert blocks([*reversed(second), *first]) == [first, second]


def test_lines_at_the_usual_spacing_stay_one_block():
    lines = column(116)

    assert blocks(list(reversed(lines))) == [lines]
