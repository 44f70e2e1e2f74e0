"""The output's image encodings chosen while the pages are read: the same PDF, built sooner.

A page-reader child chooses each scanned page's image encoding as it finishes the page
(tasks.pdf.prepared_images); the PDF build then writes that choice instead of decoding and
encoding the image again. What it writes must be exactly what the build would have chosen.
"""

import io

import pikepdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tasks.models import Status
from tasks.pdf import images
from tasks.pdf.images import Encoded, shrink_images
from tasks.pdf.prepared_images import PreparedImages, page_image_encodings
from tasks.pdf.searchable import write_searchable_pdf

from .samples import scan_pdf_bytes
from .scan_corpus import PAGE_INCHES, noisy, upright_page

worker_db = pytest.mark.django_db(transaction=True)


def noisy_scan(path, *, pages: int = 2, seed: int = 2700) -> str:
    """Write a scan of noisy 150 dpi grey pages stored as Flate (JPEG makes them smaller)."""
    scans = []
    for index in range(pages):
        image, _ = upright_page(seed=seed + index, font="DejaVu Sans", dpi=150)
        scans.append((noisy(image, seed=index), *PAGE_INCHES))
    path.write_bytes(scan_pdf_bytes(scans))
    return str(path)


def image_streams(data: bytes) -> list[tuple[str, bytes]]:
    """Return each page's image as (filter, raw bytes), in page order."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [
            (str(stream.get("/Filter")), bytes(stream.read_raw_bytes()))
            for page in pdf.pages
            for stream in page.get_images().values()
        ]


def shrunk(path: str, **options) -> bytes:
    with pikepdf.open(path) as pdf:
        shrink_images(pdf, quality=85, keep_lossless=False, **options)
        output = io.BytesIO()
        pdf.save(output)
    return output.getvalue()


def prepared_for(path: str, pages: int, **settings) -> PreparedImages:
    prepared = PreparedImages()
    for index in range(pages):
        choices = page_image_encodings(
            path, index, **{"quality": 85, "keep_lossless": False, **settings}
        )
        prepared.add(choices)
    return prepared


def refuse_to_encode(stream, **kwargs):
    raise AssertionError("an image prepared ahead was decoded and encoded again")


def test_prepared_choices_give_the_same_images_without_encoding_again(tmp_path, monkeypatch):
    path = noisy_scan(tmp_path / "scan.pdf")
    expected = shrunk(path)
    with prepared_for(path, 2) as prepared:
        assert len(prepared) == 2
        monkeypatch.setattr(images, "best_encoding", refuse_to_encode)

        output = shrunk(path, prepared=prepared)

    assert image_streams(output) == image_streams(expected)
    # The noisy Flate pages became JPEG: the choice was not "leave it".
    assert [name for name, _ in image_streams(output)] == ["/DCTDecode", "/DCTDecode"]


def test_an_image_that_is_not_the_one_prepared_is_encoded_then(tmp_path):
    path = noisy_scan(tmp_path / "scan.pdf")
    other = noisy_scan(tmp_path / "other.pdf", seed=2800)
    with prepared_for(other, 2) as prepared:
        output = shrunk(path, prepared=prepared)

    assert image_streams(output) == image_streams(shrunk(path))


@pytest.mark.parametrize("other", [{"quality": 60}, {"keep_lossless": True}])
def test_choices_made_under_other_output_settings_are_not_taken(tmp_path, monkeypatch, other):
    path = noisy_scan(tmp_path / "scan.pdf", pages=1)
    encoded = []
    real = images.best_encoding

    def counted(stream, **kwargs):
        encoded.append(kwargs)
        return real(stream, **kwargs)

    with prepared_for(path, 1, **other) as prepared:
        monkeypatch.setattr(images, "best_encoding", counted)
        shrunk(path, prepared=prepared)

    assert encoded == [{"quality": 85, "keep_lossless": False}]


def test_a_file_pikepdf_cannot_read_prepares_nothing(tmp_path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nnot a PDF at all")

    assert page_image_encodings(str(broken), 0, quality=85, keep_lossless=False) == {}
    assert (
        page_image_encodings(
            noisy_scan(tmp_path / "one.pdf", pages=1), 5, quality=85, keep_lossless=False
        )
        == {}
    )


def test_prepared_images_keep_the_bytes_on_disk_and_give_them_back():
    choice = Encoded(
        data=b"\xff\xd8 jpeg bytes", filter="/DCTDecode", colour_space="/DeviceGray", bits=8
    )
    with PreparedImages() as prepared:
        prepared.add({"kept": None, "shrunk": choice})

        assert prepared["shrunk"] == choice
        assert prepared["kept"] is None
        assert set(prepared) == {"kept", "shrunk"}
        assert all(
            spilled is None or spilled.encoding.data == b""
            for spilled in prepared._choices.values()
        )
        spilled = prepared._file
    assert spilled.closed


@worker_db
def test_page_processes_choose_the_output_images_and_the_pdf_is_the_one_built_after(
    settings, user, make_task, processed, monkeypatch, tmp_path
):
    settings.OCR_PAGE_PROCESSES = 2
    noisy_scan(tmp_path / "scan.pdf", pages=3)
    data = (tmp_path / "scan.pdf").read_bytes()
    upload = SimpleUploadedFile("scan.pdf", data, content_type="application/pdf")
    # The pool children are other processes: only the worker's own encoding is refused.
    monkeypatch.setattr(images, "best_encoding", refuse_to_encode)

    task = processed(make_task(user, upload))

    assert task.status == Status.COMPLETED, task.error
    stored = task.searchable_pdf.read()
    monkeypatch.undo()
    rebuilt = io.BytesIO()
    write_searchable_pdf(task=task, output=rebuilt)  # nothing prepared: encoded here
    assert image_streams(stored) == image_streams(rebuilt.getvalue())
    assert [name for name, _ in image_streams(stored)] == ["/DCTDecode"] * 3
    assert len(stored) < 0.8 * len(data)
