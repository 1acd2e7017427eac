"""Quality profile along the six dimensions of GB/T 36344-2018 (信息技术 数据质量评价指标).

The profile is computed in one pass over batches (`readers`), merging per-batch aggregates, so memory
stays bounded: per column it keeps a handful of numbers, a bounded value counter (`sketches`) and a
few samples; per table two sets of 64-bit row hashes that spill to disk past 8 million.

Each dimension is a ratio in [0, 1]: the total of its checks' *passed* counts over the total of their
*evaluated* counts (so each check weighs by the number of cells or rows it looked at). A dimension
with nothing to evaluate is ``None`` (not measured), never 0 or 1. The score is the weighted mean of
the measured dimensions (default weights 1; weights 0 leave a dimension out). The checks:

normativity 规范性
    per converted column, *type*: non-missing values that convert to the column's type (declared, or
    inferred from CSV text) over non-missing values; per text column with a pattern (declared regex,
    or detected, see `patterns`), *pattern*: non-missing values that match over non-missing values.
completeness 完整性
    per column (unless ``optional``): non-missing cells over rows. Missing is null, NaN, or text that
    is empty after trimming spaces.
accuracy 准确性
    per declared range (``min``/``max``) or ``allowed`` list, and per declared rule of this
    dimension (default for rules naming one column): rows where the rule holds over rows where it
    gives true or false; per identifier column (check digit declared, or pattern detected as resident
    ID, credit code or bank card), values whose check passes over values in the pattern;
    *duplicate rows*: rows minus repeats of an earlier identical row, over rows; *key uniqueness*
    (if a key is declared): distinct non-null keys over rows (a repeated or incomplete key fails).
consistency 一致性
    per declared rule of this dimension (default for rules naming two or more columns): rows where
    it holds over rows where it gives true or false.
timeliness 时效性
    if ``date_column`` and ``max_age`` are declared: non-missing dates with
    ``as_of - max_age <= date <= as_of`` over non-missing values (a value that is not a date fails).
accessibility 可访问性
    *readable rows*: rows read over rows read plus rows skipped as bad (ragged CSV rows, invalid
    JSON lines); *column names*: columns whose header is non-empty and unique over columns;
    for Excel, *formula values*: formula cells saved with a value over formula cells.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.dataquality.checksums import (
    char_matrix,
    luhn_ok,
    resident_id_check_ok,
    resident_id_structure_ok,
    uscc_check_ok,
)
from gaodi.engines.dataquality.config import DIMENSION_NAMES_ZH, DIMENSIONS, ColumnSpec, ProfileConfig
from gaodi.engines.dataquality.errors import RuleError
from gaodi.engines.dataquality.expr import compile_rule
from gaodi.engines.dataquality.patterns import BY_NAME, anchored, detect_pattern
from gaodi.engines.dataquality.readers import ReadOptions, ReadStats, open_table, prefetch
from gaodi.engines.dataquality.schema import SchemaAligner, declared_plan
from gaodi.engines.dataquality.sketches import SEED, HashSet64, ValueCounter, lookup_values

SAMPLES = 5


def jsonable(value: Any) -> Any:
    """Plain JSON values: dates as ISO text, non-finite floats as null, containers recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if isinstance(value, timedelta | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


@dataclass
class Check:
    dimension: str
    name: str
    passed: int
    evaluated: int
    column: str | None = None
    detail: str = ""

    @property
    def ratio(self) -> float | None:
        return self.passed / self.evaluated if self.evaluated else None

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "name": self.name, "column": self.column, "passed": self.passed,
                "evaluated": self.evaluated, "ratio": self.ratio, "detail": self.detail}


@dataclass
class Dimension:
    key: str
    name_zh: str
    ratio: float | None
    weight: float
    passed: int
    evaluated: int
    checks: list[Check]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name_zh": self.name_zh, "ratio": self.ratio, "weight": self.weight,
                "passed": self.passed, "evaluated": self.evaluated, "checks": [c.to_dict() for c in self.checks]}


