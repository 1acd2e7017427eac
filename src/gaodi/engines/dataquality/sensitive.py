"""Sensitive-data scanner: identity numbers, phones, credit codes, bank cards, e-mail, IPs, plates.

How a value becomes a finding (the same rules are written out in docs/data-quality.md):

1. Candidates are extracted per column with a handful of regular expressions run by Polars
   (Rust ``regex``), over whole string columns at once:

   - *digit tokens* ``[0-9]{17}[Xx]|[0-9]{11,}``: every maximal run of 11 or more digits, or 17 digits
     and an X. Because a run is always taken whole, a mobile number is never found inside a longer
     number, and no look-around is needed (the Rust engine has none);
   - *code tokens* ``[0-9A-Z]{18,}``: maximal runs of digits and capital letters;
   - e-mail, dotted-quad IPv4, IPv6 (full and ``::``-compressed forms) and licence plates.

2. Each candidate is classified, and check digits are tested with NumPy over all candidates of one
   width at once (`checksums`):

   - RESIDENT_ID: an 18-character digit token whose province prefix and birth date are real
     (GB 11643); confidence 0.95 if the check character is right, 0.5 if not;
   - USCC: an 18-character code token in the GB 32100 shape that is not a resident ID; 0.9 if the
     check character is right, 0.4 if not (only when it has a letter: an all-digit run with a wrong
     check is not taken for a code);
   - BANK_CARD: a 16-19 digit token that is neither a resident ID nor a valid credit code; Luhn right:
     0.95 with a common BIN (62, 4, 51-55, 35), else 0.8; Luhn wrong: 0.3;
   - MOBILE: 11 digits ``1[3-9]...`` (or 13 starting ``86``); 0.85 in a segment in service, else 0.6;
   - EMAIL ``local@domain.tld``: 0.9; IPV4 (every octet <= 255): 0.8;
   - IPV6, full or ``::``-compressed (every match is a valid address): 0.8 with three or more groups,
     else 0.5 (``d::c`` occurs in program text);
   - LICENSE_PLATE: province character, letter, 5 characters (6 for new-energy vehicles, D/F): 0.8.

   A wrong check digit lowers the confidence; the finding is still reported and counted
   (``checksum_failed``), so nothing is hidden.

3. Per column and entity: the number of matches, of cells (rows) with at least one, how many passed
   their check, the mean confidence, and a few masked samples (``110***********1234``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.dataquality.checksums import (
    char_matrix,
    luhn_ok,
    resident_id_check_ok,
    resident_id_structure_ok,
    uscc_check_ok,
)
from gaodi.engines.dataquality.readers import ReadOptions, ReadStats, TableReader, open_table, prefetch
from gaodi.engines.dataquality.synthetic import MOBILE_SEGMENTS


class Entity(StrEnum):
    RESIDENT_ID = "RESIDENT_ID"
    MOBILE = "MOBILE"
    USCC = "USCC"
    BANK_CARD = "BANK_CARD"
    EMAIL = "EMAIL"
    IPV4 = "IPV4"
    IPV6 = "IPV6"
    LICENSE_PLATE = "LICENSE_PLATE"


@dataclass(frozen=True)
class EntityInfo:
    label_zh: str
    label_en: str
    personal: bool  # personal information (个人信息, PIPL Art. 4)
    sensitive: bool  # sensitive personal information (敏感个人信息, PIPL Art. 28)
    checksum: str | None


ENTITIES: dict[Entity, EntityInfo] = {
    Entity.RESIDENT_ID: EntityInfo("居民身份证号码", "resident identity number", True, True, "GB 11643 MOD 11-2"),
    Entity.MOBILE: EntityInfo("手机号码", "mobile number", True, False, None),
    Entity.USCC: EntityInfo("统一社会信用代码", "unified social credit code", False, False, "GB 32100"),
    Entity.BANK_CARD: EntityInfo("银行卡号", "bank card number", True, True, "Luhn"),
    Entity.EMAIL: EntityInfo("电子邮箱", "e-mail address", True, False, None),
    Entity.IPV4: EntityInfo("IPv4 地址", "IPv4 address", True, False, None),
    Entity.IPV6: EntityInfo("IPv6 地址", "IPv6 address", True, False, None),
    Entity.LICENSE_PLATE: EntityInfo("机动车号牌", "licence plate", True, False, None),
}

# Regular expressions with the same meaning in Rust ``regex`` (Polars) and Python ``re``/``regex``.
DIGIT_RUN = r"[0-9]{17}[Xx]|[0-9]{11,}"
CODE_RUN = r"[0-9A-Z]{18,}"
EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
IPV4 = r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"
_H = "[0-9a-fA-F]{1,4}"
IPV6 = "|".join(
    [
        f"(?:{_H}:){{7}}{_H}",
        f"{_H}:(?::{_H}){{1,6}}",
        f"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
        f"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}",
        f"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}",
        f"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}",
        f"(?:{_H}:){{1,6}}:{_H}",
        f"(?:{_H}:){{1,7}}:",
        f":(?::{_H}){{1,7}}",
    ]
)
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PL = "A-HJ-NP-Z"  # plate letters: no I, O
LICENSE_PLATE = (
    f"[{PLATE_PROVINCES}][{_PL}](?:[DF][{_PL}0-9][0-9]{{4}}|[0-9]{{5}}[DF]|[{_PL}0-9]{{4}}[{_PL}0-9挂学警港澳])"
)
USCC_SHAPE = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
ID_SHAPE = r"^[0-9]{17}[0-9Xx]$"
KNOWN_BIN = r"^(?:62|4|5[1-5]|35)"

HIGH_CONFIDENCE = 0.8  # findings at or above count as "valid" for grading and for comparisons


@dataclass
class Finding:
    """One entity found in one column."""

    column: str
    entity: Entity
    count: int = 0  # matches
    cells: int = 0  # rows with at least one match
    valid: int = 0  # matches whose check passed, or that have no check and are confident
    checksum_failed: int = 0
    confidence_sum: float = 0.0
    samples: list[str] = field(default_factory=list)  # masked

    @property
    def confidence(self) -> float:
        return round(self.confidence_sum / self.count, 3) if self.count else 0.0

    def to_dict(self) -> dict[str, Any]:
        info = ENTITIES[self.entity]
        return {
            "column": self.column,
            "entity": self.entity.value,
            "label_zh": info.label_zh,
            "label_en": info.label_en,
            "personal": info.personal,
            "sensitive": info.sensitive,
            "count": self.count,
            "cells": self.cells,
            "valid": self.valid,
            "checksum_failed": self.checksum_failed,
            "confidence": self.confidence,
            "samples": list(self.samples),
        }


@dataclass
class ScanResult:
    source: str
    rows: int
    columns_scanned: list[str]
    columns_skipped: dict[str, str]  # column -> why
    findings: list[Finding]
    read: ReadStats | None
    elapsed_s: float

    def counts_by_entity(self, *, valid_only: bool = False) -> dict[str, int]:
        """Matches per entity over all columns (only the valid ones if `valid_only`)."""
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.entity.value] = out.get(f.entity.value, 0) + (f.valid if valid_only else f.count)
        return {k: v for k, v in sorted(out.items()) if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows": self.rows,
            "columns_scanned": self.columns_scanned,
            "columns_skipped": self.columns_skipped,
            "findings": [f.to_dict() for f in self.findings],
            "counts_by_entity": self.counts_by_entity(),
            "valid_counts_by_entity": self.counts_by_entity(valid_only=True),
            "read": self.read.to_dict() if self.read else None,
            "elapsed_s": round(self.elapsed_s, 3),
        }


# --- masking -----------------------------------------------------------------------------------


def _keep(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[len(value) - tail :]


def mask(entity: Entity, value: str) -> str:
    """The value with its identifying middle replaced by ``*``."""
    if entity is Entity.RESIDENT_ID:
        return _keep(value, 3, 4)
    if entity is Entity.MOBILE:
        return _keep(value, len(value) - 8, 4)
    if entity is Entity.BANK_CARD:
        return _keep(value, 4, 4)
    if entity is Entity.USCC:
        return _keep(value, 6, 2)
    if entity is Entity.EMAIL:
        local, _, domain = value.partition("@")
        return (local[:1] + "***@" + domain) if local else "***@" + domain
    if entity is Entity.IPV4:
        parts = value.split(".")
        return ".".join(parts[:2] + ["*", "*"])
    if entity is Entity.IPV6:
        return value.split(":")[0] + ":****"
    return _keep(value, 2, 2)


# --- classification ----------------------------------------------------------------------------

# An entity and its matches: a frame of row index r, matched text t, confidence c and check k
# (1 passed, 0 failed, -1 the entity has no check).
Classified = tuple[Entity, pl.DataFrame]


# (kind, pattern, literal that a value must contain for the pattern to match, or None)
_EXTRACTIONS: tuple[tuple[str, str, str | None], ...] = (
    ("digit", DIGIT_RUN, None),
    ("code", CODE_RUN, None),
    ("email", EMAIL, "@"),
    ("ipv4", IPV4, "."),
    ("ipv6", IPV6, ":"),
    ("plate", LICENSE_PLATE, None),
)
_R, _T = "__gaodi_r", "__gaodi_t"


def _token_queries(frame: pl.LazyFrame, text: pl.Expr) -> list[tuple[str, pl.LazyFrame]]:
    """Lazy queries giving one row per match (row index ``r``, matched text ``t``) for each pattern."""
    base = frame.select(pl.col(_R).alias("r"), text.alias("t"))
    out = []
    for kind, pattern, gate in _EXTRACTIONS:
        q = base
        if gate is not None:
            q = q.filter(pl.col("t").str.contains(gate, literal=True))
        q = q.select("r", pl.col("t").str.extract_all(pattern)).explode("t").drop_nulls("t")
        out.append((kind, q))
    return out


def _classify(kind: str, tokens: pl.DataFrame, today: date) -> list[Classified]:
    if kind == "digit":
        return _classify_digit_tokens(tokens, today)
    if kind == "code":
        return _classify_code_tokens(tokens, today)
    if kind == "email":
        return _classify_simple(Entity.EMAIL, tokens, 0.9)
    if kind == "ipv4":
        return _classify_simple(Entity.IPV4, _valid_ipv4(tokens), 0.8)
    if kind == "ipv6":
        if tokens.height == 0:
            return []
        return [(Entity.IPV6, _frame(tokens, _ipv6_confidence(tokens), np.full(tokens.height, -1, dtype=np.int8)))]
    return _classify_simple(Entity.LICENSE_PLATE, tokens, 0.8)


def _frame(tokens: pl.DataFrame, confidence: npt.NDArray[np.float64], checked: npt.NDArray[np.int8]) -> pl.DataFrame:
    # checked: 1 passed, 0 failed, -1 no checksum for this entity
    return tokens.with_columns(pl.Series("c", confidence, dtype=pl.Float64), pl.Series("k", checked, dtype=pl.Int8))


def _classify_digit_tokens(tokens: pl.DataFrame, today: date) -> list[Classified]:
    out: list[Classified] = []
    if tokens.height == 0:
        return out
    length = tokens["t"].str.len_bytes()
    # Mobile numbers: 11 digits, or 13 with the country code 86.
    is_mobile = ((length == 11) & tokens["t"].str.contains("^1[3-9]")) | (
        (length == 13) & tokens["t"].str.contains("^861[3-9]")
    )
    mob = tokens.filter(is_mobile).with_columns(pl.col("t").str.slice(-11))
    if mob.height:
        known = mob["t"].str.slice(0, 3).is_in(MOBILE_SEGMENTS).to_numpy()
        conf = np.where(known, 0.85, 0.6)
        out.append((Entity.MOBILE, _frame(mob, conf, np.full(mob.height, -1, dtype=np.int8))))
    # 18 characters: resident ID first, then credit code, else a card number candidate.
    t18 = tokens.filter(length == 18)
    bank_parts: list[pl.DataFrame] = []
    if t18.height:
        codes = char_matrix(t18["t"], 18)
        structured = resident_id_structure_ok(codes, latest=today)
        check = resident_id_check_ok(codes)
        ids = t18.filter(pl.Series(structured))
        if ids.height:
            ok = check[structured]
            out.append((Entity.RESIDENT_ID, _frame(ids, np.where(ok, 0.95, 0.5), ok.astype(np.int8))))
        all_digit = codes[:, 17] <= ord("9")
        uscc_ok = uscc_check_ok(codes)
        rest = ~structured & all_digit & ~uscc_ok
        if rest.any():
            bank_parts.append(t18.filter(pl.Series(rest)))
    for width in (16, 17, 19):
        part = tokens.filter(length == width)
        if part.height:
            bank_parts.append(part)
    for part in bank_parts:
        width = len(part["t"][0])
        codes = char_matrix(part["t"], width)
        ok = luhn_ok(codes)
        known = part["t"].str.contains(KNOWN_BIN).to_numpy()
        conf = np.where(ok, np.where(known, 0.95, 0.8), 0.3)
        out.append((Entity.BANK_CARD, _frame(part, conf, ok.astype(np.int8))))
    return out


def _classify_code_tokens(tokens: pl.DataFrame, today: date) -> list[Classified]:
    if tokens.height == 0:
        return []
    t18 = tokens.filter((pl.col("t").str.len_bytes() == 18) & pl.col("t").str.contains(USCC_SHAPE))
    if t18.height == 0:
        return []
    codes = char_matrix(t18["t"], 18)
    id_shaped = t18["t"].str.contains(ID_SHAPE).to_numpy()
    is_id = id_shaped & resident_id_structure_ok(codes, latest=today)
    ok = uscc_check_ok(codes)
    has_letter = ~id_shaped | (codes[:, 17] > ord("9"))
    keep = ~is_id & (ok | has_letter)
    found = t18.filter(pl.Series(keep))
    if found.height == 0:
        return []
    return [(Entity.USCC, _frame(found, np.where(ok[keep], 0.9, 0.4), ok[keep].astype(np.int8)))]


def _classify_simple(entity: Entity, tokens: pl.DataFrame, confidence: float) -> list[Classified]:
    if tokens.height == 0:
        return []
    return [(entity, _frame(tokens, np.full(tokens.height, confidence), np.full(tokens.height, -1, dtype=np.int8)))]


def _valid_ipv4(tokens: pl.DataFrame) -> pl.DataFrame:
    if tokens.height == 0:
        return tokens
    parts = tokens["t"].str.split_exact(".", 3).struct.unnest()
    ok = pl.all_horizontal([pl.col(c).cast(pl.Int64, strict=False) <= 255 for c in parts.columns])
    return tokens.filter(parts.select(ok).to_series())


def _ipv6_confidence(tokens: pl.DataFrame) -> npt.NDArray[np.float64]:
    """Every IPv6 match is a valid address (each alternative of the pattern is a valid textual form);
    short compressed forms such as ``d::c`` also occur in program text, so they get less confidence."""
    groups = tokens["t"].str.count_matches("[0-9a-fA-F]+").to_numpy()
    out: npt.NDArray[np.float64] = np.where(groups >= 3, 0.8, 0.5)
    return out


def classify_column(values: pl.Series, rows: pl.Series | None = None, *, today: date | None = None
                    ) -> list[Classified]:
    """All findings in one string column: (entity, frame of row r, text t, confidence c, check k)."""
    day = today or date.today()
    index = rows if rows is not None else pl.Series(np.arange(len(values), dtype=np.int64))
    frame = pl.DataFrame({_R: index, "v": values}).lazy()
    queries = _token_queries(frame, pl.col("v"))
    results = pl.collect_all([q for _, q in queries])
    found: list[Classified] = []
    for (kind, _), tokens in zip(queries, results, strict=True):
        found += _classify(kind, tokens, day)
    return found


# --- the scanner -------------------------------------------------------------------------------

_SCANNABLE_INTS = (pl.Int64, pl.UInt64, pl.Int32, pl.UInt32)


def _as_text(series: pl.Series) -> tuple[pl.Series | None, str | None]:
    dtype = series.dtype
    if dtype == pl.String:
        return series, None
    if isinstance(dtype, pl.Categorical | pl.Enum) or dtype in _SCANNABLE_INTS:
        return series.cast(pl.String), None
    if isinstance(dtype, pl.Struct):
        return series.struct.json_encode(), None
    if isinstance(dtype, pl.List):
        try:
            return series.cast(pl.List(pl.String)).list.join(" "), None
        except pl.exceptions.PolarsError:
            return None, "list of values that are not text"
    if dtype == pl.Null:
        return None, "all values are empty"
    return None, f"{dtype} values cannot hold these identifiers"


class Scanner:
    """Accumulates findings over batches; `result()` gives the ScanResult."""

    def __init__(self, *, samples: int = 3, today: date | None = None) -> None:
        self.samples = samples
        self.today = today or date.today()
        self.rows = 0
        self.findings: dict[tuple[str, Entity], Finding] = {}
        self.columns: list[str] = []
        self.skipped: dict[str, str] = {}

    def update(self, batch: pl.DataFrame) -> None:
        texts: dict[str, pl.Series] = {}
        for name in batch.columns:
            text, why = _as_text(batch[name])
            if text is None:
                if name not in self.columns:
                    self.skipped.setdefault(name, why or "not text")
                continue
            if name not in self.columns:
                self.columns.append(name)
                self.skipped.pop(name, None)
            texts[name] = text
        if texts:
            frame = pl.DataFrame(
                [pl.Series(_R, np.arange(self.rows, self.rows + batch.height, dtype=np.int64))]
                + [t.alias(f"c{i}") for i, t in enumerate(texts.values())]
            ).lazy()
            plan: list[tuple[str, str]] = []
            queries: list[pl.LazyFrame] = []
            for i, name in enumerate(texts):
                for kind, query in _token_queries(frame, pl.col(f"c{i}")):
                    plan.append((name, kind))
                    queries.append(query)
            # One parallel run of every pattern over every column of the batch.
            for (name, kind), tokens in zip(plan, pl.collect_all(queries), strict=True):
                for entity, found in _classify(kind, tokens, self.today):
                    self._add(name, entity, found)
        self.rows += batch.height

    def _add(self, column: str, entity: Entity, frame: pl.DataFrame) -> None:
        finding = self.findings.get((column, entity))
        if finding is None:
            finding = self.findings[(column, entity)] = Finding(column, entity)
        stats = frame.select(
            pl.len().alias("n"),
            pl.col("r").n_unique().alias("cells"),
            ((pl.col("k") == 1) | ((pl.col("k") == -1) & (pl.col("c") >= HIGH_CONFIDENCE))).sum().alias("valid"),
            (pl.col("k") == 0).sum().alias("failed"),
            pl.col("c").sum().alias("conf"),
        ).row(0, named=True)
        finding.count += int(stats["n"])
        finding.cells += int(stats["cells"])
        finding.valid += int(stats["valid"])
        finding.checksum_failed += int(stats["failed"])
        finding.confidence_sum += float(stats["conf"])
        if len(finding.samples) < self.samples:
            best = frame.sort("c", descending=True).head(self.samples * 2)["t"].unique(maintain_order=True)
            for value in best.to_list():
                masked = mask(entity, value)
                if masked not in finding.samples and len(finding.samples) < self.samples:
                    finding.samples.append(masked)

    def result(self, *, source: str = "", read: ReadStats | None = None, elapsed_s: float = 0.0) -> ScanResult:
        order = {name: i for i, name in enumerate(self.columns)}
        findings = sorted(self.findings.values(), key=lambda f: (order.get(f.column, 0), list(Entity).index(f.entity)))
        return ScanResult(source, self.rows, list(self.columns), dict(self.skipped), findings, read, elapsed_s)


def scan_batches(batches: Iterable[pl.DataFrame], *, source: str = "", samples: int = 3,
                 today: date | None = None) -> ScanResult:
    """Scan in-memory batches (or one frame wrapped in a list)."""
    start = time.perf_counter()
    scanner = Scanner(samples=samples, today=today)
    for batch in batches:
        scanner.update(batch)
    return scanner.result(source=source, elapsed_s=time.perf_counter() - start)


def scan_frame(frame: pl.DataFrame, *, samples: int = 3, today: date | None = None) -> ScanResult:
    return scan_batches([frame], source="<frame>", samples=samples, today=today)


def scan_file(path: str | Path, *, options: ReadOptions | None = None, samples: int = 3,
              today: date | None = None, progress: Callable[[int], None] | None = None) -> ScanResult:
    """Scan a file (CSV, Parquet, Excel, JSON Lines) batch by batch, in bounded memory.

    Values are scanned as read (CSV fields as text, without type inference), so leading zeros and
    trailing X are kept.
    """
    start = time.perf_counter()
    reader: TableReader = open_table(path, options)
    scanner = Scanner(samples=samples, today=today)
    batches: Iterator[pl.DataFrame] = prefetch(reader.batches(progress=progress))
    for batch in batches:
        scanner.update(batch)
    return scanner.result(source=str(path), read=reader.stats, elapsed_s=time.perf_counter() - start)
