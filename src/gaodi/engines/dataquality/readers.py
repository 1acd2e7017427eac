"""Streaming table readers: CSV, JSON Lines, Parquet and Excel, as batches of Polars frames.

Memory stays bounded by one batch whatever the file size:

- CSV and JSON Lines are read in blocks of whole lines (`encoding.TextDecoder`, default 16 MiB),
  transcoded to UTF-8 on the way. For CSV, record boundaries are found with NumPy over the block's
  bytes, honouring RFC 4180 quotes (a newline ends a record only outside quotes: an even number of
  ``"`` before it), so a quoted field with a line break is kept whole. The same pass counts the
  fields of every record, so a ragged row is reported with its line number and the expected and
  actual field counts, or skipped and counted (``on_bad_row="skip"``). Fields stay text; the
  profiler infers types (`schema`), the scanner looks at the text as written.
- Parquet is read in slices of ``batch_rows`` rows by Polars (only the row groups a slice touches
  are decoded).
- Excel workbooks are read whole (they are small by nature) after guards: a size limit, and a zip
  bomb check of the declared and then the actual uncompressed sizes (`excel`). Formulas give their
  cached values; merged cells are filled with the value of their top-left cell.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from gaodi.engines.dataquality.encoding import TextBlock, TextDecoder
from gaodi.engines.dataquality.errors import BadRowError, DataQualityError, UnsupportedFormatError

Progress = Callable[[int], None]

FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
}


@dataclass(frozen=True)
class ReadOptions:
    format: str | None = None  # csv, jsonl, parquet, excel; None: from the file extension
    encoding: str | None = None  # text files: None detects UTF-8 / GB18030
    delimiter: str | None = None  # CSV: None means "," (or tab for .tsv)
    has_header: bool = True
    chunk_bytes: int = 16 << 20  # text files: bytes read per block
    batch_rows: int = 262_144  # Parquet and Excel: rows per batch
    on_bad_row: Literal["error", "skip"] = "error"
    max_line_bytes: int = 64 << 20
    sheet: str | int = 0  # Excel
    max_excel_bytes: int = 50 << 20
    max_excel_uncompressed_bytes: int = 256 << 20
    max_excel_ratio: float = 100.0


@dataclass
class BadRow:
    line: int
    reason: str
    expected: int | None = None
    actual: int | None = None


@dataclass
class ReadStats:
    path: str
    format: str
    size_bytes: int
    encoding: str | None = None
    rows: int = 0
    batches: int = 0
    columns: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)  # as written in the file (before de-duplication)
    bad_rows: int = 0
    bad_row_samples: list[BadRow] = field(default_factory=list)
    blank_lines: int = 0
    sheet: str | None = None
    merged_ranges: int = 0
    formula_cells: int = 0
    formula_cells_without_value: int = 0

    def add_bad_row(self, bad: BadRow) -> None:
        self.bad_rows += 1
        if len(self.bad_row_samples) < 10:
            self.bad_row_samples.append(bad)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unique_names(header: list[str]) -> list[str]:
    """Column names as used: empty ones become column_N, repeats get _2, _3."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            candidate = f"{name}_{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}_{seen[name]}"
            name = candidate
        seen.setdefault(name, 1)
        out.append(name)
    return out