@dataclass
class ColumnProfile:
    name: str
    dtype: str
    rows: int
    missing: int
    distinct: int | None
    distinct_exact: bool
    top_values: list[tuple[Any, int]]
    top_values_exact: bool
    top_values_error_bound: int
    min: Any = None
    max: Any = None
    mean: float | None = None
    std: float | None = None
    nan: int = 0
    length_min: int | None = None
    length_max: int | None = None
    length_mean: float | None = None
    pattern: str | None = None
    pattern_name: str | None = None
    pattern_source: str | None = None  # declared, detected
    pattern_checked: int = 0
    pattern_matched: int = 0
    pattern_failures: list[str] = field(default_factory=list)
    checksum: str | None = None
    checksum_checked: int = 0
    checksum_passed: int = 0
    type_checked: bool = False
    type_violations: int = 0
    type_violation_samples: list[str] = field(default_factory=list)

    @property
    def missing_ratio(self) -> float | None:
        return self.missing / self.rows if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["missing_ratio"] = self.missing_ratio
        out["top_values"] = [{"value": v, "count": n} for v, n in self.top_values]
        return jsonable(out)  # type: ignore[no-any-return]


@dataclass
class RuleResult:
    name: str
    expr: str
    dimension: str
    columns: list[str]
    passed: int = 0
    failed: int = 0
    not_evaluated: int = 0
    failing_rows: list[int] = field(default_factory=list)  # 1-based data rows (header excluded)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TableProfile:
    source: str
    format: str
    rows: int
    columns: list[ColumnProfile]
    duplicate_rows: int
    key: list[str]
    duplicate_keys: int | None
    incomplete_keys: int | None
    rules: list[RuleResult]
    dimensions: dict[str, Dimension]
    score: float | None
    as_of: datetime
    read: ReadStats | None
    elapsed_s: float

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({  # type: ignore[no-any-return]
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "score": self.score,
            "dimensions": {k: d.to_dict() for k, d in self.dimensions.items()},
            "columns": [c.to_dict() for c in self.columns],
            "duplicate_rows": self.duplicate_rows,
            "key": self.key,
            "duplicate_keys": self.duplicate_keys,
            "incomplete_keys": self.incomplete_keys,
            "rules": [r.to_dict() for r in self.rules],
            "as_of": self.as_of,
            "read": self.read.to_dict() if self.read else None,
            "elapsed_s": round(self.elapsed_s, 3),
        })


# --- per-column state ----------------------------------------------------------------------------


def dtype_name(dtype: pl.DataType) -> str:
    """A short name for a column type: Int64, String, Date, Datetime[us], Datetime[us, UTC]."""
    if isinstance(dtype, pl.Datetime):
        zone = f", {dtype.time_zone}" if dtype.time_zone else ""
        return f"Datetime[{dtype.time_unit}{zone}]"
    return str(dtype)


def _kind(dtype: pl.DataType) -> str:
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "temporal"
    if dtype == pl.Null:
        return "null"
    return "other"


@dataclass
class _Pattern:
    regex: str
    name: str | None
    source: str
    checksum: str | None


class _Column:
    def __init__(self, name: str, dtype: pl.DataType, rows_before: int, config: ProfileConfig) -> None:
        self.name = name
        self.dtype = dtype
        self.kind = _kind(dtype)
        self.missing = rows_before  # a column first seen late was missing before
        self.violations = 0
        self.violation_samples: list[str] = []
        self.nan = 0
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min: Any = None
        self.max: Any = None
        self.len_min: int | None = None
        self.len_max: int | None = None
        self.len_sum = 0
        self.len_n = 0
        self.counter = ValueCounter(exact_limit=config.exact_distinct_limit, top_k=1000)
        self.counter_failed = False
        self.count_expr: pl.Expr = pl.col(name)
        spec = config.columns.get(name)
        self.spec = spec
        self.pattern: _Pattern | None = None
        if spec is not None and spec.pattern:
            self.pattern = _Pattern(anchored(spec.pattern), None, "declared", spec.checksum)
        elif spec is not None and spec.checksum:
            default = {"resident_id": "resident_id", "uscc": "uscc", "luhn": "bank_card"}[spec.checksum]
            known = BY_NAME[default]
            self.pattern = _Pattern(known.regex, known.name, "declared", spec.checksum)
        self.pattern_settled = self.pattern is not None
        self.pattern_checked = 0
        self.pattern_matched = 0
        self.pattern_failures: list[str] = []
        self.checksum_checked = 0
        self.checksum_passed = 0

    def retype(self, dtype: pl.DataType) -> None:
        if dtype != self.dtype:
            self.dtype = dtype
            self.kind = _kind(dtype)
            self.counter.cast(dtype)


