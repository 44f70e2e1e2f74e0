"""What counts as text rather than junk read off a picture."""

from tasks.ocr.plausible import is_word, looks_like_text


def test_marks_are_not_words_and_words_and_numbers_are():
    assert [is_word(text) for text in ("o", "/", "\\", "|", "X", "Tyl", "2024", "区域")] == [
        False, False, False, False, False, True, True, True,
    ]  # fmt: skip


def test_the_reported_junk_is_not_text_and_a_one_word_page_is():
    # Read as "R AL, Tyl / o / S Sl" off a photograph, trusted at 30-50.
    junk = [("R", 45.0), ("AL,", 38.0), ("Tyl", 31.0), ("/", 60.0), ("o", 52.0), ("Sl", 40.0)]

    assert not looks_like_text(junk)
    assert not looks_like_text([("X", 85.0), ("区2", 51.0)])
    assert not looks_like_text([])
    assert looks_like_text([("Invoice", 91.0)])


def test_a_page_of_words_the_engine_barely_trusts_is_not_text():
    assert not looks_like_text([("VN", 70.0), ("PE", 55.0), ("mwz", 50.0), ("|", 40.0)])
