"""Excel workbooks, read safely: size limit, zip-bomb guard, cached formula values, merged cells.

An .xlsx file is a zip of XML parts. Before anything parses it:

1. the file must be at most `max_excel_bytes` (default 50 MiB): workbooks are read whole;
2. the zip's central directory is read (no decompression yet): the *declared* uncompressed total
   must be at most `max_excel_uncompressed_bytes` (default 256 MiB) and at most `max_excel_ratio`
   (default 100) times the compressed total, else it is refused as a zip bomb;
3. every part is then decompressed as a stream in 1 MiB pieces, counting the *actual* bytes against
   the same limits, so a directory that lies about sizes is caught too (Python's zipfile also stops
   at the declared size and fails the CRC check). The worksheet's XML is scanned on the way for
   formula cells without a cached value, merged ranges, and where the data starts.

Only then does fastexcel (calamine) read the sheet. Formula cells give the values Excel or WPS saved
with the file (calamine never computes formulas); a formula saved without a value is counted and
reported. Merged ranges in the data area are filled with their top-left value, as a person reading
the sheet would; merged cells in the header row are not (the columns keep their own names).
Old .xls (BIFF) files get the size limit; they are not zips and their merged ranges are not read.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from gaodi.engines.dataquality.errors import (
    DataQualityError,
    FileTooLargeError,
    UnsupportedFormatError,
    ZipBombError,
)

if TYPE_CHECKING:
    from gaodi.engines.dataquality.readers import ReadOptions

_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]+)"')
_MERGE = re.compile(rb'<mergeCell\b[^>]*\bref="([A-Z]{1,3})([0-9]+)(?::([A-Z]{1,3})([0-9]+))?"')
_SHEET = re.compile(rb"<sheet\b[^>]*?/?>", re.S)
_ATTR = re.compile(rb'([\w:]+)="([^"]*)"')
_REL = re.compile(rb"<Relationship\b[^>]*?/?>", re.S)
_PIECE = 1 << 20
_MIN_RATIO_CHECK = 1 << 20  # parts smaller than this in total are never called bombs for their ratio


def column_index(letters: bytes) -> int:
    """0-based index of an Excel column name (A=0, Z=25, AA=26)."""
    value = 0
    for ch in letters:
        value = value * 26 + (ch - 64)
    return value - 1


@dataclass
class SheetScan:
    first_row: int | None = None  # 1-based row of the first cell with a value
    first_col: int | None = None  # 0-based column of the leftmost cell with a value
    formula_cells: int = 0
    formula_cells_without_value: int = 0
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # row1, col1, row2, col2 (1-based rows)

    def feed(self, data: bytes) -> None:
        for match in _CELL.finditer(data):
            attrs, body = match.group(1), match.group(2) or b""
            has_value = b"<v>" in body or b"<v " in body or b"<is>" in body
            if b"<f" in body:
                self.formula_cells += 1
                if not has_value or b"<v></v>" in body or b"<v/>" in body:
                    self.formula_cells_without_value += 1
            if has_value:
                ref = _REF.search(attrs)
                if ref:
                    row, col = int(ref.group(2)), column_index(ref.group(1))
                    if self.first_row is None or row < self.first_row:
                        self.first_row = row
                    if self.first_col is None or col < self.first_col:
                        self.first_col = col
        for m in _MERGE.finditer(data):
            c1, r1 = column_index(m.group(1)), int(m.group(2))
            c2, r2 = (column_index(m.group(3)), int(m.group(4))) if m.group(3) else (c1, r1)
            self.merged.append((r1, c1, r2, c2))


@dataclass
class WorkbookInfo:
    sheet: str
    header: list[str]
    merged_ranges: int
    formula_cells: int
    formula_cells_without_value: int


def _attrs(element: bytes) -> dict[bytes, bytes]:
    return {k.split(b":")[-1]: v for k, v in _ATTR.findall(element)}


def _read_small(archive: zipfile.ZipFile, name: str, limit: int = 16 << 20) -> bytes:
    with archive.open(name) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ZipBombError(f"the part {name} is larger than {limit >> 20} MiB")
    return data


def _sheet_part(archive: zipfile.ZipFile, sheet: str | int, path: str) -> tuple[str, str]:
    """(sheet name, zip member of its XML) for a sheet given by name or 0-based index."""
    workbook = _read_small(archive, "xl/workbook.xml")
    rels = _read_small(archive, "xl/_rels/workbook.xml.rels")
    targets = {}
    for rel in _REL.findall(rels):
        a = _attrs(rel)
        if b"Id" in a and b"Target" in a:
            target = a[b"Target"].decode("utf-8")
            targets[a[b"Id"]] = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join("xl", target))
    sheets = []
    for element in _SHEET.findall(workbook):
        a = _attrs(element)
        name = a.get(b"name", b"").decode("utf-8")
        sheets.append((name, targets.get(a.get(b"id", b""), "")))
    if not sheets:
        raise UnsupportedFormatError("the workbook has no sheets", path=path)
    if isinstance(sheet, int):
        if not 0 <= sheet < len(sheets):
            raise DataQualityError(f"there is no sheet number {sheet + 1} (the workbook has {len(sheets)})",
                                   path=path)
        return sheets[sheet]
    for name, target in sheets:
        if name == sheet:
            return name, target
    raise DataQualityError(f"there is no sheet named {sheet!r}", path=path,
                           hint="sheets: " + ", ".join(name for name, _ in sheets))


def check_zip(path: Path, options: ReadOptions, sheet_member: str | None = None) -> SheetScan:
    """Refuse zip bombs; stream every part counting real bytes; scan the sheet XML if named."""
    limit = options.max_excel_uncompressed_bytes
    ratio = options.max_excel_ratio
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsupportedFormatError(f"not a valid .xlsx file (not a zip archive: {exc})", path=str(path)) from None
    scan = SheetScan()
    with archive:
        infos = archive.infolist()
        if len(infos) > 10_000:
            raise ZipBombError(f"the archive has {len(infos)} parts", path=str(path))
        declared = sum(i.file_size for i in infos)
        compressed = max(1, sum(i.compress_size for i in infos))
        if declared > limit:
            raise ZipBombError(
                f"refused as a possible zip bomb: its parts declare {declared:,} bytes uncompressed, "
                f"over the limit of {limit:,}", path=str(path), hint="a real workbook this large should be CSV or Parquet",
            )
        if declared > _MIN_RATIO_CHECK and declared / compressed > ratio:
            raise ZipBombError(
                f"refused as a possible zip bomb: it would expand {declared / compressed:,.0f} times "
                f"(limit {ratio:,.0f})", path=str(path),
            )
        actual = 0
        tail = b""
        for info in infos:
            if info.is_dir():
                continue
            is_sheet = info.filename == sheet_member
            try:
                with archive.open(info) as handle:
                    while True:
                        piece = handle.read(_PIECE)
                        if not piece:
                            break
                        actual += len(piece)
                        if actual > limit or (actual > _MIN_RATIO_CHECK and actual / compressed > ratio):
                            raise ZipBombError(
                                "refused as a possible zip bomb: its parts expand beyond the declared sizes "
                                f"or the limits ({actual:,} bytes so far)", path=str(path),
                            )
                        if is_sheet:
                            # Feed up to the start of the last cell, row or merge element: everything
                            # before it is complete; the rest waits for the next piece.
                            data = tail + piece
                            cut = max(data.rfind(b"<c "), data.rfind(b"<row"), data.rfind(b"<mergeCell "),
                                      data.rfind(b"</sheetData"))
                            if cut <= 0 and len(data) < 16 * _PIECE:
                                tail = data
                                continue
                            cut = cut if cut > 0 else len(data)
                            scan.feed(data[:cut])
                            tail = data[cut:]
                if is_sheet and tail:
                    scan.feed(tail)
            except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
                raise ZipBombError(f"the archive is damaged or manipulated ({info.filename}: {exc})",
                                   path=str(path)) from None
            except NotImplementedError as exc:
                raise UnsupportedFormatError(f"unsupported compression in {info.filename}: {exc}",
                                             path=str(path)) from None
    return scan


def _fill_merged(frame: pl.DataFrame, scan: SheetScan, header_row: int, first_col: int) -> tuple[pl.DataFrame, int]:
    """Fill each merged range in the data area with its top-left value."""
    filled = 0
    columns = frame.columns
    for r1, c1, r2, c2 in scan.merged:
        top = r1 - header_row - 1  # 0-based data row of the range's first row
        bottom = r2 - header_row - 1
        left, right = c1 - first_col, c2 - first_col
        if bottom < 0 or right < 0 or left >= len(columns):
            continue  # in or above the header row, or left of the data
        top = max(top, 0)
        if top >= frame.height or left < 0:
            continue
        bottom = min(bottom, frame.height - 1)
        right = min(right, len(columns) - 1)
        value: Any = frame[columns[left]][top]
        if value is None:
            continue
        for c in range(left, right + 1):
            name = columns[c]
            rows = [r for r in range(top, bottom + 1) if not (r == top and c == left)]
            if not rows:
                continue
            series = frame[name]
            try:
                series = series.scatter(rows, value)
            except (pl.exceptions.PolarsError, TypeError, ValueError):
                series = series.cast(pl.String).scatter(rows, str(value))
            frame = frame.with_columns(series)
        filled += 1
    return frame, filled


def read_workbook(path: Path, options: ReadOptions) -> tuple[pl.DataFrame, WorkbookInfo]:
    """The sheet as one frame (header from its first row) and what was found on the way."""
    import fastexcel

    from gaodi.engines.dataquality.readers import unique_names

    size = path.stat().st_size
    if size > options.max_excel_bytes:
        raise FileTooLargeError(
            f"the workbook is {size / 2**20:.1f} MiB, over the {options.max_excel_bytes / 2**20:.0f} MiB limit "
            "for Excel files", path=str(path), hint="save it as CSV or Parquet, which are read in a stream",
        )
    with path.open("rb") as handle:
        magic = handle.read(8)
    is_zip = magic.startswith(b"PK\x03\x04")
    scan = SheetScan()
    sheet_name: str | int = options.sheet
    if is_zip:
        try:
            with zipfile.ZipFile(path) as archive:
                sheet_name, member = _sheet_part(archive, options.sheet, str(path))
        except zipfile.BadZipFile as exc:
            raise UnsupportedFormatError(f"not a valid .xlsx file ({exc})", path=str(path)) from None
        except KeyError as exc:
            raise UnsupportedFormatError(f"not an Excel workbook (missing {exc})", path=str(path)) from None
        scan = check_zip(path, options, member)
    elif not magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedFormatError("not an Excel file (neither .xlsx nor .xls)", path=str(path))
    try:
        reader = fastexcel.read_excel(str(path))
        sheet = reader.load_sheet(sheet_name, header_row=0, schema_sample_rows=None)
        frame = sheet.to_polars()
    except Exception as exc:  # noqa: BLE001 - calamine raises its own hierarchy; report it in one line
        raise UnsupportedFormatError(f"the workbook could not be read: {str(exc).splitlines()[0]}",
                                     path=str(path)) from None
    header = [("" if c.startswith("__UNNAMED__") else c) for c in frame.columns]
    frame.columns = unique_names(header)
    filled = 0
    if scan.merged and scan.first_row is not None:
        frame, filled = _fill_merged(frame, scan, scan.first_row, scan.first_col or 0)
    name = sheet_name if isinstance(sheet_name, str) else str(sheet.name)
    return frame, WorkbookInfo(name, header, filled, scan.formula_cells, scan.formula_cells_without_value)