def _merge_min(a: Any, b: Any, pick: Callable[[Any, Any], Any]) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    try:
        return pick(a, b)
    except TypeError:
        return a


def _checksum_ok(values: pl.Series, checksum: str, today: date, *, trusted: bool = False
                 ) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per value: does its check pass (values already match the column's pattern; `trusted` if
    that pattern is a known one, which admits only ASCII letters and digits)."""
    out = np.zeros(len(values), dtype=np.bool_)
    if len(values) == 0:
        return out
    lengths = values.str.len_bytes().to_numpy()
    widths = np.unique(lengths)
    for width in widths:
        if len(widths) == 1:
            where, part = np.arange(len(values)), values
        else:
            where = np.flatnonzero(lengths == width)
            part = values.gather(where)
        if not trusted and not part.str.contains(r"^[0-9A-Za-z]+$").all():
            continue
        codes = char_matrix(part, int(width))
        if checksum == "resident_id" and width == 18:
            out[where] = resident_id_check_ok(codes) & resident_id_structure_ok(codes, latest=today)
        elif checksum == "uscc" and width == 18:
            out[where] = uscc_check_ok(codes)
        elif checksum == "luhn" and (codes <= ord("9")).all():
            out[where] = luhn_ok(codes)
    return out


# --- the profiler ----------------------------------------------------------------------------------


@dataclass
class _Rule:
    result: RuleResult
    expr: pl.Expr


class Profiler:
    """Feed batches with `update`; `finish` gives the TableProfile."""

    def __init__(self, config: ProfileConfig | None = None, *, infer_text: bool = False,
                 as_of: datetime | None = None, hash_memory_items: int = 8_000_000) -> None:
        self.config = config or ProfileConfig()
        self.as_of = as_of or self.config.as_of or datetime.now().replace(microsecond=0)
        declared = {name: declared_plan(spec.type, spec.format) for name, spec in self.config.columns.items() if spec.type}
        self.aligner = SchemaAligner(infer_text=infer_text, declared=declared)
        self.columns: dict[str, _Column] = {}
        self.rows = 0
        self.row_hashes = HashSet64(memory_items=hash_memory_items)
        self.key_hashes = HashSet64(memory_items=hash_memory_items)
        self.key_rows = 0
        self.incomplete_keys = 0
        self.rules: list[_Rule] | None = None
        self.timely = 0
        self.timely_evaluated = 0

    # -- setup on the first batch

    def _setup(self, frame: pl.DataFrame) -> None:
        names = frame.columns
        schema = dict(frame.schema)
        for name in list(self.config.columns) + list(self.config.key) + (
            [self.config.date_column] if self.config.date_column else []
        ):
            if name not in names:
                raise RuleError(f"the rules name a column {name!r} that the table does not have",
                                hint="columns: " + ", ".join(names[:30]))
        self.rules = []
        today = self.as_of.date()
        for spec in self.config.columns.values():
            for label, source in self._constraint_rules(spec):
                compiled = compile_rule(source, schema, rule=label, today=today)
                self.rules.append(_Rule(RuleResult(label, source, "accuracy", [spec.name]), compiled.expr))
        for rule in self.config.rules:
            compiled = compile_rule(rule.expr, schema, rule=rule.name, today=today)
            dimension = rule.dimension or ("consistency" if len(compiled.columns) >= 2 else "accuracy")
            self.rules.append(_Rule(RuleResult(rule.name, rule.expr, dimension, sorted(compiled.columns)),
                                    compiled.expr))

    @staticmethod
    def _constraint_rules(spec: ColumnSpec) -> list[tuple[str, str]]:
        col = "`" + spec.name + "`"
        out = []
        if spec.min is not None:
            out.append((f"{spec.name} >= {spec.min:g}", f"{col} >= {spec.min!r}"))
        if spec.max is not None:
            out.append((f"{spec.name} <= {spec.max:g}", f"{col} <= {spec.max!r}"))
        if spec.allowed is not None:
            values = ", ".join(repr(v) if not isinstance(v, bool) else str(v).lower() for v in spec.allowed)
            out.append((f"{spec.name} in allowed values", f"{col} in [{values}]"))
        return out

    # -- per batch

    def update(self, batch: pl.DataFrame) -> None:
        aligned = self.aligner.align(batch)
        frame = aligned.frame
        if self.rules is None:
            self._setup(frame)
        new: list[str] = []
        for name in frame.columns:
            dtype = frame.schema[name]
            if name not in self.columns:
                self.columns[name] = _Column(name, dtype, self.rows, self.config)
                new.append(name)
            else:
                self.columns[name].retype(dtype)
        self._skip_exact_phase(frame, new)
        for name, count in aligned.violations.items():
            col = self.columns[name]
            col.violations += count
            for sample in aligned.samples.get(name, []):
                if len(col.violation_samples) < SAMPLES:
                    col.violation_samples.append(sample)
        self._column_stats(frame, aligned.violations)
        self._rules(frame)
        self._duplicates(frame)
        self._timeliness(frame)
        self.rows += frame.height

    def _skip_exact_phase(self, frame: pl.DataFrame, names: list[str]) -> None:
        """Columns whose first batch has far more distinct values than the exact limit (by Polars'
        HyperLogLog estimate; 25% margin, many standard errors) start in the sketch phase directly."""
        limit = self.config.exact_distinct_limit
        if not names or frame.height <= limit:
            return
        try:
            estimates = frame.select([pl.col(n).approx_n_unique() for n in names]).row(0, named=True)
        except pl.exceptions.PolarsError:
            return
        for name in names:
            if int(estimates[name] or 0) > 1.25 * limit:
                self.columns[name].counter.start_sketch()

    def _column_stats(self, frame: pl.DataFrame, violations: Mapping[str, int]) -> None:
        exprs: list[pl.Expr] = []
        today = self.as_of.date()
        for i, (name, col) in enumerate(self.columns.items()):
            c = pl.col(name)
            exprs.append(c.null_count().alias(f"{i}n"))
            if col.kind == "string":
                text = c.cast(pl.String) if col.dtype != pl.String else c
                blank = text.str.strip_chars() == ""
                lengths = text.str.len_chars()
                exprs += [blank.sum().alias(f"{i}b"), lengths.min().alias(f"{i}l0"), lengths.max().alias(f"{i}l1"),
                          lengths.sum().alias(f"{i}ls"), lengths.count().alias(f"{i}lc")]
                if not col.pattern_settled:
                    detected = detect_pattern(frame[name].cast(pl.String))
                    present = int(frame[name].drop_nulls().len())
                    if detected is not None:
                        col.pattern = _Pattern(detected.regex, detected.name, "detected", detected.checksum)
                    col.pattern_settled = present > 0
                if col.pattern is not None:
                    # a known pattern never matches a blank value; a declared one might. Columns
                    # with a check digit get their matching values from a separate query instead.
                    matches = text.str.contains(col.pattern.regex)
                    if col.pattern.source == "declared":
                        matches = matches & ~blank
                    if not col.pattern.checksum:
                        exprs.append(matches.sum().alias(f"{i}pm"))
                    exprs.append((~blank).sum().alias(f"{i}pc"))
            elif col.kind == "numeric":
                x = c.cast(pl.Float64)
                if col.dtype.is_float():
                    exprs.append(c.is_nan().sum().alias(f"{i}nan"))
                    x = x.fill_nan(None)
                exprs += [x.count().alias(f"{i}c"), x.mean().alias(f"{i}m"), x.var(ddof=0).alias(f"{i}v"),
                          c.min().alias(f"{i}min"), c.max().alias(f"{i}max")]
            elif col.kind == "temporal":
                exprs += [c.min().alias(f"{i}min"), c.max().alias(f"{i}max")]
        # The statistics, every column's value counts and the identifier values to check run as
        # one parallel batch of queries.
        lazy = frame.lazy()
        queries = [lazy.select(exprs)] if exprs else []
        with_checksum: list[_Column] = []
        for name, col in self.columns.items():
            if col.kind == "string" and col.pattern is not None and col.pattern.checksum:
                text = pl.col(name).cast(pl.String) if col.dtype != pl.String else pl.col(name)
                matches = text.str.contains(col.pattern.regex)
                if col.pattern.source == "declared":
                    matches = matches & (text.str.strip_chars() != "")
                queries.append(lazy.select(text.filter(matches).alias("v")))
                with_checksum.append(col)
        identifiers: dict[str, pl.Series] = {}
        counted: list[_Column] = []
        for name, col in self.columns.items():
            if col.counter_failed:
                continue
            values = pl.col(name)
            if col.kind == "string":
                text = values.cast(pl.String) if col.dtype != pl.String else values
                values = values.filter(text.str.strip_chars() != "")
            elif col.dtype.is_float():
                values = values.fill_nan(None)
            queries.append(col.counter.counts_query(lazy, values))
            counted.append(col)
            col.count_expr = values
        try:
            results = pl.collect_all(queries)
        except pl.exceptions.PolarsError:
            # a column whose values cannot be counted (nested types): count the others one by one
            results = [q.collect() for q in queries[: len(queries) - len(counted)]]
            for col, query in zip(counted, queries[len(results):], strict=True):
                try:
                    results.append(query.collect())
                except pl.exceptions.PolarsError:
                    col.counter_failed = True
                    results.append(pl.DataFrame())
        stats = results[0].row(0, named=True) if exprs else {}
        first = 1 if exprs else 0
        for col, found in zip(with_checksum, results[first : first + len(with_checksum)], strict=True):
            identifiers[col.name] = found["v"]
        for col, counts in zip(counted, results[first + len(with_checksum) :], strict=True):
            if not col.counter_failed:
                try:
                    col.counter.add_counts(counts, partial(lookup_values, lazy, col.count_expr))
                except pl.exceptions.PolarsError:
                    col.counter_failed = True
        for i, (name, col) in enumerate(self.columns.items()):
            nulls = int(stats[f"{i}n"])
            col.missing += nulls - violations.get(name, 0)
            if col.kind == "string":
                col.missing += int(stats[f"{i}b"] or 0)
                if stats[f"{i}lc"]:
                    col.len_min = _merge_min(col.len_min, stats[f"{i}l0"], min)
                    col.len_max = _merge_min(col.len_max, stats[f"{i}l1"], max)
                    col.len_sum += int(stats[f"{i}ls"] or 0)
                    col.len_n += int(stats[f"{i}lc"])
                if col.pattern is not None:
                    matched = len(identifiers[name]) if name in identifiers else int(stats[f"{i}pm"] or 0)
                    checked = int(stats[f"{i}pc"] or 0)
                    col.pattern_checked += checked
                    col.pattern_matched += matched
                    if matched < checked and len(col.pattern_failures) < SAMPLES:
                        strings = frame[name].cast(pl.String)
                        bad = strings.filter(~strings.str.contains(col.pattern.regex) & (strings.str.strip_chars() != ""))
                        for v in bad.head(SAMPLES - len(col.pattern_failures)).to_list():
                            col.pattern_failures.append(str(v))
                    if col.pattern.checksum and name in identifiers and matched:
                        ok = _checksum_ok(identifiers[name], col.pattern.checksum, today,
                                          trusted=col.pattern.source == "detected")
                        col.checksum_checked += len(ok)
                        col.checksum_passed += int(ok.sum())
            elif col.kind == "numeric":
                if col.dtype.is_float():
                    nan = int(stats[f"{i}nan"] or 0)
                    col.nan += nan
                    col.missing += nan
                n = int(stats[f"{i}c"] or 0)
                if n:
                    mean, var = float(stats[f"{i}m"]), float(stats[f"{i}v"] or 0.0)
                    total = col.n + n
                    delta = mean - col.mean
                    col.mean += delta * n / total
                    col.m2 += var * n + delta * delta * col.n * n / total
                    col.n = total
                    col.min = _merge_min(col.min, stats[f"{i}min"], min)
                    col.max = _merge_min(col.max, stats[f"{i}max"], max)
            elif col.kind == "temporal":
                col.min = _merge_min(col.min, stats[f"{i}min"], min)
                col.max = _merge_min(col.max, stats[f"{i}max"], max)

    def _rules(self, frame: pl.DataFrame) -> None:
        if not self.rules:
            return
        try:
            names = [f"__gaodi_rule_{i}" for i in range(len(self.rules))]
            results = frame.with_columns(
                [r.expr.alias(n) for r, n in zip(self.rules, names, strict=True)]).select(names)
        except pl.exceptions.PolarsError as exc:
            # Find the rule that fails, to name it.
            for rule in self.rules:
                try:
                    frame.select(rule.expr)
                except pl.exceptions.PolarsError as inner:
                    raise RuleError(f"rule {rule.result.name!r} cannot be evaluated on this table: "
                                    f"{str(inner).splitlines()[0]}", hint=rule.result.expr) from None
            raise RuleError(f"the rules cannot be evaluated: {str(exc).splitlines()[0]}") from None
        for i, rule in enumerate(self.rules):
            values = results[f"__gaodi_rule_{i}"]
            if values.dtype not in (pl.Boolean, pl.Null):
                raise RuleError(f"rule {rule.result.name!r} gives {values.dtype} values, not true/false",
                                hint=rule.result.expr)
            values = values.cast(pl.Boolean)
            passed = int(values.sum())
            not_evaluated = values.null_count()
            failed = len(values) - passed - not_evaluated
            r = rule.result
            r.passed += passed
            r.failed += failed
            r.not_evaluated += not_evaluated
            if failed and len(r.failing_rows) < SAMPLES:
                where = values.not_().arg_true().head(SAMPLES - len(r.failing_rows))
                r.failing_rows += [self.rows + int(j) + 1 for j in where.to_list()]

    def _duplicates(self, frame: pl.DataFrame) -> None:
        if frame.height == 0 or frame.width == 0:
            return
        self.row_hashes.add(frame.hash_rows(seed=SEED).to_numpy().astype(np.uint64, copy=False))
        if self.config.key:
            keys = frame.select(list(self.config.key))
            complete = keys.select(pl.all_horizontal(pl.all().is_not_null())).to_series()
            self.incomplete_keys += int((~complete).sum())
            present = keys.filter(complete)
            self.key_rows += frame.height
            if present.height:
                self.key_hashes.add(present.hash_rows(seed=SEED).to_numpy().astype(np.uint64, copy=False))

    def _timeliness(self, frame: pl.DataFrame) -> None:
        column, max_age = self.config.date_column, self.config.max_age
        if column is None or max_age is None:
            return
        values = frame[column]
        dtype = values.dtype
        if dtype == pl.Date:
            stamps = values.cast(pl.Datetime("us"))
        elif isinstance(dtype, pl.Datetime):
            stamps = values
            if dtype.time_zone:
                stamps = stamps.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            stamps = stamps.cast(pl.Datetime("us"))
        elif dtype == pl.String:
            text = values.str.strip_chars()
            try:
                stamps = text.str.to_datetime(strict=False, time_unit="us")
            except pl.exceptions.PolarsError:
                stamps = pl.Series(column, [None] * len(values), dtype=pl.Datetime("us"))
            values = text.filter(text != "") if len(text) else text
        elif dtype == pl.Null:
            stamps = values.cast(pl.Datetime("us"))
        else:
            raise RuleError(f"table.date_column {column!r} holds {dtype} values, not dates")
        lower = self.as_of - max_age
        present = frame[column].is_not_null()
        if dtype == pl.String:
            present = present & (frame[column].str.strip_chars() != "")
        ok = present & stamps.is_not_null() & (stamps >= lower) & (stamps <= self.as_of)
        self.timely_evaluated += int(present.sum())
        self.timely += int(ok.sum())

    # -- the result

    def finish(self, *, source: str = "", fmt: str = "", read: ReadStats | None = None,
               elapsed_s: float = 0.0) -> TableProfile:
        try:
            distinct_rows = self.row_hashes.distinct()
            distinct_keys = self.key_hashes.distinct() if self.config.key else None
        finally:
            self.row_hashes.close()
            self.key_hashes.close()
        columns = [self._column_profile(col) for col in self.columns.values()]
        rules = [r.result for r in self.rules or []]
        duplicate_rows = self.row_hashes.total - distinct_rows
        checks = self._checks(columns, rules, duplicate_rows, distinct_keys, read)
        dimensions: dict[str, Dimension] = {}
        for key in DIMENSIONS:
            mine = [c for c in checks if c.dimension == key]
            passed = sum(c.passed for c in mine)
            evaluated = sum(c.evaluated for c in mine)
            dimensions[key] = Dimension(key, DIMENSION_NAMES_ZH[key], passed / evaluated if evaluated else None,
                                        float(self.config.weights.get(key, 1.0)), passed, evaluated, mine)
        weighted = [(d.weight, d.ratio) for d in dimensions.values() if d.ratio is not None and d.weight > 0]
        total_weight = sum(w for w, _ in weighted)
        score = sum(w * r for w, r in weighted) / total_weight if total_weight else None
        return TableProfile(
            source=source, format=fmt, rows=self.rows, columns=columns, duplicate_rows=duplicate_rows,
            key=list(self.config.key),
            duplicate_keys=(self.key_rows - self.incomplete_keys - distinct_keys) if distinct_keys is not None else None,
            incomplete_keys=self.incomplete_keys if self.config.key else None,
            rules=rules, dimensions=dimensions, score=score, as_of=self.as_of, read=read, elapsed_s=elapsed_s,
        )

    def _column_profile(self, col: _Column) -> ColumnProfile:
        counter = col.counter
        profile = ColumnProfile(
            name=col.name, dtype=dtype_name(col.dtype), rows=self.rows, missing=col.missing,
            distinct=None if col.counter_failed else counter.distinct(),
            distinct_exact=not col.counter_failed and counter.exact,
            top_values=[] if col.counter_failed else counter.top(self.config.top_values),
            top_values_exact=not col.counter_failed and counter.error_bound == 0,
            top_values_error_bound=counter.error_bound,
            nan=col.nan, type_checked=col.name in self.aligner.checked, type_violations=col.violations,
            type_violation_samples=list(col.violation_samples),
        )
        if col.kind == "numeric" and col.n:
            profile.min, profile.max, profile.mean = col.min, col.max, col.mean
            profile.std = math.sqrt(col.m2 / (col.n - 1)) if col.n > 1 else None
        elif col.kind == "temporal":
            profile.min, profile.max = col.min, col.max
        if col.len_n:
            profile.length_min, profile.length_max = col.len_min, col.len_max
            profile.length_mean = col.len_sum / col.len_n
        if col.pattern is not None:
            profile.pattern = col.pattern.regex
            profile.pattern_name = col.pattern.name
            profile.pattern_source = col.pattern.source
            profile.pattern_checked = col.pattern_checked
            profile.pattern_matched = col.pattern_matched
            profile.pattern_failures = list(col.pattern_failures)
            profile.checksum = col.pattern.checksum
            profile.checksum_checked = col.checksum_checked
            profile.checksum_passed = col.checksum_passed
        return profile

    def _checks(self, columns: list[ColumnProfile], rules: list[RuleResult], duplicate_rows: int,
                distinct_keys: int | None, read: ReadStats | None) -> list[Check]:
        checks: list[Check] = []
        rows = self.rows
        for c in columns:
            present = rows - c.missing
            if c.type_checked:
                checks.append(Check("normativity", "type", present - c.type_violations, present, c.name,
                                    f"values that are {c.dtype}"))
            if c.pattern is not None and c.pattern_checked:
                label = c.pattern_name or c.pattern
                checks.append(Check("normativity", "pattern", c.pattern_matched, c.pattern_checked, c.name,
                                    f"{c.pattern_source} pattern {label}"))
            spec = self.config.columns.get(c.name)
            if rows and not (spec is not None and spec.optional):
                checks.append(Check("completeness", "non-missing", present, rows, c.name))
            if c.checksum and c.checksum_checked:
                checks.append(Check("accuracy", "check digit", c.checksum_passed, c.checksum_checked, c.name,
                                    c.checksum))
        for r in rules:
            checks.append(Check(r.dimension, f"rule: {r.name}", r.passed, r.passed + r.failed, None, r.expr))
        if rows:
            checks.append(Check("accuracy", "duplicate rows", rows - duplicate_rows, rows, None,
                                f"{duplicate_rows} rows repeat an earlier row"))
        if distinct_keys is not None and self.key_rows:
            checks.append(Check("accuracy", "key uniqueness", distinct_keys, self.key_rows, None,
                                "key " + ", ".join(self.config.key)))
        if self.config.date_column:
            age = self.config.max_age
            checks.append(Check("timeliness", "within max age", self.timely, self.timely_evaluated,
                                self.config.date_column, f"max age {age}, as of {self.as_of.isoformat()}"))
        bad = read.bad_rows if read else 0
        checks.append(Check("accessibility", "readable rows", rows, rows + bad, None,
                            f"{bad} rows skipped as unreadable" if bad else ""))
        header = read.header if read and read.header else [c.name for c in columns]
        stripped = [h.strip() for h in header]
        good_names = sum(1 for h in stripped if h and stripped.count(h) == 1)
        if header:
            checks.append(Check("accessibility", "column names", good_names, len(header), None,
                                "non-empty and unique"))
        if read and read.formula_cells:
            checks.append(Check("accessibility", "formula values", read.formula_cells - read.formula_cells_without_value,
                                read.formula_cells, None, "formula cells saved with a value"))
        return checks


def profile_batches(batches: Iterable[pl.DataFrame], config: ProfileConfig | None = None, *,
                    infer_text: bool = False, as_of: datetime | None = None, source: str = "<frames>",
                    fmt: str = "frame", read: ReadStats | None = None,
                    hash_memory_items: int = 8_000_000) -> TableProfile:
    start = time.perf_counter()
    profiler = Profiler(config, infer_text=infer_text, as_of=as_of, hash_memory_items=hash_memory_items)
    try:
        for batch in batches:
            profiler.update(batch)
    except BaseException:
        profiler.row_hashes.close()
        profiler.key_hashes.close()
        raise
    return profiler.finish(source=source, fmt=fmt, read=read, elapsed_s=time.perf_counter() - start)


def profile_frame(frame: pl.DataFrame, config: ProfileConfig | None = None, *, as_of: datetime | None = None,
                  batch_rows: int = 262_144) -> TableProfile:
    """Profile an in-memory frame (in batches, as a file would be)."""
    step = max(1, batch_rows)
    batches = (frame.slice(i, step) for i in range(0, max(frame.height, 1), step))
    return profile_batches(batches, config, as_of=as_of, source="<frame>", fmt="frame")


def profile_file(path: str | Path, config: ProfileConfig | None = None, *, options: ReadOptions | None = None,
                 as_of: datetime | None = None, progress: Callable[[int], None] | None = None,
                 hash_memory_items: int = 8_000_000) -> TableProfile:
    """Profile a CSV, JSON Lines, Parquet or Excel file in one streaming pass."""
    reader = open_table(path, options)
    profile = profile_batches(
        prefetch(reader.batches(progress=progress)), config, infer_text=reader.format == "csv", as_of=as_of,
        source=str(path), fmt=reader.format, read=reader.stats, hash_memory_items=hash_memory_items,
    )
    return profile
