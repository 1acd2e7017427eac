"""Explanation: permutation importance (seeded) and partial dependence for the top features.

Permutation importance of a feature is the drop of the headline metric (accuracy, or R²) when that
feature's column is shuffled, averaged over `repeats` shuffles. Partial dependence shows the mean
model output (positive-class probability if the model gives one, else the share predicted
positive; the mean prediction for regression) with the feature set to each value of a grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters.base import Model, Predictions
from gaodi.engines.evaluation.outcomes import headline, labels, predict_checked, values
from gaodi.engines.evaluation.plan import ExplanationSpec, Task

PD_ROWS = 300


def permutation_importance(model: Model, frame: pl.DataFrame, truth: pl.Series, base: Predictions, task: Task,
                           repeats: int, seed: int) -> tuple[str, float | None, list[dict[str, Any]]]:
    metric, baseline = headline(task, truth, base)
    rng = np.random.default_rng(seed)
    rows = []
    for name in frame.columns:
        drops = []
        for _ in range(repeats):
            shuffled = frame.with_columns(frame.get_column(name).gather(rng.permutation(frame.height)))
            _, score = headline(task, truth, predict_checked(model, shuffled))
            if score is not None and baseline is not None:
                drops.append(baseline - score)
        rows.append({"feature": name, "importance": float(np.mean(drops)) if drops else None,
                     "std": float(np.std(drops)) if drops else None})
    rows.sort(key=_importance_key)
    return metric, baseline, rows


def _importance_key(row: dict[str, Any]) -> float:
    value = row["importance"]
    return -float(value) if value is not None else float("inf")


def _grid(series: pl.Series, points: int) -> list[Any]:
    clean = series.drop_nulls()
    if clean.dtype.is_numeric() and clean.n_unique() > points:
        quantiles = np.quantile(clean.cast(pl.Float64).to_numpy(), np.linspace(0.05, 0.95, points))
        grid = np.unique(np.round(quantiles, 10))
        return [int(v) for v in np.round(grid)] if clean.dtype.is_integer() else [float(v) for v in grid]
    counts = clean.value_counts(sort=True)
    return counts.get_column(series.name).head(points).sort().to_list()


def _mean_output(pred: Predictions, task: Task, positive: str | None) -> float:
    if task == "regression":
        return float(np.nanmean(values(pred)))
    score = pred.positive_score(positive) if positive is not None else None
    if score is not None:
        return float(score.mean())
    return float(np.mean(labels(pred) == positive))


def partial_dependence(model: Model, frame: pl.DataFrame, feature: str, points: int, task: Task,
                       positive: str | None) -> dict[str, Any]:
    part = frame.head(PD_ROWS)
    grid = _grid(frame.get_column(feature), points)
    dtype = frame.schema[feature]
    stacked = pl.concat([part.with_columns(pl.lit(v).cast(dtype, strict=False).alias(feature)) for v in grid])
    pred = predict_checked(model, stacked)
    means = []
    for i in range(len(grid)):
        piece = Predictions(pred.labels.slice(i * part.height, part.height),
                            None if pred.proba is None else pred.proba[i * part.height:(i + 1) * part.height],
                            pred.classes,
                            None if pred.score is None else pred.score[i * part.height:(i + 1) * part.height])
        means.append(_mean_output(piece, task, positive))
    output = "mean prediction" if task == "regression" else (
        "positive-class probability" if pred.positive_score(positive or "") is not None else "share predicted positive")
    return {"feature": feature, "grid": grid, "mean_output": means, "output": output,
            "numeric": dtype.is_numeric()}


def explanation_test(model: Model, frame: pl.DataFrame, truth: pl.Series, base: Predictions, task: Task,
                     positive: str | None, spec: ExplanationSpec, seed: int) -> dict[str, Any]:
    metric, baseline, importance = permutation_importance(model, frame, truth, base, task, spec.repeats, seed)
    top = [r["feature"] for r in importance if r["importance"] is not None][: spec.top_k]
    return {
        "rows": frame.height, "metric": metric, "baseline": baseline, "repeats": spec.repeats,
        "permutation_importance": importance,
        "partial_dependence": [partial_dependence(model, frame, f, spec.grid, task, positive) for f in top],
    }
