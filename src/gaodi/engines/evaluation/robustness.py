"""Robustness: predictions on perturbed inputs, at several severities.

- noise: Gaussian noise on numeric features, with standard deviation `severity` x the column's
  standard deviation (integers are rounded back);
- swap: each categorical value is replaced, with probability `severity`, by another observed value;
- missing: each feature value is blanked with probability `severity`.

For each perturbation and severity: the headline metric (accuracy, or R² for regression), its drop
from the clean sample, and the prediction flip rate (the share of rows whose label changes; for
regression, whose value changes by more than 1 %). A model that fails on a perturbation (e.g. one
that cannot take missing values) is reported with the error, not as a crash.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters.base import Model, Predictions
from gaodi.engines.evaluation.errors import ModelError
from gaodi.engines.evaluation.outcomes import headline, labels, predict_checked, values
from gaodi.engines.evaluation.plan import RobustnessSpec, Task


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def noise(frame: pl.DataFrame, severity: float, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str]]:
    columns = [c for c, t in frame.schema.items() if _is_numeric(t)]
    updates = []
    for name in columns:
        x = frame.get_column(name).cast(pl.Float64).to_numpy()
        std = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
        noisy = x + rng.normal(0.0, severity * std, size=len(x))
        dtype = frame.schema[name]
        series = pl.Series(name, np.round(noisy) if dtype.is_integer() else noisy).cast(dtype, strict=False)
        updates.append(series)
    return (frame.with_columns(updates) if updates else frame), columns


def swap(frame: pl.DataFrame, severity: float, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str]]:
    columns = [c for c, t in frame.schema.items() if not _is_numeric(t)]
    updates = []
    for name in columns:
        series = frame.get_column(name)
        choices = series.drop_nulls().unique().sort().to_list()
        if len(choices) < 2:
            continue
        lookup = {v: i for i, v in enumerate(choices)}
        codes = np.array([lookup.get(v, 0) for v in series.to_list()], dtype=np.int64)
        shifted = (codes + rng.integers(1, len(choices), size=len(codes))) % len(choices)
        hit = rng.random(len(codes)) < severity
        new = [choices[s] if h else v for v, s, h in zip(series.to_list(), shifted, hit, strict=True)]
        updates.append(pl.Series(name, new, dtype=series.dtype))
    return (frame.with_columns(updates) if updates else frame), [u.name for u in updates]


def missing(frame: pl.DataFrame, severity: float, rng: np.random.Generator) -> tuple[pl.DataFrame, list[str]]:
    updates = []
    for name in frame.columns:
        blank = pl.Series(rng.random(frame.height) < severity)
        updates.append(pl.when(blank).then(None).otherwise(pl.col(name)).alias(name))
    return frame.with_columns(updates), list(frame.columns)


PERTURBATIONS = {"noise": noise, "swap": swap, "missing": missing}


def robustness_test(model: Model, frame: pl.DataFrame, truth: pl.Series | None, base: Predictions, task: Task,
                    spec: RobustnessSpec, seed: int) -> dict[str, Any]:
    metric, clean = headline(task, truth, base)
    results = []
    for kind in spec.perturbations:
        for step, severity in enumerate(spec.severities):
            rng = np.random.default_rng([seed, step, list(PERTURBATIONS).index(kind)])
            perturbed, columns = PERTURBATIONS[kind](frame, severity, rng)
            results.append(_one(model, perturbed, truth, base, task, kind, severity, columns, clean))
    return {
        "rows": frame.height, "metric": metric, "clean": clean, "results": results,
        "worst_flip_rate": max((r["flip_rate"] for r in results if r["flip_rate"] is not None), default=None),
        "worst_performance_drop": max((r["drop"] for r in results if r["drop"] is not None), default=None),
    }


def _one(model: Model, frame: pl.DataFrame, truth: pl.Series | None, base: Predictions, task: Task, kind: str,
         severity: float, columns: list[str], clean: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"perturbation": kind, "severity": severity, "columns": columns,
                           "metric": None, "drop": None, "flip_rate": None, "error": None}
    if not columns:
        row["error"] = f"no column suits '{kind}'"
        return row
    try:
        new = predict_checked(model, frame)
        _, value = headline(task, truth, new)
        row["flip_rate"] = _flip_rate(base, new, task)
    except ModelError as exc:
        row["error"] = str(exc)
        return row
    row["metric"] = value
    row["drop"] = None if value is None or clean is None else clean - value
    return row


def _flip_rate(base: Predictions, new: Predictions, task: Task) -> float:
    if task == "classification":
        return float(np.mean(labels(base) != labels(new)))
    before, after = values(base), values(new)
    changed = np.abs(after - before) > 0.01 * np.maximum(np.abs(before), 1e-12)
    return float(np.mean(changed | np.isnan(after)))
