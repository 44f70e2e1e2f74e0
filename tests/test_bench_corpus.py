"""The real-document corpus: its manifest, the fetcher's checks, the ground-truth text."""

import hashlib
import io
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench.catalogue import BY_NAME
from bench.corpus.fetch import CorpusUnavailable, Document, Package, fetch, load_manifest
from bench.corpus.truth import modernised, page_xml_text
from bench.runner import FIGURES

PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2013-07-15"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_document_names_a_package_a_digest_and_a_known_way_up():
    documents = load_manifest()
    assert len({document.id for document in documents}) == len(documents)
    for document in documents:
        assert re.fullmatch(r"[0-9a-f]{64}", document.sha256), document.id
        assert re.fullmatch(r"[0-9a-f]{64}", document.package.sha256), document.id
        assert document.package.licence and document.package.origin
        assert document.turn in (0, 90, 180, 270), document.id
        assert bool(document.truth) == bool(document.truth_sha256), document.id
    assert any(document.truth for document in documents)


def test_the_figure_is_in_the_bench():
    assert "corpus" in FIGURES
    assert BY_NAME["corpus"].module == "bench.figures.corpus"


def sdist(folder: Path, files: dict[str, bytes]) -> Path:
    archive = folder / "demo-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return archive


def nested_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


def demo(archive: Path, *, member: str, sha256: str, **extra) -> Document:
    package = Package(
        key="demo",
        name="demo",
        version="1.0",
        archive=archive.name,
        sha256=digest(archive.read_bytes()),
        licence="MIT",
        origin="made by the test",
    )
    return Document(
        id="page", package=package, member=member, sha256=sha256, title="", language="eng", **extra
    )


def test_a_cached_sdist_gives_its_files_and_their_truth_from_a_nested_zip(tmp_path):
    image, truth = b"\x89PNG fake page", b"<PcGts/>"
    inner = nested_zip({"IMG/page_TIF": image, "GT/page_XML": truth})
    archives = tmp_path / "cache" / "archives"
    archives.mkdir(parents=True)
    archive = sdist(archives, {"demo-1.0/assets/ws.zip": inner})
    document = demo(
        archive,
        member="demo-1.0/assets/ws.zip!IMG/page_TIF",
        sha256=digest(image),
        truth="demo-1.0/assets/ws.zip!GT/page_XML",
        truth_sha256=digest(truth),
    )

    [fetched] = fetch(cache=tmp_path / "cache", documents=[document])

    assert fetched.path.name == "page.tif"
    assert fetched.path.read_bytes() == image
    assert fetched.truth_path is not None
    assert fetched.truth_path.read_bytes() == truth


def test_a_file_that_is_not_the_manifests_is_refused_and_not_written(tmp_path):
    archives = tmp_path / "cache" / "archives"
    archives.mkdir(parents=True)
    archive = sdist(archives, {"demo-1.0/page.png": b"another page"})
    document = demo(archive, member="demo-1.0/page.png", sha256=digest(b"the page"))

    with pytest.raises(CorpusUnavailable, match="does not have sha256"):
        fetch(cache=tmp_path / "cache", documents=[document])
    assert not (tmp_path / "cache" / "files" / "page.png").exists()


def test_an_sdist_that_is_not_the_manifests_is_refused(tmp_path):
    archives = tmp_path / "cache" / "archives"
    archives.mkdir(parents=True)
    archive = sdist(archives, {"demo-1.0/page.png": b"the page"})
    document = demo(archive, member="demo-1.0/page.png", sha256=digest(b"the page"))
    archive.write_bytes(archive.read_bytes() + b"changed")

    with pytest.raises(CorpusUnavailable, match="not the file the corpus was made from"):
        fetch(cache=tmp_path / "cache", documents=[document])


def test_page_xml_lines_come_in_reading_order_without_their_words():
    xml = f"""<PcGts xmlns="{PAGE_NS}"><Page>
      <ReadingOrder><OrderedGroup id="g">
        <RegionRefIndexed index="0" regionRef="head"/>
        <RegionRefIndexed index="1" regionRef="body"/>
      </OrderedGroup></ReadingOrder>
      <TextRegion id="body">
        <TextLine id="l2"><Word id="w"><TextEquiv><Unicode>i\u017ft</Unicode></TextEquiv></Word>
          <TextEquiv><Unicode>Was i\u017ft Aufkla\u0364rung?</Unicode></TextEquiv></TextLine>
        <TextEquiv><Unicode>the region's own text, not a line</Unicode></TextEquiv>
      </TextRegion>
      <TextRegion id="head">
        <TextLine id="l1">
          <TextEquiv><Unicode>Berlini\u017fche Monats\u017fchrift.</Unicode></TextEquiv>
        </TextLine>
      </TextRegion>
    </Page></PcGts>""".encode()

    text = page_xml_text(xml)

    assert text == "Berlini\u017fche Monats\u017fchrift.\nWas i\u017ft Aufkla\u0364rung?"
    assert modernised(text) == "Berlinische Monatsschrift.\nWas ist Aufklärung?"


@pytest.mark.parametrize(
    ("line", "turn"),
    [
        # A photo whose EXIF tag turned it upright: OCRmyPDF keeps the tag's turn.
        (
            "   1 with existing rotation ⇨, page is facing ⇧, confidence 16.11 - rotation "
            "appears correct",
            90,
        ),
        # The page's top faces right: OCRmyPDF turns it a quarter anticlockwise.
        ("   1 page is facing ⇨, confidence 14.94 - will rotate ⬏", 270),
        ("   1 page is facing ⇩, confidence 1.20 - confidence too low to rotate", 0),
        ("   1 no orientation line at all", None),
    ],
)
def test_ocrmypdfs_turn_is_read_from_its_log(line, turn):
    from bench.figures.corpus import ocrmypdf_turn

    assert ocrmypdf_turn(f"   1 Rasterize with png16m\n{line}\n") == turn
