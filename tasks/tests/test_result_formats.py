"""hOCR 1.2 and ALTO 4.4 downloads and the JSON layout, from real OCR of a two-column page.

The ALTO 4.4 schema is not shipped by any package this project can install, so the ALTO
checks below are the schema's rules for the elements written here (required elements and
attributes, their order and types, unique IDs), checked with xml.etree.
"""

import re
import xml.etree.ElementTree as ET

import pytest

from audit.models import AuditEvent
from tasks.models import OcrPage, Status
from tasks.result_formats.alto import ALTO_NS
from tasks.result_formats.hocr import XHTML

from . import samples, scan_corpus
from .conftest import upload_file

pytestmark = pytest.mark.django_db

TWO_COLUMNS, PRINTED = scan_corpus.two_column_page(seed=1)
H = f"{{{XHTML}}}"
A = f"{{{ALTO_NS}}}"
BBOX = re.compile(r"bbox (\d+) (\d+) (\d+) (\d+)")
# xsd:ID is an NCName: a letter or underscore first, no colon or space.
NCNAME = re.compile(r"[A-Za-z_][\w.-]*")


@pytest.fixture(scope="module", params=sorted(samples.ENGLISH))
def engine(request):
    return request.param


@pytest.fixture
def two_column_task(user, make_task, processed, engine):
    upload = upload_file(samples.encode_image(TWO_COLUMNS, format="PNG"), "two columns.png")
    task = processed(make_task(user, upload, engine=engine, language=samples.ENGLISH[engine]))
    assert task.status == Status.COMPLETED
    return task


def parse(body: bytes) -> ET.Element:
    """Parse a download: the service's own output, well-formed XML or this raises."""
    return ET.fromstring(body)  # noqa: S314 - the service's own output, not a stranger's


def title_properties(element: ET.Element) -> dict[str, str]:
    """Return an hOCR title's properties: "bbox 1 2 3 4; x_wconf 90" -> {"bbox": "1 2 3 4", ...}."""
    properties = {}
    for part in element.get("title", "").split(";"):
        name, _, value = part.strip().partition(" ")
        properties[name] = value
    return properties


def box_of(element: ET.Element) -> tuple[int, ...]:
    match = BBOX.search(element.get("title", ""))
    assert match, f"{element.get('class')} {element.get('id')} has no bbox"
    return tuple(int(value) for value in match.groups())


def inside(inner: tuple[int, ...], outer: tuple[int, ...]) -> bool:
    return (
        outer[0] <= inner[0] <= inner[2] <= outer[2]
        and outer[1] <= inner[1] <= inner[3] <= outer[3]
    )


def classed(parent: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in parent if child.get("class") == name]


def check_hocr(body: bytes, *, pages: list[OcrPage]) -> list[str]:
    """Check the hOCR structure; return the words in document order."""
    root = parse(body)
    assert root.tag == f"{H}html"
    meta = {m.get("name"): m.get("content") for m in root.iter(f"{H}meta") if m.get("name")}
    assert meta["ocr-system"]
    assert set((meta["ocr-capabilities"] or "").split()) >= {
        "ocr_page",
        "ocr_carea",
        "ocr_par",
        "ocr_line",
        "ocrx_word",
        "ocrp_wconf",
    }
    assert meta["ocr-number-of-pages"] == str(len(pages))
    [html_body] = root.iter(f"{H}body")
    page_divs = classed(html_body, "ocr_page")
    assert len(page_divs) == len(pages)
    ids = [element.get("id") for element in root.iter() if element.get("id")]
    assert len(ids) == len(set(ids))
    words = []
    for page, page_div in zip(pages, page_divs, strict=True):
        page_box = box_of(page_div)
        assert page_box == (0, 0, page.width, page.height)
        assert title_properties(page_div)["ppageno"] == str(page.index)
        # Only the hOCR nesting, each element inside its parent's box.
        assert [child.get("class") for child in page_div] == ["ocr_carea"] * len(page_div)
        for area in page_div:
            assert area.tag == f"{H}div" and inside(box_of(area), page_box)
            assert [p.tag for p in area] == [f"{H}p"] * len(area)
            for par in classed(area, "ocr_par"):
                assert inside(box_of(par), box_of(area))
                assert [line.get("class") for line in par] == ["ocr_line"] * len(par)
                for line in par:
                    assert inside(box_of(line), box_of(par))
                    assert [w.get("class") for w in line] == ["ocrx_word"] * len(line) != []
                    for word in line:
                        assert inside(box_of(word), box_of(line))
                        confidence = int(title_properties(word)["x_wconf"])
                        assert 0 <= confidence <= 100
                        assert word.text
                        words.append(word.text)
    return words


