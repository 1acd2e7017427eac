"""Group fairness: per-group confusion-matrix rates, their summaries, and bias-audit impact ratios.

Every rate is the group's own rate, from the group's own counts; a rate whose denominator is zero
is undefined (None in the output), never 0. Summaries follow Fairlearn's definitions (difference =
max - min, ratio = min / max, `to_overall` variants) where Fairlearn has them, and the disparate
impact four-fifths rule compares a *ratio* against 0.8 (differences are never compared with ratio
thresholds). Impact ratios follow the NYC Local Law 144 bias-audit rules: each category's
selection (or scoring) rate over the rate of the most selected category.

Bootstrap confidence intervals resample rows with replacement. All statistics here depend on the
rows only through the per-group cell counts, so resampling rows is drawing those counts from a
multinomial distribution: B draws cost B x cells, whatever the number of rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from gaodi.engines.evaluation.grouping import (
    Encoded,
    GroupSums,
    encode,
    group_counts,
    group_weighted,
    nan_reduce,
)

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
FOUR_FIFTHS = 0.8

# Cells: 2 * y_true + y_pred -> 0 TN, 1 FP, 2 FN, 3 TP.
RATE_CELLS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "selection_rate": ((1, 3), (0, 1, 2, 3)),
    "tpr": ((3,), (2, 3)),
    "fpr": ((1,), (0, 1)),
    "fnr": ((2,), (2, 3)),
    "tnr": ((0,), (0, 1)),
    "ppv": ((3,), (1, 3)),
    "npv": ((0,), (0, 2)),
    "fdr": ((1,), (1, 3)),
    "for": ((2,), (0, 2)),
    "accuracy": ((0, 3), (0, 1, 2, 3)),
    "base_rate": ((2, 3), (0, 1, 2, 3)),
}
RATE_NAMES = {
    "selection_rate": "selection rate", "tpr": "true positive rate", "fpr": "false positive rate",
    "fnr": "false negative rate", "tnr": "true negative rate", "ppv": "positive predictive value (precision)",
    "npv": "negative predictive value", "fdr": "false discovery rate", "for": "false omission rate",
    "accuracy": "accuracy", "base_rate": "share of true positives",
}
SUMMARY_RATES = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "ppv", "npv", "fdr", "for", "accuracy")


@dataclass(frozen=True)
class FairnessSettings:
    min_group_size: int = 30
    bootstrap: int = 0
    confidence: float = 0.95
    seed: int = 0
    small_category_share: float = 0.02
    reference: Mapping[str, str] = field(default_factory=dict)  # canonical reference value per feature


def rates(counts: npt.NDArray[np.generic]) -> dict[str, FloatArray]:
    """Every rate from cell counts of shape (..., 4); NaN where the denominator is zero."""
    c = counts.astype(np.float64)
    out: dict[str, FloatArray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, (num, den) in RATE_CELLS.items():
            denominator = c[..., list(den)].sum(axis=-1)
            value = c[..., list(num)].sum(axis=-1) / denominator
            out[name] = np.where(denominator > 0, value, np.nan)
    return out


def difference(values: FloatArray) -> FloatArray:
    """max - min over groups (last axis), ignoring undefined groups."""
    return nan_reduce(values, "max") - nan_reduce(values, "min")


def ratio(values: FloatArray) -> FloatArray:
    """min / max over groups (last axis); undefined when the maximum is 0."""
    high = nan_reduce(values, "max")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(high > 0, nan_reduce(values, "min") / high, np.nan)


def to_overall_difference(values: FloatArray, overall: FloatArray) -> FloatArray:
    return nan_reduce(np.abs(values - overall[..., None]), "max")


def to_overall_ratio(values: FloatArray, overall: FloatArray) -> FloatArray:
    """Smallest group/overall ratio, each ratio taken as at most 1 (Fairlearn's convention)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = values / overall[..., None]
        folded = np.where(raw > 1, 1 / raw, raw)
    return nan_reduce(folded, "min")


def fairness_metrics(r: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Named fairness summaries from per-group rates (groups on the last axis)."""
    tpr_d, fpr_d = difference(r["tpr"]), difference(r["fpr"])
    tpr_r, fpr_r = ratio(r["tpr"]), ratio(r["fpr"])
    return {
        "demographic_parity_difference": difference(r["selection_rate"]),
        "demographic_parity_ratio": ratio(r["selection_rate"]),
        "equalized_odds_difference": np.fmax(tpr_d, fpr_d),
        "equalized_odds_ratio": np.fmin(tpr_r, fpr_r),
        "equal_opportunity_difference": tpr_d,
        "equal_opportunity_ratio": tpr_r,
        "disparate_impact_ratio": ratio(r["selection_rate"]),
    }


def opt(value: Any) -> float | None:
    """A float for JSON, None when undefined (NaN)."""
    number = float(value)
    return None if np.isnan(number) else number


def encode_all(sensitive: Mapping[str, pl.Series | npt.NDArray[np.generic]]) -> dict[str, Encoded]:
    return {name: encode(name, values) for name, values in sensitive.items()}


def group_tables(y_true: BoolArray | None, y_pred: BoolArray, sensitive: Mapping[str, Encoded],
                 groupings: Sequence[tuple[str, ...]]) -> list[GroupSums]:
    """Cell counts (TN, FP, FN, TP) per group for each grouping; without truth every row is 'negative'."""
    cells = y_pred.astype(np.int64)
    if y_true is not None:
        cells = cells + 2 * y_true.astype(np.int64)
    return group_counts(sensitive, groupings, cells, 4)


def classification_fairness(y_true: BoolArray | None, y_pred: BoolArray,
                            sensitive: Mapping[str, pl.Series | npt.NDArray[np.generic]],
                            groupings: Sequence[tuple[str, ...]], settings: FairnessSettings | None = None,
                            score: FloatArray | None = None) -> dict[str, Any]:
    """The full fairness output for classification (or recorded decisions without truth)."""
    settings = settings or FairnessSettings()
    encoded = encode_all(sensitive)
    tables = group_tables(y_true, y_pred, encoded, groupings)
    scoring = _scoring_tables(score, encoded, groupings)
    total = tables[0].sums.sum(axis=0) if tables else np.zeros(4, dtype=np.int64)
    names = list(RATE_CELLS) if y_true is not None else ["selection_rate"]
    overall = rates(total)
    out = [_grouping(t, overall, names, settings, i, None if scoring is None else scoring[i])
           for i, t in enumerate(tables)]
    return {
        "has_truth": y_true is not None, "rows": int(total.sum()), "rates": names,
        "overall": {n: opt(overall[n]) for n in names}, "groupings": out,
        "warnings": [w for g in out for w in g["warnings"]],
    }


def _scoring_tables(score: FloatArray | None, encoded: Mapping[str, Encoded],
                    groupings: Sequence[tuple[str, ...]]) -> list[GroupSums] | None:
    if score is None:
        return None
    above = (score > np.median(score)).astype(np.int64)
    return group_counts(encoded, groupings, above, 2)


def _reference_index(table: GroupSums, reference: Mapping[str, str]) -> int | None:
    if not all(f in reference for f in table.features):
        return None
    wanted = tuple(reference[f] for f in table.features)
    return table.keys.index(wanted) if wanted in table.keys else None


def _grouping(table: GroupSums, overall: Mapping[str, FloatArray], names: list[str], settings: FairnessSettings,
              index: int, scoring: GroupSums | None) -> dict[str, Any]:
    counts = table.sums
    r = rates(counts)
    sizes = counts.sum(axis=1)
    ref = _reference_index(table, settings.reference)
    ci = _bootstrap(counts, names, settings, index) if settings.bootstrap else None
    groups = [_group_row(table, g, r, names, sizes, ci) for g in range(len(table.keys))]
    output: dict[str, Any] = {
        "name": table.name, "features": list(table.features),
        "kind": "feature" if len(table.features) == 1 else "intersection",
        "reference_group": None if ref is None else table.label(ref),
        "groups": groups,
        "summaries": {n: _summary(table, r[n], overall[n], ref) for n in names if n in SUMMARY_RATES},
        "warnings": _small_group_warnings(table, sizes, settings.min_group_size),
    }
    if "tpr" in names:
        metrics = fairness_metrics(r)
        output["fairness"] = {k: {"value": opt(v), "ci": None if ci is None else ci["fairness"].get(k)}
                              for k, v in metrics.items()}
    else:
        sel_d, sel_r = difference(r["selection_rate"]), ratio(r["selection_rate"])
        output["fairness"] = {
            "demographic_parity_difference": {"value": opt(sel_d), "ci": None if ci is None else ci["fairness"].get("demographic_parity_difference")},
            "demographic_parity_ratio": {"value": opt(sel_r), "ci": None if ci is None else ci["fairness"].get("demographic_parity_ratio")},
            "disparate_impact_ratio": {"value": opt(sel_r), "ci": None if ci is None else ci["fairness"].get("disparate_impact_ratio")},
        }
    output["disparate_impact"] = _disparate_impact(table, r["selection_rate"], ref)
    output["impact_ratios"] = {
        "selection": impact_ratios(table, counts[:, [1, 3]].sum(axis=1), sizes, settings.small_category_share),
        "scoring": None if scoring is None else impact_ratios(
            scoring, scoring.sums[:, 1], scoring.sums.sum(axis=1), settings.small_category_share),
        "small_category_share": settings.small_category_share,
    }
    return output


def _group_row(table: GroupSums, g: int, r: Mapping[str, FloatArray], names: list[str],
               sizes: npt.NDArray[np.generic], ci: dict[str, Any] | None) -> dict[str, Any]:
    counts = table.sums[g]
    row: dict[str, Any] = {
        "group": dict(zip(table.features, table.keys[g], strict=True)), "label": table.label(g),
        "count": int(sizes[g]), "share": float(sizes[g] / max(int(sizes.sum()), 1)),
        "counts": {"tn": int(counts[0]), "fp": int(counts[1]), "fn": int(counts[2]), "tp": int(counts[3])}
        if "tpr" in names else {"selected": int(counts[1] + counts[3]), "not_selected": int(counts[0] + counts[2])},
        "rates": {n: opt(r[n][g]) for n in names},
    }
    if ci is not None:
        row["ci"] = {n: ci["rates"][n][g] for n in names}
    return row


def _summary(table: GroupSums, values: FloatArray, overall: FloatArray, ref: int | None) -> dict[str, Any]:
    defined = ~np.isnan(values)
    out: dict[str, Any] = {
        "difference": opt(difference(values)), "ratio": opt(ratio(values)),
        "to_overall_difference": opt(to_overall_difference(values, np.asarray(overall))),
        "to_overall_ratio": opt(to_overall_ratio(values, np.asarray(overall))),
        "max_group": table.label(int(np.nanargmax(values))) if defined.any() else None,
        "min_group": table.label(int(np.nanargmin(values))) if defined.any() else None,
        "undefined_groups": [table.label(i) for i in np.flatnonzero(~defined)],
        "reference_difference": None, "reference_ratio": None,
    }
    if ref is not None and defined[ref]:
        base = float(values[ref])
        out["reference_difference"] = opt(nan_reduce(np.abs(values - base), "max"))
        if base > 0:
            out["reference_ratio"] = opt(nan_reduce(values / base, "min"))
    return out


def _disparate_impact(table: GroupSums, selection: FloatArray, ref: int | None) -> dict[str, Any]:
    top = float(np.nanmax(selection)) if (~np.isnan(selection)).any() else np.nan
    value = opt(ratio(selection))
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = selection / top if top > 0 else np.full(len(selection), np.nan)
    below = [table.label(i) for i in range(len(selection)) if not np.isnan(relative[i]) and relative[i] < FOUR_FIFTHS]
    out: dict[str, Any] = {
        "ratio": value, "threshold": FOUR_FIFTHS, "rule": "four-fifths",
        "passed": None if value is None else value >= FOUR_FIFTHS,
        "most_selected": table.label(int(np.nanargmax(selection))) if not np.isnan(top) else None,
        "least_selected": table.label(int(np.nanargmin(selection))) if not np.isnan(top) else None,
        "groups_below": below, "reference": None,
    }
    if ref is not None and selection[ref] > 0:
        ratios = selection / selection[ref]
        out["reference"] = {"group": table.label(ref),
                            "ratios": {table.label(i): opt(ratios[i]) for i in range(len(selection))},
                            "groups_below": [table.label(i) for i in range(len(selection))
                                             if not np.isnan(ratios[i]) and ratios[i] < FOUR_FIFTHS]}
    return out


def impact_ratios(table: GroupSums, hits: npt.NDArray[np.generic], sizes: npt.NDArray[np.generic],
                  small_share: float) -> list[dict[str, Any]]:
    """LL144 impact ratios: each category's rate over the highest rate among categories of at least
    `small_share` of the rows (smaller categories are reported, flagged, and not used as the base)."""
    n = sizes.astype(np.float64)
    total = max(float(n.sum()), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, hits.astype(np.float64) / np.maximum(n, 1.0), np.nan)
    share = n / total
    eligible = share >= small_share
    base_rates = rate[eligible] if eligible.any() else rate
    best = float(np.nanmax(base_rates)) if (~np.isnan(base_rates)).any() else np.nan
    return [
        {"group": table.label(g), "count": int(sizes[g]), "share": float(share[g]), "hits": int(hits[g]),
         "rate": opt(rate[g]), "impact_ratio": opt(rate[g] / best) if best > 0 else None,
         "excluded_small_category": bool(not eligible[g])}
        for g in range(len(table.keys))
    ]


def _small_group_warnings(table: GroupSums, sizes: npt.NDArray[np.generic], minimum: int) -> list[str]:
    small = [f"{table.label(i)} ({int(sizes[i])})" for i in range(len(sizes)) if sizes[i] < minimum]
    if not small:
        return []
    shown = ", ".join(small[:6]) + (f" and {len(small) - 6} more" if len(small) > 6 else "")
    return [f"{table.name}: {len(small)} group(s) have fewer than {minimum} rows, so their rates are "
            f"uncertain: {shown}"]


def _interval(draws: FloatArray, confidence: float) -> list[list[float] | None]:
    """Percentile interval per column of `draws` (draws on axis 0); None where never defined."""
    alpha = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [alpha, 100 - alpha], axis=0)
    low, high = np.atleast_1d(low), np.atleast_1d(high)
    return [None if np.isnan(a) else [float(a), float(b)] for a, b in zip(low, high, strict=True)]


def _bootstrap(counts: npt.NDArray[np.generic], names: list[str], settings: FairnessSettings,
               index: int) -> dict[str, Any]:
    rng = np.random.default_rng([settings.seed, index])
    flat = counts.reshape(-1).astype(np.float64)
    n = int(flat.sum())
    draws = rng.multinomial(n, flat / n, size=settings.bootstrap).reshape(settings.bootstrap, *counts.shape)
    r = rates(draws)
    per_group = {name: _interval(r[name], settings.confidence) for name in names}
    metrics = fairness_metrics(r) if "tpr" in names else {
        "demographic_parity_difference": difference(r["selection_rate"]),
        "demographic_parity_ratio": ratio(r["selection_rate"]),
        "disparate_impact_ratio": ratio(r["selection_rate"]),
    }
    return {"rates": per_group,
            "fairness": {k: _interval(v.reshape(-1, 1), settings.confidence)[0] for k, v in metrics.items()}}


REGRESSION_METRICS = ("mean_prediction", "mean_target", "mae", "rmse")


def regression_fairness(y_true: FloatArray | None, y_pred: FloatArray,
                        sensitive: Mapping[str, pl.Series | npt.NDArray[np.generic]],
                        groupings: Sequence[tuple[str, ...]], settings: FairnessSettings | None = None) -> dict[str, Any]:
    """Per-group mean prediction (e.g. price), mean target, MAE and RMSE, with their summaries."""
    settings = settings or FairnessSettings()
    encoded = encode_all(sensitive)
    weights = [y_pred] if y_true is None else [y_pred, y_true, np.abs(y_pred - y_true), (y_pred - y_true) ** 2]
    tables = group_weighted(encoded, groupings, weights)
    names = ["mean_prediction"] if y_true is None else list(REGRESSION_METRICS)
    overall_sums = tables[0].sums.sum(axis=0) if tables else np.zeros(len(weights) + 1)
    overall = _regression_values(overall_sums.reshape(1, -1))
    out: list[dict[str, Any]] = []
    for table in tables:
        values = _regression_values(table.sums)
        sizes = table.sums[:, 0]
        ref = _reference_index(table, settings.reference)
        out.append({
            "name": table.name, "features": list(table.features),
            "kind": "feature" if len(table.features) == 1 else "intersection",
            "reference_group": None if ref is None else table.label(ref),
            "groups": [{"group": dict(zip(table.features, table.keys[g], strict=True)), "label": table.label(g),
                        "count": int(sizes[g]), "share": float(sizes[g] / max(sizes.sum(), 1)),
                        "metrics": {n: opt(values[n][g]) for n in names}} for g in range(len(table.keys))],
            "summaries": {n: _summary(table, values[n], overall[n][0], ref) for n in names},
            "warnings": _small_group_warnings(table, sizes, settings.min_group_size),
        })
    return {"has_truth": y_true is not None, "rows": int(overall_sums[0]), "metrics": names,
            "overall": {n: opt(overall[n][0]) for n in names}, "groupings": out,
            "warnings": [w for g in out for w in g["warnings"]]}


def _regression_values(sums: npt.NDArray[np.generic]) -> dict[str, FloatArray]:
    s = sums.astype(np.float64)
    n = s[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {"mean_prediction": s[:, 1] / n}
        if s.shape[1] > 2:
            out.update(mean_target=s[:, 2] / n, mae=s[:, 3] / n, rmse=np.sqrt(s[:, 4] / n))
    return out
