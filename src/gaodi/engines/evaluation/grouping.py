"""Integer-coded groups: one pass over the rows for the finest intersection, the rest from it.

Each sensitive feature is coded 0..k-1 (sorted labels). The full intersection of all sensitive
features is coded once (mixed radix, compacted to the combinations that occur), and the per-row
cells are counted with a single `np.bincount`. Every other grouping (one feature, or a smaller
intersection) is then a sum over the rows of that small table, never another pass over the data.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.evaluation.labels import canon

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
MISSING = "(missing)"
_DENSE_LIMIT = 1 << 24


@dataclass(frozen=True)
class Encoded:
    name: str
    codes: IntArray
    labels: list[str]


@dataclass(frozen=True)
class GroupSums:
    """Per-group sums for one grouping: `keys[g]` holds the group's label per feature."""

    features: tuple[str, ...]
    keys: list[tuple[str, ...]]
    sums: npt.NDArray[np.int64] | FloatArray  # (groups, columns)

    @property
    def name(self) -> str:
        return " × ".join(self.features)

    def label(self, index: int) -> str:
        return " × ".join(self.keys[index])


def _sort_key(label: str) -> tuple[int, float, str]:
    if label == MISSING:
        return (2, 0.0, label)
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def encode(name: str, values: pl.Series | npt.NDArray[np.generic]) -> Encoded:
    """Code a column's values 0..k-1 in sorted label order (numbers by value); nulls become '(missing)'."""
    series = values if isinstance(values, pl.Series) else pl.Series(name, values)
    if series.dtype not in (pl.Categorical,) and not isinstance(series.dtype, pl.Enum):
        series = canon(series).fill_null(MISSING).cast(pl.Categorical)
    elif series.null_count():
        series = series.cast(pl.String).fill_null(MISSING).cast(pl.Categorical)
    physical = series.to_physical().to_numpy().astype(np.int64, copy=False)
    present = series.unique()
    ids = present.to_physical().to_numpy().astype(np.int64)
    names = present.cast(pl.String).to_list()
    order = sorted(range(len(names)), key=lambda i: _sort_key(names[i]))
    lookup = np.zeros(int(ids.max()) + 1 if len(ids) else 1, dtype=np.int64)
    lookup[ids[order]] = np.arange(len(order), dtype=np.int64)
    return Encoded(name, lookup[physical], [names[i] for i in order])


def _compact(codes: IntArray, bound: int) -> tuple[IntArray, IntArray]:
    """Renumber codes 0..g-1 keeping their order; returns (new codes, old code of each new code)."""
    if bound <= _DENSE_LIMIT:
        present = np.flatnonzero(np.bincount(codes, minlength=bound)).astype(np.int64)
        lookup = np.zeros(bound, dtype=np.int64)
        lookup[present] = np.arange(len(present), dtype=np.int64)
        return lookup[codes], present
    present, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int64), present.astype(np.int64)


def intersect(encoded: Sequence[Encoded]) -> tuple[IntArray, IntArray]:
    """Code the intersection of all features: (row codes 0..g-1, key matrix g x features of feature codes)."""
    codes = encoded[0].codes
    keys = np.arange(len(encoded[0].labels), dtype=np.int64).reshape(-1, 1)
    codes, present = _compact(codes, len(encoded[0].labels))
    keys = keys[present]
    for item in encoded[1:]:
        k = len(item.labels)
        codes, present = _compact(codes * k + item.codes, len(keys) * k)
        keys = np.column_stack((keys[present // k], present % k))
    return codes, keys


def _aggregate(keys: IntArray, sums: npt.NDArray[np.generic], axes: Sequence[int],
               sizes: Sequence[int]) -> tuple[IntArray, npt.NDArray[np.generic]]:
    sub = keys[:, list(axes)]
    combined = np.zeros(len(sub), dtype=np.int64)
    bound = 1
    for column, size in zip(sub.T, sizes, strict=True):
        combined = combined * size + column
        bound *= size
    inverse, present = _compact(combined, bound)
    out = np.zeros((len(present), sums.shape[1]), dtype=sums.dtype)
    np.add.at(out, inverse, sums)
    group_keys = np.zeros((len(present), len(axes)), dtype=np.int64)
    group_keys[inverse] = sub
    return group_keys, out


def group_counts(sensitive: Mapping[str, Encoded], groupings: Sequence[tuple[str, ...]],
                 cells: IntArray, n_cells: int) -> list[GroupSums]:
    """Per grouping, per group, how many rows fall in each cell 0..n_cells-1 (one bincount in all)."""
    codes, keys, encoded = _intersection(sensitive)
    table = np.bincount(codes * n_cells + cells, minlength=len(keys) * n_cells).reshape(len(keys), n_cells)
    return _split(sensitive, groupings, keys, encoded, table.astype(np.int64))


def group_weighted(sensitive: Mapping[str, Encoded], groupings: Sequence[tuple[str, ...]],
                   weights: Sequence[FloatArray]) -> list[GroupSums]:
    """Per grouping, per group: column 0 the row count, then the sum of each weight array."""
    codes, keys, encoded = _intersection(sensitive)
    columns: list[FloatArray] = [np.bincount(codes, minlength=len(keys)).astype(np.float64)]
    columns += [np.bincount(codes, weights=w, minlength=len(keys)).astype(np.float64) for w in weights]
    return _split(sensitive, groupings, keys, encoded, np.column_stack(columns))


def _intersection(sensitive: Mapping[str, Encoded]) -> tuple[IntArray, IntArray, list[Encoded]]:
    encoded = list(sensitive.values())
    codes, keys = intersect(encoded)
    return codes, keys, encoded


def _split(sensitive: Mapping[str, Encoded], groupings: Sequence[tuple[str, ...]], keys: IntArray,
           encoded: list[Encoded], table: npt.NDArray[np.generic]) -> list[GroupSums]:
    names = list(sensitive)
    out: list[GroupSums] = []
    for grouping in groupings:
        axes = [names.index(f) for f in grouping]
        group_keys, sums = _aggregate(keys, table, axes, [len(encoded[a].labels) for a in axes])
        labels = [tuple(encoded[a].labels[int(c)] for a, c in zip(axes, row, strict=True)) for row in group_keys]
        out.append(GroupSums(tuple(grouping), labels, sums))  # type: ignore[arg-type]
    return out


def nan_reduce(values: FloatArray, how: str) -> FloatArray:
    """nanmax/nanmin along the last axis without warnings for all-NaN rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = np.nanmax(values, axis=-1) if how == "max" else np.nanmin(values, axis=-1)
    return np.asarray(result, dtype=np.float64)