def number(value: str | None) -> float:
    assert value is not None
    return float(value)  # xsd:float, or this raises


def check_alto(body: bytes, *, pages: list[OcrPage], file_name: str) -> list[str]:
    """Check the ALTO 4.4 rules for what is written; return the Strings' content in order."""
    root = parse(body)
    assert root.tag == f"{A}alto"
    assert root.get("SCHEMAVERSION") == "4.4"
    location = root.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation")
    assert location == f"{ALTO_NS} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
    # altoType: Description?, Styles?, Tags?, ReadingOrder?, Layout.
    assert [child.tag for child in root] == [f"{A}Description", f"{A}Layout"]
    description = root[0]
    # DescriptionType: MeasurementUnit, sourceImageInformation?, OCRProcessing*, Processing*.
    tags = [child.tag.removeprefix(A) for child in description]
    assert tags[:2] == ["MeasurementUnit", "sourceImageInformation"]
    assert set(tags[2:]) <= {"Processing"}
    assert description[0].text == "pixel"
    assert description.findtext(f"{A}sourceImageInformation/{A}fileName") == file_name
    step_order = [
        "processingCategory",
        "processingDateTime",
        "processingAgency",
        "processingStepDescription",
        "processingStepSettings",
        "processingSoftware",
    ]
    processing_ids = set()
    for processing in description.findall(f"{A}Processing"):
        processing_ids.add(processing.get("ID"))
        steps = [step_order.index(child.tag.removeprefix(A)) for child in processing]
        assert steps == sorted(steps)
    ids = [element.get("ID") for element in root.iter() if element.get("ID") is not None]
    assert len(ids) == len(set(ids)) and all(NCNAME.fullmatch(i or "") for i in ids)
    [layout] = [root[1]]
    assert [child.tag for child in layout] == [f"{A}Page"] * len(pages) != []
    strings = []
    for page, page_element in zip(pages, layout, strict=True):
        assert page_element.get("ID") and number(page_element.get("PHYSICAL_IMG_NR")) == page.number
        assert (number(page_element.get("WIDTH")), number(page_element.get("HEIGHT"))) == (
            page.width,
            page.height,
        )
        assert set(page_element.get("PROCESSINGREFS", "").split()) <= processing_ids
        [space] = list(page_element)
        assert space.tag == f"{A}PrintSpace"
        for block in space:
            assert block.tag == f"{A}TextBlock" and block.get("ID")
            for line in block:
                assert line.tag == f"{A}TextLine" and line.get("ID")
                children = [child.tag.removeprefix(A) for child in line]
                # Strings with a space between each two.
                assert children == ["String", "SP"] * (len(children) // 2) + ["String"]
                for element in line:
                    for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"):
                        if element.tag != f"{A}SP" or name != "HEIGHT":
                            assert number(element.get(name)) >= 0
                    if element.tag == f"{A}String":
                        content = element.get("CONTENT")
                        assert content
                        assert 0 <= number(element.get("WC")) <= 1
                        strings.append(content)
    return strings


def test_real_ocr_of_two_columns_downloads_as_hocr_alto_and_json_in_reading_order(
    user, client_for, two_column_task, engine
):
    # One test per engine for the three formats: reading the A4 page is the slow part.
    pages = list(two_column_task.pages.order_by("index"))
    client = client_for(user)
    check_hocr_download(client, two_column_task, pages=pages, engine=engine)
    check_alto_download(client, two_column_task, pages=pages)
    check_json_layout(client, two_column_task)


def check_hocr_download(client, task, *, pages, engine) -> None:
    response = client.get(f"/tasks/{task.pk}/download.hocr")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xhtml+xml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="two columns.hocr"'
    words = check_hocr(response.content, pages=pages)
    text = " ".join(words)
    assert scan_corpus.character_error_rate(expected=" ".join(PRINTED), actual=text) < 0.1
    root = parse(response.content)
    # The heading, then each column: three blocks on the page.
    assert len([e for e in root.iter(f"{H}div") if e.get("class") == "ocr_carea"]) == 3
    system = {m.get("name"): m.get("content") for m in root.iter(f"{H}meta")}["ocr-system"]
    assert (system or "").lower().startswith(engine)
    # The API serves the same document.
    same = client.get(f"/api/v2/tasks/{task.pk}/result?format=hocr")
    assert (same.status_code, same.content) == (200, response.content)


def check_alto_download(client, task, *, pages) -> None:
    response = client.get(f"/api/v2/tasks/{task.pk}/result?format=alto")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="two columns.alto.xml"'
    strings = check_alto(response.content, pages=pages, file_name="two columns.png")
    text = " ".join(strings)
    assert scan_corpus.character_error_rate(expected=" ".join(PRINTED), actual=text) < 0.1
    root = parse(response.content)
    assert len(list(root.iter(f"{A}TextBlock"))) == 3
    # Every word of the stored layout is a String, with its box and confidence.
    stored = [word for line in pages[0].lines for word in line["words"]]
    first = next(root.iter(f"{A}String"))
    x0, y0, x1, y1 = stored[0]["box"]
    assert (first.get("CONTENT"), first.get("HPOS"), first.get("VPOS")) == (
        stored[0]["text"],
        str(x0),
        str(y0),
    )
    assert (number(first.get("WIDTH")), number(first.get("HEIGHT"))) == (x1 - x0, y1 - y0)
    assert number(first.get("WC")) == pytest.approx(stored[0]["confidence"] / 100, abs=1e-4)
    assert len(list(root.iter(f"{A}String"))) == len(stored)
    same = client.get(f"/tasks/{task.pk}/download.alto")
    assert (same.status_code, same.content) == (200, response.content)


def check_json_layout(client, task) -> None:
    response = client.get(f"/api/v2/tasks/{task.pk}/result?format=json")

    [page] = response.json()["pages"]
    blocks = page["blocks"]
    assert len(blocks) == 3
    assert [line["text"] for line in blocks[0]["paragraphs"][0]["lines"]] == [PRINTED[0]]
    nested = [line for block in blocks for par in block["paragraphs"] for line in par["lines"]]
    assert [line["text"] for line in nested] == [line["text"] for line in page["lines"]]
    assert [line["block"] for line in page["lines"]] == sorted(
        line["block"] for line in page["lines"]
    )
    for block in blocks:
        for par in block["paragraphs"]:
            assert inside(tuple(par["box"]), tuple(block["box"]))
            for line in par["lines"]:
                assert inside(tuple(line["box"]), tuple(par["box"]))
                assert line["words"]
                for word in line["words"]:
                    assert inside(tuple(word["box"]), (0, 0, page["width"], page["height"]))
                    assert 0 <= word["confidence"] <= 100


def stored_page(task, *, lines, source="ocr", index=0) -> OcrPage:
    return OcrPage.objects.create(
        task=task, index=index, text="", source=source, lines=lines, width=800, height=600
    )


def test_text_is_escaped_and_characters_xml_cannot_carry_are_dropped(
    user, page_client, make_task_row
):
    task = make_task_row(
        user, status=Status.COMPLETED, original_name='a "quoted"; <name>.png', page_count=1
    )
    word = {"text": "<b>&\"x'", "confidence": 91.0, "box": [10, 10, 90, 40]}
    control = {"text": "form\x0cfeed\x1b", "confidence": 80.0, "box": [100, 10, 190, 40]}
    stored_page(
        task,
        lines=[
            {
                "text": "<b>&\"x' form\x0cfeed\x1b",
                "confidence": 85.0,
                "box": [10, 10, 190, 40],
                "words": [word, control],
                "block": 0,
                "paragraph": 0,
            }
        ],
    )

    hocr = page_client.get(f"/tasks/{task.pk}/download.hocr").content
    alto = page_client.get(f"/tasks/{task.pk}/download.alto").content

    words = [e.text for e in parse(hocr).iter() if e.get("class") == "ocrx_word"]
    assert words == ["<b>&\"x'", "formfeed"]
    assert b"<b>" not in hocr and b"<b>" not in alto
    page_div = next(e for e in parse(hocr).iter() if e.get("class") == "ocr_page")
    # The file name's quote and semicolon would end the title's image property early.
    assert title_properties(page_div)["bbox"] == "0 0 800 600"
    strings = [e.get("CONTENT") for e in parse(alto).iter(f"{A}String")]
    assert strings == ["<b>&\"x'", "formfeed"]
    assert parse(alto).findtext(f".//{A}fileName") == 'a "quoted"; <name>.png'


def test_lines_without_words_are_one_word_over_the_line(user, page_client, make_task_row):
    # A PDF text layer's lines (and pages read before words were kept) have no word boxes.
    task = make_task_row(user, status=Status.COMPLETED, page_count=2)
    layer_line = {"text": "Invoice total 42", "confidence": None, "box": [20, 30, 400, 60]}
    stored_page(task, lines=[layer_line], source="text_layer")
    stored_page(task, lines=[], index=1)

    hocr = page_client.get(f"/tasks/{task.pk}/download.hocr").content
    alto = page_client.get(f"/tasks/{task.pk}/download.alto").content

    pages = list(task.pages.order_by("index"))
    assert check_hocr_words_only(hocr) == [("Invoice total 42", "bbox 20 30 400 60")]
    root = parse(alto)
    [string] = root.iter(f"{A}String")
    assert (string.get("CONTENT"), string.get("WC")) == ("Invoice total 42", None)
    refs = [page.get("PROCESSINGREFS") for page in root.iter(f"{A}Page")]
    assert refs == ["text_layer", "ocr"]
    assert len(pages) == 2


def check_hocr_words_only(body: bytes) -> list[tuple[str | None, str | None]]:
    root = parse(body)
    return [(e.text, e.get("title")) for e in root.iter() if e.get("class") == "ocrx_word"]


@pytest.mark.parametrize("fmt", ["hocr", "alto"])
def test_another_users_layout_is_404_and_recorded(fmt, client_for, make_user, user, make_task_row):
    task = make_task_row(user, status=Status.COMPLETED)
    mallory = client_for(make_user(username="mallory"))
    paths = [f"/tasks/{task.pk}/download.{fmt}", f"/api/v2/tasks/{task.pk}/result?format={fmt}"]

    responses = [mallory.get(path) for path in paths]

    assert [response.status_code for response in responses] == [404, 404]
    # An error asked for as hOCR or ALTO comes back as JSON, not as a broken document.
    assert responses[1]["Content-Type"] == "application/json"
    refused = AuditEvent.objects.filter(event_type="access_denied", username="mallory")
    assert {(e.resource_type, e.resource_id) for e in refused} == {("task", str(task.pk))}
    assert refused.count() == 2


def test_an_unfinished_tasks_layout_is_404(user, page_client, make_task_row):
    task = make_task_row(user)

    assert page_client.get(f"/tasks/{task.pk}/download.hocr").status_code == 404
    assert page_client.get(f"/tasks/{task.pk}/download.alto").status_code == 404


@pytest.mark.parametrize(
    ("accept", "labels"),
    [("en", ["Download hOCR", "Download ALTO XML"]), ("zh-hans", ["下载 hOCR", "下载 ALTO XML"])],
)
def test_the_task_page_links_both_layout_downloads(
    user, page_client, make_task_row, accept, labels
):
    task = make_task_row(user, status=Status.COMPLETED, pages_done=1)

    body = page_client.get(f"/tasks/{task.pk}/", HTTP_ACCEPT_LANGUAGE=accept).content.decode()

    for fmt, label in zip(["hocr", "alto"], labels, strict=True):
        link = re.search(
            rf'<a class="button" href="/tasks/{task.pk}/download\.{fmt}"[^>]*>([^<]*)</a>', body
        )
        assert link and link.group(1) == label
