"""Search that shows why: hit counts, snippets with page numbers, highlights and boxes."""

import re

import pytest

from tasks.models import OcrPage, Status
from tasks.search_hits import highlight, page_hits, search_terms, terms_pattern, word_boxes


def test_terms_are_words_and_phrases_without_excluded_ones():
    assert search_terms('invoice "total due" -draft OR Invoice') == ["invoice", "total due"]
    assert search_terms('"unclosed') == ["unclosed"]
    assert search_terms("   ") == []


def test_a_term_matches_whole_words_ignoring_case_and_a_phrase_across_a_line_break():
    pattern = terms_pattern(["due", "total due"])

    html = highlight("Total\ndue: overdue DUE", pattern)

    assert html == "<mark>Total\ndue</mark>: overdue <mark>DUE</mark>"


def test_highlight_escapes_the_text_around_and_inside_marks():
    pattern = terms_pattern(["<b>"])

    assert highlight("a <b> & <i>", pattern) == "a <mark>&lt;b&gt;</mark> &amp; &lt;i&gt;"
    assert highlight("<script>", None) == "&lt;script&gt;"


def test_hits_are_counted_on_every_page_and_the_first_snippets_kept():
    pages = [(0, "nothing here"), (1, "harbour " * 5), (2, "the harbour master")]

    hits = page_hits(pages, terms_pattern(["harbour"]), snippets=3)

    assert hits.count == 6
    assert hits.pages == [2, 3]
    assert [snippet.page for snippet in hits.snippets] == [2, 2, 2]
    assert all("<mark>harbour</mark>" in snippet.html for snippet in hits.snippets)


def test_a_snippet_is_the_hit_in_context_cut_at_words():
    text = " ".join(f"word{n}" for n in range(100)) + " needle " + "tail " * 50

    [snippet] = page_hits([(0, text)], terms_pattern(["needle"]), snippets=1).snippets

    assert snippet.html.startswith("… word")
    assert snippet.html.endswith(" …")
    assert "<mark>needle</mark>" in snippet.html
    assert len(snippet.html) < 200


def test_word_boxes_are_the_matching_words_or_whole_lines_without_words():
    lines = [
        {
            "text": "Total due",
            "box": [10, 10, 200, 30],
            "words": [
                {"text": "Total", "box": [10, 10, 80, 30]},
                {"text": "due", "box": [90, 12, 200, 30]},
            ],
        },
        {"text": "amount due later", "box": [5, 50, 300, 70], "words": []},
        {"text": "nothing", "box": [5, 90, 100, 110], "words": []},
    ]

    assert word_boxes(lines, terms_pattern(["due"])) == [(90, 12, 110, 18), (5, 50, 295, 20)]
    assert word_boxes(lines, None) == []


def rows(html: str) -> list[str]:
    return re.findall(r'<tr id="task-([0-9a-f-]+)"', html)


def test_the_list_shows_hit_counts_and_snippets_with_page_links(page_client, user, make_task_row):
    task = make_task_row(
        user,
        status=Status.COMPLETED,
        page_count=2,
        result_text="Invoice 42\fTotal amount due: 17 EUR, amount <b>due</b> now",
    )

    html = page_client.get("/", {"q": "amount"}).content.decode()

    assert rows(html) == [str(task.pk)]
    assert "2 hits" in html
    assert f'href="/tasks/{task.pk}/?q=amount#page-2">p. 2</a>' in html
    assert "Total <mark>amount</mark> due: 17 EUR" in html
    # The document's own markup is text, never HTML.
    assert "&lt;b&gt;due&lt;/b&gt;" in html


def test_the_list_without_a_search_shows_no_hits(page_client, user, make_task_row):
    make_task_row(user, status=Status.COMPLETED, result_text="amount")

    html = page_client.get("/").content.decode()

    assert 'class="hits"' not in html and "<mark>" not in html


@pytest.fixture
def read_task(user, make_task_row):
    task = make_task_row(
        user,
        status=Status.COMPLETED,
        page_count=2,
        pages_done=2,
        result_text="first page\fThe harbour master",
    )
    OcrPage.objects.create(
        task=task, index=0, text="first page", source="ocr", width=400, height=200, lines=[]
    )
    OcrPage.objects.create(
        task=task,
        index=1,
        text="The harbour master",
        source="ocr",
        width=400,
        height=200,
        lines=[
            {
                "text": "The harbour master",
                "confidence": 90,
                "box": [10, 10, 390, 40],
                "words": [
                    {"text": "The", "confidence": 90, "box": [10, 10, 60, 40]},
                    {"text": "harbour", "confidence": 90, "box": [70, 10, 220, 40]},
                    {"text": "master", "confidence": 90, "box": [230, 10, 390, 40]},
                ],
            }
        ],
    )
    return task


def test_the_detail_page_highlights_the_term_in_the_text_and_on_the_image(page_client, read_task):
    html = page_client.get(f"/tasks/{read_task.pk}/", {"q": "Harbour"}).content.decode()

    assert "1 hit" in html
    assert '<a href="#page-2">2</a>' in html
    assert "The <mark>harbour</mark> master" in html
    assert '<svg class="hit-boxes" viewBox="0 0 400 200"' in html
    assert '<rect x="70" y="10" width="150" height="30">' in html


def test_the_detail_page_says_when_the_document_has_no_hit(page_client, read_task):
    html = page_client.get(f"/tasks/{read_task.pk}/", {"q": "absent"}).content.decode()

    assert "No hit for “absent” in this document." in html
    assert "<mark>" not in html and "hit-boxes" not in html


def test_searching_another_users_document_is_not_found(client_for, other_user, read_task):
    response = client_for(other_user).get(f"/tasks/{read_task.pk}/", {"q": "harbour"})

    assert response.status_code == 404
