"""Labels as canonical text, so that 1, 1.0, "1" and a TOML `positive_label = 1` all compare equal."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.evaluation.plan import Scalar

BoolArray = npt.NDArray[np.bool_]


def canon_value(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def canon(series: pl.Series) -> pl.Series:
    """The series as String, with integral floats written without '.0' and booleans as true/false."""
    dtype = series.dtype
    if dtype == pl.String:
        return series
    if dtype.is_float():
        finite = series.drop_nulls().drop_nans()
        if finite.len() == 0 or bool((finite == finite.floor()).all()):
            return series.fill_nan(None).cast(pl.Int64, strict=False).cast(pl.String)
    return series.cast(pl.String)


def distinct(series: pl.Series) -> list[str]:
    """Sorted distinct canonical values (nulls left out)."""
    return sorted(canon(series).drop_nulls().unique().to_list())


def positive_mask(series: pl.Series, positive: Scalar) -> BoolArray:
    """True where the (canonical) label equals the positive label."""
    mask = canon(series) == canon_value(positive)
    return mask.fill_null(False).to_numpy().astype(bool, copy=False)


def quote_values(values: list[str], limit: int = 8) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
