"""Choose the searchable PDF's encoding of each scanned page's image while the pages are read.

Shrinking the output's images (tasks.pdf.images) decodes and re-encodes every page's
image: 0.85 s of one core for a 12-page noisy scan, after the last page was read, while
the other core waited. A page-reader child (tasks.ocr.page_reader) that has just read a
PDF page instead makes the same choice for the images of that page, as they are in the
original (`page_image_encodings`, handed to the child as its job's `prepare_output`). The
worker keeps the answers on disk (`PreparedImages`) and `shrink_images` takes each one
whose key matches a stream of the laid-out PDF: the same bytes under the same decoding
entries and output settings. An image not prepared, or changed on the way, is encoded
then, as before.
"""

import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from types import TracebackType

import pikepdf

from .images import Encoded, best_encoding, may_shrink, stream_key


def page_image_encodings(
    path: str, index: int, *, quality: int, keep_lossless: bool
) -> dict[str, Encoded | None]:
    """Return the choice for each image on page `index` of the PDF at `path`, by stream key.

    Run in a page-reader child after the page was read. A file pikepdf cannot read gives
    no choices: the PDF build then meets the same file and decides what to do with it.
    """
    choices: dict[str, Encoded | None] = {}
    try:
        with pikepdf.open(path) as pdf:
            for stream in pdf.pages[index].get_images().values():
                if isinstance(stream, pikepdf.Stream) and may_shrink(stream):
                    key = stream_key(stream, quality=quality, keep_lossless=keep_lossless)
                    if key not in choices:
                        choices[key] = best_encoding(
                            stream, quality=quality, keep_lossless=keep_lossless
                        )
    except (pikepdf.PdfError, IndexError, ValueError, NotImplementedError):
        return {}
    return choices


@dataclass(frozen=True)
class _Spilled:
    offset: int
    length: int
    encoding: Encoded  # with empty data: the bytes are in the file


class PreparedImages(Mapping[str, Encoded | None]):
    """The choices made ahead for one task, their image bytes in a temporary file.

    On disk, not in memory: a long scan's images are as large as the output PDF. Used as
    a context manager, which removes the file.
    """

    def __init__(self) -> None:
        # Closed by close() or the context manager: it lives as long as the task's reading.
        self._file = tempfile.TemporaryFile()  # noqa: SIM115
        self._choices: dict[str, _Spilled | None] = {}

    def add(self, choices: Mapping[str, Encoded | None]) -> None:
        for key, encoding in choices.items():
            if encoding is None:
                self._choices[key] = None
                continue
            offset = self._file.seek(0, 2)
            self._file.write(encoding.data)
            self._choices[key] = _Spilled(offset, len(encoding.data), replace(encoding, data=b""))

    def __getitem__(self, key: str) -> Encoded | None:
        spilled = self._choices[key]
        if spilled is None:
            return None
        self._file.seek(spilled.offset)
        return replace(spilled.encoding, data=self._file.read(spilled.length))

    def __iter__(self) -> Iterator[str]:
        return iter(self._choices)

    def __len__(self) -> int:
        return len(self._choices)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "PreparedImages":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
