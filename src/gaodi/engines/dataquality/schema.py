"""Column types across batches: inferred from text (CSV), kept consistent for every format.

CSV fields arrive as text. The first batch decides each column's type, from its non-blank values
(after trimming spaces), in this order; a type is taken when at least 99% of those values fit it:

- integer: ``[+-]?(0|[1-9][0-9]{0,9})`` — at most 10 digits and no leading zero, so phone numbers,
  identity numbers, postal codes and other codes stay text;
- decimal: with a decimal point or an exponent (or an integer as above);
- boolean: true / false (any case);
- date: ``YYYY-MM-DD`` or ``YYYY/MM/DD``; date-time: ``YYYY-MM-DD HH:MM[:SS]`` (or with ``T``);
- otherwise text.

Every batch is then converted to those types. A blank field is missing (null). A non-blank value that
does not convert (``"n/a"`` in an integer column, ``2024-02-30`` in a date column) becomes null in
the typed column and is counted as a *type violation* of that column (normativity), with samples;
it is not counted as missing. If a later batch of an integer column holds decimals, the column
becomes decimal from there on. Formats with their own types (Parquet, JSON Lines, Excel) keep them;
a later batch whose type differs is converted to the first type (integers widen to decimals; a
value that does not convert is a type violation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from gaodi.engines.dataquality.errors import DataQualityError

INFER_THRESHOLD = 0.99
_INT = r"^[+-]?(?:0|[1-9][0-9]{0,9})$"
_FLOAT = r"^[+-]?(?:(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+|0|[1-9][0-9]{0,9})$"
_BOOL = r"^(?i:true|false)$"
_DATES = [("%Y-%m-%d", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), ("%Y/%m/%d", r"^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$")]
_DATETIMES = [
    ("%Y-%m-%d %H:%M:%S", r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"),
    ("%Y-%m-%dT%H:%M:%S", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"),
    ("%Y-%m-%d %H:%M", r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}$"),
]
SAMPLES = 5


@dataclass
class TextPlan:
    kind: str  # int, float, bool, date, datetime, string
    format: str | None = None

    def convert(self, stripped: pl.Expr) -> pl.Expr:
        if self.kind == "int":
            return stripped.cast(pl.Int64, strict=False)
        if self.kind == "float":
            return stripped.cast(pl.Float64, strict=False)
        if self.kind == "bool":
            lower = stripped.str.to_lowercase()
            return pl.when(lower == "true").then(True).when(lower == "false").then(False).otherwise(None)
        if self.kind == "date":
            return stripped.str.to_date(self.format, strict=False)
        if self.kind == "datetime":
            return stripped.str.to_datetime(self.format, strict=False, time_unit="us")
        return stripped


def infer_text_plan(values: pl.Series) -> TextPlan:
    """The type of a text column from its values (see the module docstring)."""
    stripped = values.str.strip_chars()
    present = stripped.filter(stripped.is_not_null() & (stripped != ""))
    n = len(present)
    if n == 0:
        return TextPlan("string")

    def share(pattern: str) -> float:
        return float(present.str.contains(pattern).sum()) / n

    if share(_INT) >= INFER_THRESHOLD:
        return TextPlan("int")
    if share(_FLOAT) >= INFER_THRESHOLD:
        return TextPlan("float")
    if share(_BOOL) >= INFER_THRESHOLD:
        return TextPlan("bool")
    for fmt, pattern in _DATES:
        if share(pattern) >= INFER_THRESHOLD:
            return TextPlan("date", fmt)
    for fmt, pattern in _DATETIMES:
        if share(pattern) >= INFER_THRESHOLD:
            return TextPlan("datetime", fmt)
    return TextPlan("string")


DECLARED_KINDS = {"integer": "int", "decimal": "float", "boolean": "bool", "date": "date",
                  "datetime": "datetime", "text": "string"}


def declared_plan(type_name: str, fmt: str | None = None) -> TextPlan:
    return TextPlan(DECLARED_KINDS[type_name], fmt)


def _fits(plan: TextPlan, dtype: pl.DataType) -> bool:
    if plan.kind == "int":
        return dtype.is_integer()
    if plan.kind == "float":
        return dtype.is_numeric()
    if plan.kind == "bool":
        return dtype == pl.Boolean
    if plan.kind == "date":
        return dtype == pl.Date
    if plan.kind == "datetime":
        return isinstance(dtype, pl.Datetime)
    return dtype == pl.String


@dataclass
class Aligned:
    frame: pl.DataFrame
    violations: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)


class SchemaAligner:
    """Gives every batch the same column types; counts values that do not fit."""

    def __init__(self, *, infer_text: bool, declared: dict[str, TextPlan] | None = None) -> None:
        self.infer_text = infer_text
        self.declared = dict(declared or {})
        self.plans: dict[str, TextPlan] = dict(self.declared)
        self.dtypes: dict[str, pl.DataType] = {}
        self.checked: set[str] = set()  # columns whose values were converted (type conformance is measured)
        self.rows = 0

    def align(self, batch: pl.DataFrame) -> Aligned:
        out = Aligned(batch)
        exprs: list[pl.Expr] = []
        checks: list[pl.Expr] = []
        checked: list[str] = []
        for name in batch.columns:
            dtype = batch.schema[name]
            declared = self.declared.get(name)
            as_text = declared is not None and not _fits(declared, dtype)
            if as_text or (self.infer_text and dtype == pl.String and (name in self.plans or name not in self.dtypes)):
                if name not in self.plans:
                    self.plans[name] = infer_text_plan(batch[name])
                plan = self.plans[name]
                if plan.kind == "int" and declared is None:
                    plan = self._maybe_widen(name, batch[name])
                source = pl.col(name) if dtype == pl.String else pl.col(name).cast(pl.String)
                stripped = source.str.strip_chars()
                value = pl.when(stripped == "").then(None).otherwise(stripped)
                if plan.kind == "string":
                    exprs.append(pl.when(stripped == "").then(None).otherwise(source).alias(name))
                    continue
                converted = plan.convert(value)
                exprs.append(converted.alias(name))
                checks.append((value.is_not_null() & converted.is_null()).alias(name))
                checked.append(name)
                continue
            expr, lossy = self._native(name, dtype, batch)
            exprs.append(expr.alias(name))
            if lossy:
                checks.append((pl.col(name).is_not_null() & expr.is_null()).alias(name))
                checked.append(name)
        frame = batch.select(exprs) if exprs else batch
        if checks:
            bad = batch.select(checks)
            for name in checked:
                mask = bad[name]
                count = int(mask.sum())
                if count:
                    out.violations[name] = count
                    out.samples[name] = [str(v) for v in batch[name].filter(mask).head(SAMPLES).to_list()]
        self.checked.update(checked)
        for name in batch.columns:
            self.dtypes[name] = frame.schema[name]
        missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in self.dtypes.items()
                   if name not in frame.columns]
        if missing:
            frame = frame.with_columns(missing)
        out.frame = frame
        self.rows += batch.height
        return out

    def _maybe_widen(self, name: str, values: pl.Series) -> TextPlan:
        stripped = values.str.strip_chars()
        bad = stripped.filter((stripped != "") & ~stripped.str.contains(_INT))
        if len(bad) and bool(bad.str.contains(_FLOAT).all()):
            self.plans[name] = TextPlan("float")
        return self.plans[name]

    def _native(self, name: str, dtype: pl.DataType, batch: pl.DataFrame) -> tuple[pl.Expr, bool]:
        """The expression converting this batch's column to the column's type, and whether it may lose values."""
        known = self.dtypes.get(name)
        col = pl.col(name)
        if known is None or known == dtype or known == pl.Null:
            return col, False
        if dtype == pl.Null:
            return col.cast(known), False
        if known.is_numeric() and dtype.is_numeric():
            if known.is_integer() and dtype.is_float():
                return col.cast(pl.Float64), False
            return col.cast(known, strict=False), known.is_integer()
        try:
            batch.head(1).select(col.cast(known, strict=False))
        except pl.exceptions.PolarsError:
            raise DataQualityError(
                f"values change type from {known} to {dtype} after row {self.rows}",
                column=name, hint="give the column one type throughout the file",
            ) from None
        return col.cast(known, strict=False), True
