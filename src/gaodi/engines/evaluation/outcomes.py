"""Small helpers shared by the tests that re-predict: labels, numeric outcomes and one headline score."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.evaluation.adapters.base import Model, Predictions
from gaodi.engines.evaluation.errors import ModelError
from gaodi.engines.evaluation.labels import canon
from gaodi.engines.evaluation.plan import Task

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def predict_checked(model: Model, frame: pl.DataFrame) -> Predictions:
    result = model.predict(frame)
    if result.labels.len() != frame.height:
        raise ModelError(f"the model returned {result.labels.len()} predictions for {frame.height} rows")
    return result


def labels(pred: Predictions) -> npt.NDArray[np.str_]:
    return np.asarray(canon(pred.labels).fill_null("").to_list(), dtype=str)


def values(pred: Predictions) -> FloatArray:
    """Numeric outputs of a regression model."""
    if not pred.labels.dtype.is_numeric():
        raise ModelError("the model returned text, but task = \"regression\" needs numbers")
    return pred.labels.cast(pl.Float64).fill_null(np.nan).to_numpy()


def headline(task: Task, truth: pl.Series | None, pred: Predictions) -> tuple[str, float | None]:
    """(metric name, value): accuracy for classification, R² for regression; None without truth."""
    if truth is None:
        return ("accuracy" if task == "classification" else "r2"), None
    if task == "classification":
        return "accuracy", float(np.mean(labels(pred) == np.asarray(canon(truth).to_list(), dtype=str)))
    y, yhat = truth.cast(pl.Float64).to_numpy(), values(pred)
    total = float(((y - y.mean()) ** 2).sum())
    return "r2", None if total == 0 or np.isnan(yhat).any() else 1.0 - float(((yhat - y) ** 2).sum()) / total


def sample(frame: pl.DataFrame, max_rows: int, seed: int) -> tuple[pl.DataFrame, npt.NDArray[np.int64]]:
    """At most `max_rows` rows, drawn without replacement (seeded); returns the rows and their indices."""
    if frame.height <= max_rows:
        return frame, np.arange(frame.height, dtype=np.int64)
    index = np.sort(np.random.default_rng(seed).choice(frame.height, size=max_rows, replace=False))
    return frame[index], index.astype(np.int64)
