"""Text decoding in chunks: UTF-8, GBK and GB18030, detected from the bytes and checked throughout.

A file is read in blocks of whole lines (a newline byte never occurs inside a UTF-8 or GB18030
multi-byte character, so cutting after a newline is always safe). The encoding is decided by the
first block that holds a non-ASCII byte:

- a UTF-8 byte-order mark means UTF-8; a UTF-16/32 mark is refused with a clear message;
- bytes that decode as UTF-8 mean UTF-8 (GBK text is almost never valid UTF-8);
- otherwise bytes that decode as GB18030 (a superset of GBK and GB2312) mean GB18030;
- otherwise the line that is neither is reported.

Then every later block is checked against that decision, so a file that mixes encodings stops with
the first offending line: in a UTF-8 file, a line that is not valid UTF-8; in a GB18030 file, a line
with CJK characters that is valid UTF-8 (three-byte sequences), which GBK text practically never is.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from gaodi.engines.dataquality.errors import EncodingError

_ALIASES = {
    "utf8": "utf-8", "utf-8": "utf-8", "utf-8-sig": "utf-8", "utf8-sig": "utf-8",
    "gbk": "gbk", "cp936": "gbk", "gb2312": "gbk", "gb18030": "gb18030",
}
_LABELS = {"utf-8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}
_ONE_ENCODING = "save the whole file in one encoding, preferably UTF-8"


def normalise_encoding(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    if key not in _ALIASES:
        raise EncodingError(
            f"encoding {name!r} is not supported", hint="use utf-8, gbk or gb18030, or leave it out to detect"
        )
    return _ALIASES[key]


def _looks_utf8_cjk(line: bytes) -> bool:
    """True if a non-ASCII line is valid UTF-8 with at least one three-byte character."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return any("\u0800" <= ch <= "\uffff" for ch in text)


@dataclass
class TextBlock:
    data: bytes  # UTF-8, whole lines, each ending with b"\n"
    first_line: int  # 1-based line number of the first line in `data`
    raw_bytes: int  # bytes of the source file this block consumed


class TextDecoder:
    """Reads a binary stream as blocks of whole lines, transcoded to UTF-8."""

    def __init__(self, stream: BinaryIO, *, path: str, encoding: str | None = None,
                 chunk_bytes: int = 16 << 20, max_line_bytes: int = 64 << 20) -> None:
        self.stream = stream
        self.path = path
        self.chunk_bytes = max(1024, chunk_bytes)
        self.max_line_bytes = max_line_bytes
        self.encoding: str | None = normalise_encoding(encoding) if encoding else None
        self.declared = encoding is not None
        self.lines = 0

    @property
    def label(self) -> str:
        return _LABELS.get(self.encoding or "utf-8", "UTF-8") if self.encoding else "ASCII"

    def blocks(self, progress: Callable[[int], None] | None = None) -> Iterator[TextBlock]:
        carry = b""
        first = True
        while True:
            chunk = self.stream.read(self.chunk_bytes)
            if first:
                first = False
                chunk = self._strip_bom(chunk)
            if not chunk:
                if carry:
                    if not carry.endswith(b"\n"):
                        carry += b"\n"
                    yield self._decode(carry, len(carry))
                return
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > self.max_line_bytes:
                    raise EncodingError(
                        f"a line longer than {self.max_line_bytes >> 20} MiB", path=self.path, line=self.lines + 1,
                        hint="is this a line-oriented text file (CSV or JSON Lines)?",
                    )
                carry = data
                continue
            carry = data[cut + 1 :]
            block = data[: cut + 1]
            yield self._decode(block, len(chunk))
            if progress:
                progress(len(chunk))

    def _strip_bom(self, chunk: bytes) -> bytes:
        if chunk.startswith(codecs.BOM_UTF8):
            if self.encoding not in (None, "utf-8"):
                raise EncodingError("the file starts with a UTF-8 byte-order mark but was declared "
                                    f"{self.encoding}", path=self.path, line=1)
            self.encoding = "utf-8"
            return chunk[len(codecs.BOM_UTF8) :]
        if chunk.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            raise EncodingError("UTF-16/UTF-32 text is not supported", path=self.path, line=1,
                                hint="save the file as UTF-8 or GB18030")
        return chunk

    def _line_of(self, block: bytes, offset: int) -> int:
        return self.lines + block.count(b"\n", 0, offset) + 1

    def _decode(self, block: bytes, raw: int) -> TextBlock:
        first_line = self.lines + 1
        if self.encoding is None and block.isascii():
            out = block
        else:
            if self.encoding is None:
                self.encoding = self._detect(block)
            out = self._checked(block)
        self.lines += block.count(b"\n")
        return TextBlock(out, first_line, raw)

    def _detect(self, block: bytes) -> str:
        """The encoding of the first line with a non-ASCII byte (the whole block if it is all UTF-8)."""
        try:
            block.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
        start = 0
        for line in block.split(b"\n"):
            if not line.isascii():
                try:
                    line.decode("utf-8")
                    return "utf-8"
                except UnicodeDecodeError:
                    pass
                try:
                    line.decode("gb18030")
                    return "gb18030"
                except UnicodeDecodeError:
                    raise EncodingError(
                        "bytes that are neither UTF-8 nor GBK/GB18030", path=self.path,
                        line=self._line_of(block, start), hint="save the file as UTF-8",
                    ) from None
            start += len(line) + 1
        return "utf-8"

    def _checked(self, block: bytes) -> bytes:
        encoding = self.encoding or "utf-8"
        if encoding == "utf-8":
            try:
                block.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = self._line_of(block, exc.start)
                gb = False
                try:
                    bad = block[block.rfind(b"\n", 0, exc.start) + 1 : block.find(b"\n", exc.start)]
                    bad.decode("gb18030")
                    gb = True
                except UnicodeDecodeError:
                    pass
                if self.declared:
                    msg = "bytes that are not valid UTF-8 (the encoding given)"
                else:
                    msg = "bytes that are not valid UTF-8 although the file so far is UTF-8" + (
                        ": this line looks like GBK/GB18030, the file mixes encodings" if gb else ""
                    )
                raise EncodingError(msg, path=self.path, line=line,
                                    hint=_ONE_ENCODING) from None
            return block
        try:
            text = block.decode(encoding)
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"bytes that are not valid {_LABELS[encoding]}", path=self.path, line=self._line_of(block, exc.start),
                hint=_ONE_ENCODING,
            ) from None
        if not self.declared:
            start = 0
            for raw_line in block.split(b"\n"):
                if not raw_line.isascii() and _looks_utf8_cjk(raw_line):
                    raise EncodingError(
                        f"this line is UTF-8 although the file so far is {_LABELS[encoding]}: the file mixes encodings",
                        path=self.path, line=self._line_of(block, start),
                        hint=_ONE_ENCODING,
                    )
                start += len(raw_line) + 1
        return text.encode("utf-8")