def prefetch(batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    """Read the next batch in a background thread while the caller works on the current one.

    Reading (Parquet decoding, CSV parsing) runs in Rust without the GIL, so it overlaps with the
    profiler's own work; at most two batches are in memory. Errors surface at the batch they belong to.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gaodi-dq-read") as pool:
        pending = pool.submit(next, batches, None)
        try:
            while True:
                batch = pending.result()
                if batch is None:
                    return
                pending = pool.submit(next, batches, None)
                yield batch
        finally:
            pending.cancel()


class TableReader:
    """A file opened for reading in batches. `stats` fills in as batches are read."""

    def __init__(self, path: Path, fmt: str, options: ReadOptions) -> None:
        self.path = path
        self.format = fmt
        self.options = options
        self.stats = ReadStats(str(path), fmt, path.stat().st_size)

    def batches(self, progress: Progress | None = None) -> Iterator[pl.DataFrame]:
        for batch in self._batches(progress):
            self.stats.rows += batch.height
            self.stats.batches += 1
            if not self.stats.columns:
                self.stats.columns = list(batch.columns)
            yield batch

    def _batches(self, progress: Progress | None) -> Iterator[pl.DataFrame]:
        raise NotImplementedError


# --- CSV ---------------------------------------------------------------------------------------


class CsvReader(TableReader):
    def __init__(self, path: Path, fmt: str, options: ReadOptions) -> None:
        super().__init__(path, fmt, options)
        delimiter = options.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        if delimiter == "\\t":
            delimiter = "\t"
        if len(delimiter) != 1 or delimiter in '"\n\r' or ord(delimiter) > 127:
            raise DataQualityError(f"delimiter {delimiter!r} is not usable", path=str(path),
                                   hint="give one ASCII character such as , ; | or tab")
        self.delimiter = delimiter
        self.names: list[str] = []

    def _batches(self, progress: Progress | None) -> Iterator[pl.DataFrame]:
        with self.path.open("rb") as stream:
            decoder = TextDecoder(stream, path=str(self.path), encoding=self.options.encoding,
                                  chunk_bytes=self.options.chunk_bytes, max_line_bytes=self.options.max_line_bytes)
            pending = b""
            pending_line = 1
            for block in decoder.blocks(progress):
                self.stats.encoding = decoder.label
                data = pending + block.data if pending else block.data
                base_line = pending_line if pending else block.first_line
                frame, used, used_lines = self._parse(data, base_line)
                pending = data[used:]
                pending_line = base_line + used_lines
                if len(pending) > self.options.max_line_bytes:
                    raise BadRowError("a quoted field that is never closed (unbalanced double quote)",
                                      path=str(self.path), line=pending_line,
                                      hint="close the quote or remove the stray double quote")
                if frame is not None and frame.height:
                    yield frame
            self.stats.encoding = decoder.label
            if pending:
                raise BadRowError("a quoted field that is never closed (unbalanced double quote)",
                                  path=str(self.path), line=pending_line,
                                  hint="close the quote or remove the stray double quote")
            if not self.names:
                raise DataQualityError("the file is empty: no header line", path=str(self.path))

    def _parse(self, data: bytes, base_line: int) -> tuple[pl.DataFrame | None, int, int]:
        """Parse the complete records in `data`; return the frame, bytes used and lines used."""
        arr = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(arr == 10)
        quotes = arr == 34
        if quotes.any():
            parity = np.cumsum(quotes, dtype=np.uint8) & 1
            ends = newlines[parity[newlines] == 0]
            delims = np.flatnonzero((arr == ord(self.delimiter)) & (parity == 0))
        else:
            ends = newlines
            delims = np.flatnonzero(arr == ord(self.delimiter))
        if len(ends) == 0:
            return None, 0, 0
        used = int(ends[-1]) + 1
        used_lines = int(np.searchsorted(newlines, used))
        starts = np.concatenate([[0], ends[:-1] + 1])
        fields = np.bincount(np.searchsorted(ends, delims), minlength=len(ends))[: len(ends)] + 1
        lengths = ends - starts
        cr = (lengths == 1) & (arr[np.maximum(ends - 1, 0)] == 13)
        blank = (lengths == 0) | cr
        lines = base_line + np.searchsorted(newlines, starts)
        keep = ~blank
        if not self.names:
            first = int(np.flatnonzero(keep)[0]) if keep.any() else -1
            if first < 0:
                self.stats.blank_lines += int(blank.sum())
                return None, used, used_lines
            header_text = data[starts[first] : ends[first]].decode("utf-8").rstrip("\r")
            header = next(csv.reader([header_text], delimiter=self.delimiter))
            if self.options.has_header:
                self.stats.header = header
                self.names = unique_names(header)
                keep[first] = False
            else:
                self.names = [f"column_{i + 1}" for i in range(len(header))]
                self.stats.header = list(self.names)
            keep[:first] = False
        self.stats.blank_lines += int(blank.sum())
        expected = len(self.names)
        ragged = keep & (fields != expected)
        if ragged.any():
            index = np.flatnonzero(ragged)
            if self.options.on_bad_row == "error":
                i = int(index[0])
                raise BadRowError(
                    f"expected {expected} fields, found {int(fields[i])}", path=str(self.path),
                    line=int(lines[i]), expected=expected, actual=int(fields[i]),
                    hint="fix the row, or skip and count such rows: on_bad_row='skip', on the command line --skip-bad-rows",
                )
            for i in index:
                self.stats.add_bad_row(BadRow(int(lines[i]), "wrong number of fields", expected, int(fields[i])))
            keep &= ~ragged
        if not keep.any():
            return None, used, used_lines
        if keep.all() and used == len(data):
            body = data
        else:
            body = b"".join(data[int(s) : int(e) + 1] for s, e in zip(starts[keep], ends[keep], strict=True))
        try:
            frame = pl.read_csv(
                io.BytesIO(body), has_header=False, new_columns=self.names, infer_schema=False,
                separator=self.delimiter, quote_char='"', raise_if_empty=False, truncate_ragged_lines=False,
            )
        except pl.exceptions.PolarsError as exc:
            first_line, last_line = int(lines[keep][0]), int(lines[keep][-1])
            raise DataQualityError(
                f"lines {first_line}-{last_line} could not be parsed: {str(exc).splitlines()[0]}",
                path=str(self.path), hint="check the quoting: in RFC 4180 a double quote inside a quoted field is written twice",
            ) from None
        if frame.height != int(keep.sum()):
            first_line, last_line = int(lines[keep][0]), int(lines[keep][-1])
            raise DataQualityError(
                f"lines {first_line}-{last_line}: {int(keep.sum())} records found but {frame.height} parsed",
                path=str(self.path), hint="check the quoting: in RFC 4180 a double quote inside a quoted field is written twice",
            )
        # Quoted CRLF files: Polars keeps a trailing \r in the last field only when it is quoted text.
        last = self.names[-1]
        frame = frame.with_columns(pl.col(last).str.strip_suffix("\r"))
        return frame, used, used_lines


# --- JSON Lines --------------------------------------------------------------------------------


class JsonLinesReader(TableReader):
    def _batches(self, progress: Progress | None) -> Iterator[pl.DataFrame]:
        with self.path.open("rb") as stream:
            decoder = TextDecoder(stream, path=str(self.path), encoding=self.options.encoding,
                                  chunk_bytes=self.options.chunk_bytes, max_line_bytes=self.options.max_line_bytes)
            for block in decoder.blocks(progress):
                self.stats.encoding = decoder.label
                frame = self._parse(block)
                if frame is not None and frame.height:
                    yield frame

    def _parse(self, block: TextBlock) -> pl.DataFrame | None:
        lines = block.data.split(b"\n")[:-1]
        kept: list[bytes] = []
        clean = True
        for offset, line in enumerate(lines):
            stripped = line.strip()
            if not stripped:
                self.stats.blank_lines += 1
                clean = False
                continue
            if not stripped.startswith(b"{"):
                clean = False
                self._bad(block.first_line + offset, "not a JSON object")
                continue
            kept.append(stripped)
        body = block.data if clean else b"\n".join(kept) + b"\n"
        if not kept:
            return None
        try:
            return pl.read_ndjson(io.BytesIO(body), infer_schema_length=None)
        except pl.exceptions.PolarsError:
            pass
        # Find the lines that are not valid JSON (only for a block that failed).
        good: list[bytes] = []
        for offset, line in enumerate(lines):
            stripped = line.strip()
            if not stripped or not stripped.startswith(b"{"):
                continue
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                self._bad(block.first_line + offset, f"not valid JSON ({exc.msg} at character {exc.pos + 1})")
                continue
            except ValueError as exc:
                self._bad(block.first_line + offset, f"not valid JSON ({exc})")
                continue
            if not isinstance(value, dict):
                self._bad(block.first_line + offset, "not a JSON object")
                continue
            good.append(stripped)
        if not good:
            return None
        try:
            return pl.read_ndjson(io.BytesIO(b"\n".join(good) + b"\n"), infer_schema_length=None)
        except pl.exceptions.PolarsError as exc:
            raise DataQualityError(
                f"lines {block.first_line}-{block.first_line + len(lines) - 1}: values of different types in one "
                f"field could not be combined: {str(exc).splitlines()[0]}", path=str(self.path),
            ) from None

    def _bad(self, line: int, reason: str) -> None:
        if self.options.on_bad_row == "error":
            raise BadRowError(reason, path=str(self.path), line=line,
                              hint="fix the line, or skip and count such lines: on_bad_row='skip', on the command line --skip-bad-rows")
        self.stats.add_bad_row(BadRow(line, reason))


# --- Parquet -----------------------------------------------------------------------------------


class ParquetReader(TableReader):
    """Slices of `batch_rows` rows through Polars' Parquet reader (slice pushdown: only the row groups
    a slice touches are read, so memory is bounded by a batch plus at most one row group)."""

    def _batches(self, progress: Progress | None) -> Iterator[pl.DataFrame]:
        try:
            scan = pl.scan_parquet(self.path)
            self.stats.header = list(scan.collect_schema().names())
            total = int(scan.select(pl.len()).collect().item())
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise UnsupportedFormatError(f"not a readable Parquet file: {str(exc).splitlines()[0]}",
                                         path=str(self.path)) from None
        size = self.stats.size_bytes
        reported = 0
        step = max(1, self.options.batch_rows)
        for offset in range(0, total, step):
            try:
                frame = scan.slice(offset, step).collect()
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise DataQualityError(f"the Parquet file is damaged after row {offset}: "
                                       f"{str(exc).splitlines()[0]}", path=str(self.path)) from None
            if progress:
                now = size * min(total, offset + step) // max(1, total)
                progress(now - reported)
                reported = now
            yield frame


# --- Excel -------------------------------------------------------------------------------------


class ExcelReader(TableReader):
    def _batches(self, progress: Progress | None) -> Iterator[pl.DataFrame]:
        from gaodi.engines.dataquality.excel import read_workbook

        frame, info = read_workbook(self.path, self.options)
        self.stats.sheet = info.sheet
        self.stats.header = info.header
        self.stats.merged_ranges = info.merged_ranges
        self.stats.formula_cells = info.formula_cells
        self.stats.formula_cells_without_value = info.formula_cells_without_value
        if progress:
            progress(self.stats.size_bytes)
        step = max(1, self.options.batch_rows)
        for start in range(0, frame.height, step):
            yield frame.slice(start, step)


_READERS: dict[str, type[TableReader]] = {
    "csv": CsvReader, "jsonl": JsonLinesReader, "parquet": ParquetReader, "excel": ExcelReader,
}


def detect_format(path: Path, declared: str | None = None) -> str:
    if declared:
        fmt = declared.lower()
        if fmt not in _READERS:
            raise UnsupportedFormatError(f"format {declared!r} is not supported", path=str(path),
                                         hint="use csv, jsonl, parquet or excel")
        return fmt
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "excel"
    raise UnsupportedFormatError(
        f"cannot tell the format of {path.name!r}", path=str(path),
        hint="name it .csv, .tsv, .jsonl, .parquet or .xlsx, or give the format",
    )


def open_table(path: str | Path, options: ReadOptions | None = None) -> TableReader:
    """Open a file for batched reading; raises DataQualityError if it is missing or unsupported."""
    p = Path(path)
    if not p.exists():
        raise DataQualityError("no such file", path=str(p))
    if not p.is_file():
        raise DataQualityError("not a regular file", path=str(p))
    opts = options or ReadOptions()
    fmt = detect_format(p, opts.format)
    return _READERS[fmt](p, fmt, opts)
