"""Mergeable summaries that keep memory bounded: distinct counts, top values, duplicate hashes.

- `ValueCounter` keeps exact value counts while a column has at most `exact_limit` distinct values
  (default 100,000): distinct count and top values are then exact. Past the limit it switches to a
  HyperLogLog sketch for the distinct count (2**14 registers, 64-bit hashes: standard error
  1.04/sqrt(16384) ≈ 0.8%) and keeps the `top_k` most frequent values (default 1,000): at each
  batch, the batch's own `top_k` values are added to the kept list and the list is cut back to
  `top_k`. The largest count dropped at each of these two cuts is added to `error_bound`, so a
  reported count is at most `error_bound` below the true count, and a value not listed occurs at
  most `error_bound` times (the mergeable-summary argument of Misra-Gries / Space-Saving).
- `HashSet64` counts distinct 64-bit row hashes (duplicate rows, key uniqueness). It holds up to
  `memory_items` hashes (default 8 million, 64 MB) in memory, then partitions them by their top bits
  into files in a temporary directory and counts each partition separately. Two different rows
  share a 64-bit hash with probability about n²/2⁶⁵ over n rows (1 in 37,000 for 10 million rows).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

U64 = npt.NDArray[np.uint64]
SEED = 20220922


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) else 0


class HyperLogLog:
    def __init__(self, precision: int = 14) -> None:
        self.p = precision
        self.m = 1 << precision
        self.registers = np.zeros(self.m, dtype=np.uint8)

    def add(self, hashes: U64) -> None:
        if len(hashes) == 0:
            return
        index = (hashes >> np.uint64(64 - self.p)).astype(np.intp)
        rest = (hashes << np.uint64(self.p)) | np.uint64(1 << (self.p - 1))
        rank = pl.Series(rest, dtype=pl.UInt64).bitwise_leading_zeros().to_numpy().astype(np.uint8) + 1
        np.maximum.at(self.registers, index, rank)

    def merge(self, other: HyperLogLog) -> None:
        np.maximum(self.registers, other.registers, out=self.registers)

    def estimate(self) -> int:
        m = self.m
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))
        return round(raw)


class ValueCounter:
    """Distinct count and top values of one column over batches (see the module docstring).

    In the exact phase batches are counted by value. In the sketch phase they are counted by the
    values' 64-bit hashes (an integer hash table is about twice as fast as one on text); the values
    themselves are kept only for the hashes in the top list, looked up in the batch they came from.
    """

    def __init__(self, *, exact_limit: int = 100_000, top_k: int = 1000) -> None:
        self.exact_limit = exact_limit
        self.top_k = top_k
        self.counts: pl.DataFrame | None = None  # exact phase: columns v, n; sketch phase: h, n
        self.values: dict[int, Any] = {}  # sketch phase: hash -> value, for the kept hashes
        self.hll: HyperLogLog | None = None
        self.error_bound = 0

    @property
    def exact(self) -> bool:
        return self.hll is None

    def start_sketch(self) -> None:
        """Skip the exact phase: for a column whose first batch alone has far more distinct values than
        `exact_limit` (it would switch at the end of that batch anyway, with the same results)."""
        if self.hll is None and self.counts is None:
            self.hll = HyperLogLog()
            self.counts = pl.DataFrame(schema={"h": pl.UInt64, "n": pl.Int64})

    def update(self, values: pl.Series) -> None:
        """Add a batch of values (nulls are ignored)."""
        frame = values.rename("x").to_frame().lazy()
        counts = self.counts_query(frame, pl.col("x")).collect()
        self.add_counts(counts, lambda hashes: lookup_values(frame, pl.col("x"), hashes))

    def counts_query(self, frame: pl.LazyFrame, values: pl.Expr) -> pl.LazyFrame:
        """A lazy query giving the batch's counts for `add_counts`: by value (exact phase) or by hash."""
        present = values.drop_nulls()
        key = present if self.hll is None else present.hash(SEED)
        return frame.select(key.alias("v").value_counts(sort=False, name="n").alias("s")).unnest("s")

    def add_counts(self, batch: pl.DataFrame, lookup: Callable[[list[int]], dict[int, Any]]) -> None:
        """Add a batch's counts (from `counts_query`); `lookup` maps hashes to values in this batch."""
        if batch.height == 0:
            return
        batch = batch.with_columns(pl.col("n").cast(pl.Int64))
        if self.hll is None:
            self._add_exact(batch)
            return
        batch = batch.rename({"v": "h"})
        self.hll.add(batch["h"].to_numpy().astype(np.uint64, copy=False))
        if batch.height > self.top_k:
            # Only the batch's top_k can matter: anything else in the batch occurs at most as often
            # as its (top_k + 1)-th value, which goes into the error bound.
            self.error_bound += _int(batch["n"].top_k(self.top_k + 1).min())
            batch = batch.top_k(self.top_k, by="n")
        assert self.counts is not None
        merged = (
            pl.concat([self.counts.with_columns(pl.lit(0, pl.Int8).alias("new")),
                       batch.with_columns(pl.lit(1, pl.Int8).alias("new"))])
            .group_by("h").agg(pl.col("n").sum(), pl.col("new").min())
        )
        if merged.height > self.top_k:
            # On equal counts the values already kept stay (fewer values to look up in the batch).
            merged = merged.sort(["n", "new"], descending=[True, False])
            self.error_bound += _int(merged["n"][self.top_k])
            merged = merged.head(self.top_k)
        merged = merged.drop("new")
        kept = merged["h"].to_list()
        missing = [h for h in kept if h not in self.values]
        if missing:
            self.values.update(lookup(missing))
        self.values = {h: self.values[h] for h in kept if h in self.values}
        self.counts = merged

    def _add_exact(self, batch: pl.DataFrame) -> None:
        if self.counts is not None and self.counts.schema["v"] != batch.schema["v"]:
            try:
                self.counts = self.counts.with_columns(pl.col("v").cast(batch.schema["v"]))
            except pl.exceptions.PolarsError:
                batch = batch.with_columns(pl.col("v").cast(self.counts.schema["v"], strict=False)).drop_nulls("v")
        merged = batch if self.counts is None else pl.concat([self.counts, batch]).group_by("v").agg(pl.col("n").sum())
        if merged.height <= self.exact_limit:
            self.counts = merged
            return
        # Switch to the sketch phase: distinct values go into the HyperLogLog, the top list by hash.
        hashes = merged["v"].hash(seed=SEED)
        self.hll = HyperLogLog()
        self.hll.add(hashes.to_numpy().astype(np.uint64, copy=False))
        self.error_bound += _int(merged["n"].top_k(self.top_k + 1).min())
        top = merged.with_columns(hashes.alias("h")).top_k(self.top_k, by="n")
        self.values = dict(zip(top["h"].to_list(), top["v"].to_list(), strict=True))
        self.counts = top.select("h", "n")

    def cast(self, dtype: pl.DataType) -> None:
        if self.counts is not None and self.hll is None:
            self.counts = self.counts.with_columns(pl.col("v").cast(dtype, strict=False))

    def distinct(self) -> int:
        if self.hll is not None:
            return self.hll.estimate()
        return 0 if self.counts is None else self.counts.height

    def top(self, k: int = 10) -> list[tuple[Any, int]]:
        if self.counts is None:
            return []
        if self.hll is None:
            rows = self.counts.sort(["n", "v"], descending=[True, False], nulls_last=True).head(k).rows()
            return [(v, int(n)) for v, n in rows]
        ordered = self.counts.sort(["n", "h"], descending=[True, False]).head(k).rows()
        return [(self.values.get(h), int(n)) for h, n in ordered]


