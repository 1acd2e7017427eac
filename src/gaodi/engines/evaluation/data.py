"""Reading test data: CSV (UTF-8, GBK or GB18030, detected), Parquet and Excel, into a Polars frame."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from gaodi.engines.evaluation.errors import DataError

DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB; the platform passes its own upload limit
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}


@dataclass(frozen=True)
class Table:
    frame: pl.DataFrame
    name: str
    format: str  # csv | parquet | excel
    encoding: str | None  # for CSV: utf-8, gbk or gb18030
    size_bytes: int

    def describe(self) -> dict[str, Any]:
        return {
            "file": self.name, "format": self.format, "encoding": self.encoding, "bytes": self.size_bytes,
            "rows": self.frame.height, "columns": self.frame.columns,
        }


def read_table(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Table:
    """Read a data file; raises DataError naming the file and the fix."""
    size = _size(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        frame, encoding = read_csv_bytes(path.read_bytes(), separator="\t" if suffix == ".tsv" else ",")
        return Table(frame, path.name, "csv", encoding, size)
    if suffix in PARQUET_SUFFIXES:
        return Table(_read_parquet(path), path.name, "parquet", None, size)
    if suffix in EXCEL_SUFFIXES:
        return Table(_read_excel(path), path.name, "excel", None, size)
    raise DataError(f"data file {path.name} has an unknown type '{suffix or '(none)'}'; "
                    "use CSV (.csv), Parquet (.parquet) or Excel (.xlsx)")


def _size(path: Path, max_bytes: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DataError(f"data file {path} does not exist") from None
    if size > max_bytes:
        raise DataError(f"data file {path.name} is {_human(size)}; the limit is {_human(max_bytes)}. "
                        "Evaluate a representative sample, or ask the operator to raise the limit")
    if size == 0:
        raise DataError(f"data file {path.name} is empty")
    return size


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode CSV bytes: UTF-8 (strict, BOM allowed), else GBK, else GB18030. Returns (text, encoding)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gbk", "gb18030"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise DataError("the CSV file is neither UTF-8, GBK nor GB18030 text; save it as UTF-8 CSV")


def read_csv_bytes(raw: bytes, *, separator: str = ",") -> tuple[pl.DataFrame, str]:
    text, encoding = decode_text(raw)
    try:
        frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=separator,
                            infer_schema_length=10000, try_parse_dates=False)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"the CSV file cannot be parsed ({_first_line(exc)}); check the delimiter and quoting") from None
    return _check_frame(frame), encoding


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return _check_frame(pl.read_parquet(path))
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"data file {path.name} is not readable Parquet ({_first_line(exc)})") from None
    except OSError as exc:
        raise DataError(f"data file {path.name} is not readable Parquet ({_first_line(exc)})") from None


def _read_excel(path: Path) -> pl.DataFrame:
    try:
        return _check_frame(pl.read_excel(path, engine="calamine"))
    except DataError:
        raise
    except Exception as exc:  # fastexcel raises its own exception types
        raise DataError(f"data file {path.name} is not a readable Excel workbook ({_first_line(exc)})") from None


def _check_frame(frame: pl.DataFrame) -> pl.DataFrame:
    if frame.height == 0:
        raise DataError("the data file has a header but no rows")
    blank = [c for c in frame.columns if not c.strip()]
    if blank:
        raise DataError("the data file has a column without a name; give every column a header")
    return frame


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
