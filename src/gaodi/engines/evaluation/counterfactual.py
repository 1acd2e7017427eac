"""Differential treatment (Art. 66): change one attribute to each other value and re-predict.

For each alternative value, the rows that do not already have it get the value, everything else
unchanged, and the model predicts again. Reported: the share of rows whose output changes; for
labels, the flip rate by direction (into and out of the positive label) and by original value; for
numeric outputs such as a price or a score, the mean and maximum absolute and relative change.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation.adapters.base import Model, Predictions
from gaodi.engines.evaluation.errors import PlanError
from gaodi.engines.evaluation.labels import canon, canon_value
from gaodi.engines.evaluation.outcomes import FloatArray, labels, predict_checked, values
from gaodi.engines.evaluation.plan import Scalar, Task


def _as_column_value(frame: pl.DataFrame, attribute: str, value: Scalar) -> pl.Expr:
    dtype = frame.schema[attribute]
    if dtype.is_numeric() and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise PlanError(f"counterfactual value {value!r} is not a number, but column '{attribute}' "
                            "holds numbers") from None
    return pl.lit(value).cast(dtype, strict=False).alias(attribute)


def counterfactual_test(model: Model, frame: pl.DataFrame, attribute: str, alternatives: list[Scalar],
                        base: Predictions, task: Task, positive: str | None) -> dict[str, Any]:
    original = canon(frame.get_column(attribute)).fill_null("(missing)")
    results = []
    changed_total = pairs_total = 0
    for value in alternatives:
        mask = (original != canon_value(value)).to_numpy()
        if not mask.any():
            continue
        moved = frame.filter(pl.Series(mask)).with_columns(_as_column_value(frame, attribute, value))
        new = predict_checked(model, moved)
        row = _compare(base, new, mask, task, positive)
        row["by_original_value"] = _by_original(original.filter(pl.Series(mask)), row.pop("_changed"))
        row["value"] = value
        results.append(row)
        changed_total += row["changed"]
        pairs_total += row["rows"]
    return {
        "attribute": attribute, "rows": frame.height, "values": results,
        "change_rate": changed_total / pairs_total if pairs_total else None,
        "worst_change_rate": max((r["change_rate"] for r in results), default=None),
        "mean_relative_change": _worst(results, "mean_relative_change"),
    }


def _worst(results: list[dict[str, Any]], key: str) -> float | None:
    found = [r[key] for r in results if r.get(key) is not None]
    return max(found) if found else None


def _compare(base: Predictions, new: Predictions, mask: np.ndarray[Any, Any], task: Task,
             positive: str | None) -> dict[str, Any]:
    if task == "regression":
        before, after = values(base)[mask], values(new)
        out = _numeric_change(before, after)
        out["_changed"] = np.abs(after - before) > 1e-9 * np.maximum(np.abs(before), 1.0)
        return out
    before_l, after_l = labels(base)[mask], labels(new)
    changed = before_l != after_l
    out = {"rows": int(mask.sum()), "changed": int(changed.sum()), "change_rate": float(changed.mean()),
           "_changed": changed}
    if positive is not None:
        was, now = before_l == positive, after_l == positive
        out["to_positive"] = _share(~was & now, ~was)
        out["to_negative"] = _share(was & ~now, was)
    score_before = base.positive_score(positive) if positive is not None else None
    score_after = new.positive_score(positive) if positive is not None else None
    if score_before is not None and score_after is not None:
        out["score"] = _numeric_change(score_before[mask], score_after)
    return out


def _share(hit: np.ndarray[Any, Any], among: np.ndarray[Any, Any]) -> dict[str, Any]:
    n = int(among.sum())
    return {"rows": n, "changed": int(hit.sum()), "rate": float(hit.sum() / n) if n else None}


def _numeric_change(before: FloatArray, after: FloatArray) -> dict[str, Any]:
    delta = np.abs(after - before)
    scale = np.abs(before)
    relative = delta[scale > 0] / scale[scale > 0]
    changed = delta > 1e-9 * np.maximum(scale, 1.0)
    return {
        "rows": len(before), "changed": int(changed.sum()), "change_rate": float(changed.mean()) if len(before) else None,
        "mean_abs_change": float(delta.mean()) if len(delta) else None,
        "max_abs_change": float(delta.max()) if len(delta) else None,
        "mean_relative_change": float(relative.mean()) if len(relative) else None,
        "max_relative_change": float(relative.max()) if len(relative) else None,
    }


def _by_original(original: pl.Series, changed: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    frame = pl.DataFrame({"original": original, "changed": pl.Series(changed.astype(bool))})
    grouped = frame.group_by("original").agg(pl.len().alias("rows"), pl.col("changed").sum().alias("changed"))
    return [{"original": r["original"], "rows": int(r["rows"]), "changed": int(r["changed"]),
             "change_rate": r["changed"] / r["rows"]} for r in grouped.sort("original").to_dicts()]
