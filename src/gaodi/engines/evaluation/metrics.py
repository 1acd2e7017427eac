"""Performance metrics, vectorised with NumPy: classification and regression.

Classification metrics that need a positive class (precision, recall, F1, ROC AUC, calibration)
look at the positive label against all others. Undefined values (no positives, a zero
denominator) are None, never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.evaluation.labels import canon

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
EPS = 1e-15


def ratio(numerator: float, denominator: float) -> float | None:
    return None if denominator == 0 else float(numerator / denominator)


def binary_counts(y_true: BoolArray, y_pred: BoolArray) -> dict[str, int]:
    cells = np.bincount(y_true.astype(np.int64) * 2 + y_pred.astype(np.int64), minlength=4)
    return {"tn": int(cells[0]), "fp": int(cells[1]), "fn": int(cells[2]), "tp": int(cells[3])}


def average_ranks(values: FloatArray) -> FloatArray:
    """1-based ranks, ties sharing their average rank (as in the Mann-Whitney statistic)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(ordered)) + 1))
    ends = np.concatenate((starts[1:], [len(values)]))
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(y_true: BoolArray, score: FloatArray) -> float | None:
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(average_ranks(score)[y_true].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def binary_log_loss(y_true: BoolArray, score: FloatArray) -> float:
    p = np.clip(score, EPS, 1 - EPS)
    return float(-np.mean(np.where(y_true, np.log(p), np.log1p(-p))))


def multiclass_log_loss(true_labels: pl.Series, proba: FloatArray, classes: list[str]) -> float | None:
    codes = canon(true_labels).cast(pl.Enum(classes), strict=False)
    if codes.null_count():
        return None  # a true label the model has no probability for
    index = codes.to_physical().to_numpy().astype(np.int64)
    rows = proba / np.maximum(proba.sum(axis=1, keepdims=True), EPS)
    picked = np.clip(rows[np.arange(len(index)), index], EPS, 1.0)
    return float(-np.mean(np.log(picked)))


def calibration(y_true: BoolArray, score: FloatArray, bins: int = 10) -> dict[str, Any]:
    """Expected calibration error over equal-width bins, with the reliability table."""
    index = np.minimum((score * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    confidence = np.bincount(index, weights=score, minlength=bins)
    observed = np.bincount(index, weights=y_true.astype(np.float64), minlength=bins)
    ece = float(np.abs(observed - confidence).sum() / len(score))
    table = [
        {"bin": [b / bins, (b + 1) / bins], "count": int(count[b]),
         "mean_score": ratio(confidence[b], count[b]), "positive_rate": ratio(observed[b], count[b])}
        for b in range(bins)
    ]
    return {"ece": ece, "bins": table}


def confusion_matrix(true_labels: pl.Series, pred_labels: pl.Series) -> dict[str, Any]:
    t, p = canon(true_labels), canon(pred_labels)
    labels = sorted(set(t.unique().drop_nulls().to_list()) | set(p.unique().drop_nulls().to_list()))
    enum = pl.Enum(labels)
    ti = t.cast(enum).to_physical().to_numpy().astype(np.int64)
    pi = p.cast(enum).to_physical().to_numpy().astype(np.int64)
    k = len(labels)
    matrix = np.bincount(ti * k + pi, minlength=k * k).reshape(k, k)
    return {"labels": labels, "matrix": matrix.tolist(), "rows": "true", "columns": "predicted"}


def classification_metrics(true_labels: pl.Series, pred_labels: pl.Series, positive: str, *,
                           score: FloatArray | None = None, proba: FloatArray | None = None,
                           classes: list[str] | None = None) -> dict[str, Any]:
    y_true = (canon(true_labels) == positive).to_numpy().astype(bool)
    y_pred = (canon(pred_labels) == positive).to_numpy().astype(bool)
    counts = binary_counts(y_true, y_pred)
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    out: dict[str, Any] = {
        "rows": len(y_true),
        "accuracy": float(np.mean((canon(true_labels) == canon(pred_labels)).fill_null(False).to_numpy())),
        "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "positive_label": positive, "binary_counts": counts,
        "roc_auc": None, "log_loss": None, "ece": None, "calibration": None,
        "confusion_matrix": confusion_matrix(true_labels, pred_labels),
    }
    if score is not None:
        out["roc_auc"] = roc_auc(y_true, score)
        if float(score.min()) >= 0.0 and float(score.max()) <= 1.0:
            table = calibration(y_true, score)
            out["ece"], out["calibration"] = table["ece"], table["bins"]
            out["log_loss"] = binary_log_loss(y_true, score)
    if proba is not None and classes is not None and len(classes) > 2:
        out["log_loss"] = multiclass_log_loss(true_labels, proba, classes)
    return out


def regression_metrics(y_true: FloatArray, y_pred: FloatArray) -> dict[str, Any]:
    error = y_pred - y_true
    total = float(((y_true - y_true.mean()) ** 2).sum())
    nonzero = y_true != 0
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mape = float(np.abs(error[nonzero] / y_true[nonzero]).mean()) if nonzero.any() else None
    return {
        "rows": len(y_true),
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "r2": None if total == 0 else 1.0 - float((error**2).sum()) / total,
        "mape": None if mape is None or not np.isfinite(mape) else mape,
        "mape_rows_left_out": int((~nonzero).sum()),
        "mean_target": float(y_true.mean()), "mean_prediction": float(y_pred.mean()),
    }
