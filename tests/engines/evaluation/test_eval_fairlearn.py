"""On random data, every group rate and fairness summary equals Fairlearn's (and scikit-learn's) to 1e-12,
wherever Fairlearn defines the value. Fairlearn reports some undefined rates as 0 (e.g. the TPR of a
group with no positives); the engine reports them as None, so those are compared only for None-ness
against the group's own denominator."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import polars as pl
import pytest
from fairlearn import metrics as flm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from gaodi.engines.evaluation.fairness import RATE_CELLS, classification_fairness
from gaodi.engines.evaluation.metrics import classification_metrics, regression_metrics, roc_auc

TOL = 1e-12


def _safe(fn):
    def metric(y_true, y_pred):
        with np.errstate(invalid="ignore", divide="ignore"):
            return fn(np.asarray(y_true), np.asarray(y_pred))
    return metric


def _ratio(num, den):
    return num / den if den else math.nan


FAIRLEARN_RATES = {
    "selection_rate": flm.selection_rate,
    "tpr": flm.true_positive_rate,
    "fpr": flm.false_positive_rate,
    "fnr": flm.false_negative_rate,
    "tnr": flm.true_negative_rate,
    "ppv": _safe(lambda t, p: _ratio(((t == 1) & (p == 1)).sum(), (p == 1).sum())),
    "npv": _safe(lambda t, p: _ratio(((t == 0) & (p == 0)).sum(), (p == 0).sum())),
    "fdr": _safe(lambda t, p: _ratio(((t == 0) & (p == 1)).sum(), (p == 1).sum())),
    "for": _safe(lambda t, p: _ratio(((t == 1) & (p == 0)).sum(), (p == 0).sum())),
    "accuracy": skm.accuracy_score,
}

labels_a = st.sampled_from(["甲", "乙", "丙"])
labels_b = st.sampled_from(["x", "y"])


@st.composite
def cases(draw):
    n = draw(st.integers(min_value=2, max_value=120))
    y_true = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    y_pred = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    a = draw(st.lists(labels_a, min_size=n, max_size=n))
    b = draw(st.lists(labels_b, min_size=n, max_size=n))
    return y_true, y_pred, a, b


def _close(ours, theirs):
    return ours is not None and not (isinstance(theirs, float) and math.isnan(theirs)) and abs(ours - theirs) <= TOL


def _compare_groups(grouping, frame: flm.MetricFrame, features):
    by_group = frame.by_group
    for group in grouping["groups"]:
        key = tuple(group["group"][f] for f in features)
        theirs = by_group.loc[key if len(key) > 1 else key[0]]
        assert group["count"] == int(theirs["count"])
        cells = group["counts"]
        for name in FAIRLEARN_RATES:
            ours = group["rates"][name]
            num, den = RATE_CELLS[name]
            denominator = sum(cells[c] for c in ("tn", "fp", "fn", "tp") if ("tn", "fp", "fn", "tp").index(c) in den)
            assert (ours is None) == (denominator == 0), (name, group)
            if ours is not None:
                assert abs(ours - float(theirs[name])) <= TOL, (name, group["label"], ours, theirs[name])


def _compare_summaries(grouping, frame: flm.MetricFrame):
    for name in FAIRLEARN_RATES:
        summary = grouping["summaries"][name]
        if summary["undefined_groups"]:
            continue  # Fairlearn counts these groups as 0; the engine leaves them out
        for ours, theirs in (
            (summary["difference"], frame.difference()[name]),
            (summary["ratio"], frame.ratio()[name]),
            (summary["to_overall_difference"], frame.difference(method="to_overall")[name]),
            (summary["to_overall_ratio"], frame.ratio(method="to_overall")[name]),
        ):
            if not math.isnan(theirs):
                assert ours is not None and abs(ours - theirs) <= TOL, (name, ours, theirs)


def _compare_named(grouping, y_true, y_pred, sensitive):
    kw = {"sensitive_features": sensitive}
    fairness, summaries = grouping["fairness"], grouping["summaries"]
    defined = {n: not summaries[n]["undefined_groups"] for n in ("tpr", "fpr")}
    checks = [
        ("demographic_parity_difference", flm.demographic_parity_difference, True),
        ("demographic_parity_ratio", flm.demographic_parity_ratio, True),
        ("equalized_odds_difference", flm.equalized_odds_difference, defined["tpr"] and defined["fpr"]),
        ("equalized_odds_ratio", flm.equalized_odds_ratio, defined["tpr"] and defined["fpr"]),
        ("equal_opportunity_difference", flm.equal_opportunity_difference, defined["tpr"]),
        ("equal_opportunity_ratio", flm.equal_opportunity_ratio, defined["tpr"]),
    ]
    for name, function, comparable in checks:
        if not comparable:
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            theirs = float(function(y_true, y_pred, **kw))
        if not math.isnan(theirs):
            assert _close(fairness[name]["value"], theirs), (name, fairness[name], theirs)
    for method in ("between_groups", "to_overall"):
        dp = float(flm.demographic_parity_difference(y_true, y_pred, method=method, **kw))
        key = "difference" if method == "between_groups" else "to_overall_difference"
        assert _close(summaries["selection_rate"][key], dp)
    assert fairness["disparate_impact_ratio"]["value"] == fairness["demographic_parity_ratio"]["value"]


@settings(max_examples=25, deadline=None)
@given(cases())
def test_group_rates_and_summaries_equal_fairlearn(case):
    y_true, y_pred, a, b = case
    out = classification_fairness(y_true, y_pred, {"a": pl.Series(a), "b": pl.Series(b)},
                                  [("a",), ("b",), ("a", "b")])
    yt, yp = y_true.astype(int), y_pred.astype(int)
    metrics = {**FAIRLEARN_RATES, "count": flm.count}
    for grouping in out["groupings"]:
        features = grouping["features"]
        sensitive = pd.DataFrame({"a": a, "b": b})[features] if len(features) > 1 else pd.Series(
            a if features == ["a"] else b, name=features[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            frame = flm.MetricFrame(metrics=metrics, y_true=yt, y_pred=yp, sensitive_features=sensitive)
        _compare_groups(grouping, frame, features)
        _compare_summaries(grouping, frame)
        _compare_named(grouping, yt, yp, sensitive)
        for name in FAIRLEARN_RATES:
            ours = out["overall"][name]
            if ours is not None:
                assert abs(ours - float(frame.overall[name])) <= TOL


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")
@settings(max_examples=40, deadline=None)
@given(cases(), st.integers(0, 2**31 - 1))
def test_performance_metrics_equal_scikit_learn(case, seed):
    y_true, y_pred, _, _ = case
    score = np.random.default_rng(seed).random(len(y_true)).round(2)  # ties on purpose
    truth = pl.Series(np.where(y_true, "yes", "no"))
    pred = pl.Series(np.where(y_pred, "yes", "no"))
    out = classification_metrics(truth, pred, "yes", score=score)
    assert abs(out["accuracy"] - skm.accuracy_score(y_true, y_pred)) <= TOL
    tp = int((y_true & y_pred).sum())
    if y_pred.any():
        assert abs(out["precision"] - skm.precision_score(y_true, y_pred)) <= TOL
    else:
        assert out["precision"] is None
    if y_true.any():
        assert abs(out["recall"] - skm.recall_score(y_true, y_pred)) <= TOL
    if tp or (y_pred != y_true).any():
        assert abs(out["f1"] - skm.f1_score(y_true, y_pred)) <= TOL
    if 0 < y_true.sum() < len(y_true):
        assert abs(out["roc_auc"] - skm.roc_auc_score(y_true, score)) <= TOL
        assert abs(out["log_loss"] - skm.log_loss(y_true, np.clip(score, 1e-15, 1 - 1e-15))) <= 1e-9
    else:
        assert out["roc_auc"] is None
    matrix = skm.confusion_matrix(truth.to_list(), pred.to_list(), labels=out["confusion_matrix"]["labels"])
    assert out["confusion_matrix"]["matrix"] == matrix.tolist()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=80), st.integers(0, 1000))
def test_regression_metrics_equal_scikit_learn(values, seed):
    y = np.array(values)
    yhat = y + np.random.default_rng(seed).normal(0, 5, len(y))
    out = regression_metrics(y, yhat)
    assert out["mae"] == pytest.approx(skm.mean_absolute_error(y, yhat), rel=1e-12, abs=1e-12)
    assert out["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, yhat)), rel=1e-12, abs=1e-12)
    if np.var(y) > 0:
        assert out["r2"] == pytest.approx(skm.r2_score(y, yhat), rel=1e-9, abs=1e-9)


def test_roc_auc_undefined_without_both_classes():
    assert roc_auc(np.array([True, True]), np.array([0.2, 0.4])) is None