def lookup_values(frame: pl.LazyFrame, values: pl.Expr, hashes: list[int]) -> dict[int, Any]:
    """The value behind each of `hashes` in this batch."""
    wanted = pl.Series(hashes, dtype=pl.UInt64)
    found = (frame.select(values.drop_nulls().alias("v"))
             .with_columns(pl.col("v").hash(SEED).alias("h"))
             .filter(pl.col("h").is_in(wanted.implode())).unique("h").collect())
    return dict(zip(found["h"].to_list(), found["v"].to_list(), strict=True))


class HashSet64:
    """Distinct count over many 64-bit hashes, spilling to disk past `memory_items`."""

    PARTITION_BITS = 6

    def __init__(self, *, memory_items: int = 8_000_000) -> None:
        self.memory_items = memory_items
        self.buffer: list[U64] = []
        self.buffered = 0
        self.total = 0
        self.directory: Path | None = None

    def add(self, hashes: U64) -> None:
        self.total += len(hashes)
        self.buffer.append(hashes)
        self.buffered += len(hashes)
        if self.buffered > self.memory_items:
            self._spill()

    def _spill(self) -> None:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="gaodi-dq-"))
        data = np.concatenate(self.buffer)
        self.buffer, self.buffered = [], 0
        part = (data >> np.uint64(64 - self.PARTITION_BITS)).astype(np.intp)
        order = np.argsort(part, kind="stable")
        data, part = data[order], part[order]
        bounds = np.searchsorted(part, np.arange((1 << self.PARTITION_BITS) + 1))
        for i in range(1 << self.PARTITION_BITS):
            chunk = data[bounds[i] : bounds[i + 1]]
            if len(chunk):
                with (self.directory / f"{i:02d}.u64").open("ab") as handle:
                    chunk.tofile(handle)

    def distinct(self) -> int:
        if self.directory is None:
            if not self.buffer:
                return 0
            return int(pl.Series(np.concatenate(self.buffer), dtype=pl.UInt64).n_unique())
        if self.buffer:
            self._spill()
        total = 0
        for file in sorted(self.directory.glob("*.u64")):
            total += int(pl.Series(np.fromfile(file, dtype=np.uint64), dtype=pl.UInt64).n_unique())
        return total

    def close(self) -> None:
        self.buffer = []
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
