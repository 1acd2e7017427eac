"""Whole evaluations: envelopes that validate against the shipped JSON Schema, threshold checks, the
bilingual summary, the HTML report, audit mode, regression with a counterfactual price test, and
the bias-audit impact ratios on hand-computed data."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest

from gaodi.engines.evaluation import evaluate, load_model, load_plan, read_table, render
from gaodi.engines.evaluation.envelope import dumps, load_schema, validate
from gaodi.engines.evaluation.fairness import FairnessSettings, classification_fairness
from tests.engines.evaluation.eval_support import (
    PLAN,
    classifier,
    hiring_frame,
    regressor,
    save_onnx,
    save_skops,
)


@pytest.fixture(scope="module")
def hiring(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hiring")
    frame = hiring_frame(600, seed=0)
    frame.write_csv(folder / "data.csv")
    model = classifier(frame)
    return {"table": read_table(folder / "data.csv"), "onnx": save_onnx(model, frame, folder / "m.onnx"),
            "skops": save_skops(model, folder / "m.skops"), "frame": frame, "folder": folder}


@pytest.fixture(scope="module")
def result(hiring):
    steps = []
    evaluation = evaluate(load_plan(PLAN), hiring["table"], load_model(hiring["onnx"]), progress=steps.append)
    return evaluation, steps


def _outputs(document):
    return {e["test"]: e["output"] for e in document["results"]}


def test_every_envelope_and_the_result_validate_against_the_shipped_schema(result):
    evaluation, steps = result
    document = json.loads(dumps(evaluation.document))  # what result.json holds
    assert [e["test"] for e in document["results"]] == [
        "performance", "fairness", "counterfactual", "robustness", "explanation"]
    for envelope in document["results"]:
        validate(envelope)
        assert envelope["engine"]["name"] == "gaodi.engines.evaluation" and envelope["duration_s"] >= 0
    validate(document, "result.schema.json")
    assert steps == ["validate", "predict", "performance", "fairness", "counterfactual", "robustness", "explanation"]
    assert load_schema("envelope.schema.json")["required"] == [
        "id", "test", "engine", "start", "duration_s", "arguments", "output", "artifacts"]


def test_schema_rejects_a_broken_envelope(result):
    import jsonschema

    envelope = json.loads(dumps(result[0].document["results"][0]))
    del envelope["duration_s"]
    with pytest.raises(jsonschema.ValidationError):
        validate(envelope)


def test_fairness_artifact_and_checks(result, hiring):
    evaluation, _ = result
    artifact = next(a for a in evaluation.artifacts if a.name == "fairness_groups.csv")
    assert artifact.content.decode().startswith("grouping,group,count,selection_rate")
    fairness = _outputs(evaluation.document)["fairness"]
    sex = next(g for g in fairness["groupings"] if g["name"] == "sex")
    assert sex["reference_group"] == "男"
    assert [g["label"] for g in sex["groups"]] == ["女", "男"]  # sorted labels
    assert sum(g["count"] for g in sex["groups"]) == 600
    assert sex["disparate_impact"]["passed"] is False and sex["disparate_impact"]["groups_below"] == ["女"]
    ci = sex["fairness"]["demographic_parity_ratio"]["ci"]
    assert ci is not None and ci[0] <= ci[1]
    names = [g["name"] for g in fairness["groupings"]]
    assert names == ["sex", "city", "sex × city"]
    checks = {(c["metric"], c["scope"]): c for c in evaluation.document["checks"]}
    assert checks[("demographic_parity_ratio", "sex")]["passed"] is False
    assert checks[("accuracy", None)]["passed"] is True
    assert ("demographic_parity_ratio", "sex × city") not in checks  # intersections only with check_intersections
    assert evaluation.passed is False


def test_summary_is_generated_in_chinese_and_english(result):
    summary = result[0].document["summary"]
    zh, en = "\n".join(summary["zh"]), "\n".join(summary["en"])
    ratio = _outputs(result[0].document)["fairness"]["groupings"][0]["disparate_impact"]["ratio"]
    assert f"在性别维度上，女性的录用率为男性的 {ratio:.2f} 倍，低于五分之四规则的 0.8。" in zh
    assert f"On sex, the hiring rate of women is {ratio:.2f} times that of men, below the four-fifths rule's 0.8." in en
    assert "结论：未通过。" in zh and "Verdict: not passed." in en
    assert len(summary["zh"]) == len(summary["en"])


def test_report_is_self_contained_html(result):
    html = render(result[0].document)
    assert html.startswith("<!DOCTYPE html>") and 'lang="zh-Hans"' in html
    assert "<svg" in html and "FAIL 未通过" in html and "四" in html
    assert not re.search(r"""(src|href)=["']?https?://""", html)  # no CDN, no external asset
    assert "<script" not in html
    assert "Four-fifths rule" in html and "Impact ratios" in html


def test_counterfactual_flips_sex_and_reports_direction(result):
    cf = _outputs(result[0].document)["counterfactual"]
    assert cf["attribute"] == "sex" and {v["value"] for v in cf["values"]} == {"女", "男"}
    to_women = next(v for v in cf["values"] if v["value"] == "女")
    # The model favours men: turning men into women only ever removes "yes".
    assert to_women["to_negative"]["rate"] > 0 and to_women["to_positive"]["changed"] == 0
    assert 0 < cf["change_rate"] <= 1
    assert to_women["score"]["mean_relative_change"] > 0


def test_robustness_and_explanation_outputs(result):
    outputs = _outputs(result[0].document)
    robustness = outputs["robustness"]
    assert {(r["perturbation"], r["severity"]) for r in robustness["results"]} == {
        (k, s) for k in ("noise", "swap", "missing") for s in (0.2, 0.5)}
    noise = {r["severity"]: r["flip_rate"] for r in robustness["results"] if r["perturbation"] == "noise"}
    assert noise[0.5] >= noise[0.2] > 0
    explanation = outputs["explanation"]
    top = [r["feature"] for r in explanation["permutation_importance"][:2]]
    assert "score" in top
    assert [p["feature"] for p in explanation["partial_dependence"]] == top


def test_same_seed_same_numbers(hiring):
    plan = load_plan(PLAN)
    model = load_model(hiring["skops"])
    first = evaluate(plan, hiring["table"], model).document
    second = evaluate(plan, hiring["table"], model).document
    for a, b in zip(first["results"], second["results"], strict=True):
        assert a["output"] == b["output"]


def test_audit_mode_evaluates_recorded_decisions_without_robustness(hiring, tmp_path):
    frame = hiring["frame"].with_columns(
        decision=pl.when(pl.col("score") > 72).then(pl.lit("yes")).otherwise(pl.lit("no")),
        rating=pl.col("score") / 100)
    frame.write_parquet(tmp_path / "decisions.parquet")
    plan = load_plan('target = "hired"\nprediction = "decision"\nscore = "rating"\npositive_label = "yes"\n'
                     'sensitive = ["sex", "city"]\n[thresholds]\nimpact_ratio = { min = 0.8 }\n')
    evaluation = evaluate(plan, read_table(tmp_path / "decisions.parquet"))
    assert [e["test"] for e in evaluation.document["results"]] == ["performance", "fairness"]
    validate(json.loads(dumps(evaluation.document)), "result.schema.json")
    sex = _outputs(evaluation.document)["fairness"]["groupings"][0]
    assert sex["impact_ratios"]["scoring"] is not None
    assert "审计了 600 条已记录的决策" in evaluation.document["summary"]["zh"][0]
    assert "Audit mode" in render(evaluation.document)


def test_audit_without_truth_reports_selection_rates_only(hiring, tmp_path):
    frame = hiring["frame"].select("sex", "city", "hired")
    frame.write_csv(tmp_path / "d.csv")
    plan = load_plan('prediction = "hired"\npositive_label = "yes"\nsensitive = ["sex"]\n')
    evaluation = evaluate(plan, read_table(tmp_path / "d.csv"))
    fairness = _outputs(evaluation.document)["fairness"]
    assert fairness["has_truth"] is False and fairness["rates"] == ["selection_rate"]
    assert set(fairness["groupings"][0]["fairness"]) == {
        "demographic_parity_difference", "demographic_parity_ratio", "disparate_impact_ratio"}
    assert "Impact ratios (selection rate)" in render(evaluation.document)


def test_regression_price_model_with_counterfactual_on_city(tmp_path):
    frame = hiring_frame(400, seed=2)
    frame.write_csv(tmp_path / "d.csv")
    model = load_model(save_onnx(regressor(frame), frame, tmp_path / "r.onnx"))
    plan = load_plan('task = "regression"\ntarget = "price"\nsensitive = ["city"]\n'
                     '[counterfactual]\nattribute = "city"\nvalues = ["上海"]\n'
                     '[thresholds]\nr2 = { min = 0.5 }\nmean_prediction_ratio = { min = 0.9 }\n'
                     'counterfactual_mean_relative_change = { max = 0.05 }\n[explanation]\nrepeats = 1\n')
    document = evaluate(plan, read_table(tmp_path / "d.csv"), model).document
    validate(json.loads(dumps(document)), "result.schema.json")
    outputs = _outputs(document)
    assert outputs["performance"]["r2"] > 0.5
    cf = outputs["counterfactual"]
    moved = cf["values"][0]
    # Moving a customer to Shanghai adds about 20 to a price of about 130: a real price difference.
    assert moved["rows"] == int((frame["city"] != "上海").sum())
    assert 10 < moved["mean_abs_change"] < 30 and moved["change_rate"] == 1.0
    checks = {c["metric"]: c for c in document["checks"]}
    assert checks["counterfactual_mean_relative_change"]["passed"] is False
    assert checks["r2"]["passed"] is True
    city = outputs["fairness"]["groupings"][0]
    assert set(city["groups"][0]["metrics"]) == {"mean_prediction", "mean_target", "mae", "rmse"}
    assert "平均预测值最低的组" in "".join(document["summary"]["zh"])
    html = render(document)
    assert "mean_prediction" in html and "Partial dependence" in html


def test_missing_values_that_a_model_cannot_take_are_reported_not_raised(tmp_path):
    frame = hiring_frame(200, seed=4)
    frame.write_csv(tmp_path / "d.csv")
    model = load_model(save_onnx(classifier(frame), frame, tmp_path / "m.onnx"))
    plan = load_plan('target = "hired"\npositive_label = "yes"\n[robustness]\nseverities = [0.3]\n'
                     'perturbations = ["missing"]\n[explanation]\nrepeats = 1\n')
    evaluation = evaluate(plan, read_table(tmp_path / "d.csv"), model)
    (row,) = _outputs(evaluation.document)["robustness"]["results"]
    # StandardScaler in ONNX propagates NaN; either the model copes or the failure is recorded.
    assert row["error"] is None or "failed to predict" in row["error"]


def _labelled(rows):
    """Rows as (group, selected) pairs -> arrays."""
    groups = [g for g, n_sel, n_not in rows for _ in range(n_sel + n_not)]
    selected = [s for g, n_sel, n_not in rows for s in [True] * n_sel + [False] * n_not]
    return np.array(groups), np.array(selected)


def test_ll144_impact_ratios_on_hand_computed_numbers():
    # Selection rates: Male 50/100 = 0.5, Female 40/100 = 0.4, Other 1/3 (3 rows: under 2 % of 203? no: 1.48 %).
    groups, selected = _labelled([("Male", 50, 50), ("Female", 40, 60), ("Other", 1, 2)])
    out = classification_fairness(None, selected, {"sex": groups}, [("sex",)],
                                  FairnessSettings(small_category_share=0.02))
    rows = {r["group"]: r for r in out["groupings"][0]["impact_ratios"]["selection"]}
    assert rows["Male"]["impact_ratio"] == 1.0
    assert rows["Female"]["impact_ratio"] == pytest.approx(0.8, abs=1e-15)
    assert rows["Other"]["excluded_small_category"] is True
    assert rows["Other"]["impact_ratio"] == pytest.approx((1 / 3) / 0.5)
    impact = out["groupings"][0]["disparate_impact"]
    assert impact["most_selected"] == "Male" and impact["least_selected"] == "Other"
    assert impact["ratio"] == pytest.approx((1 / 3) / 0.5) and impact["passed"] is False


def test_undefined_rates_are_null_never_zero():
    y_true = np.array([True, True, False, False])
    y_pred = np.array([True, False, False, False])
    out = classification_fairness(y_true, y_pred, {"g": np.array(["a", "a", "b", "b"])}, [("g",)])
    b = out["groupings"][0]["groups"][1]
    assert b["label"] == "b"
    assert b["rates"]["tpr"] is None and b["rates"]["fnr"] is None and b["rates"]["ppv"] is None
    assert b["rates"]["fpr"] == 0.0 and b["rates"]["selection_rate"] == 0.0
    summary = out["groupings"][0]["summaries"]["tpr"]
    assert summary["undefined_groups"] == ["b"] and summary["difference"] == 0.0
    json.dumps(out, allow_nan=False)


def test_small_groups_warn_and_bootstrap_is_seeded():
    rng = np.random.default_rng(0)
    groups = np.array(["big"] * 500 + ["tiny"] * 5)
    y_true, y_pred = rng.random(505) < 0.5, rng.random(505) < 0.5
    settings = FairnessSettings(min_group_size=30, bootstrap=100, seed=11)
    first = classification_fairness(y_true, y_pred, {"g": groups}, [("g",)], settings)
    second = classification_fairness(y_true, y_pred, {"g": groups}, [("g",)], settings)
    assert first == second
    assert first["warnings"] == ["g: 1 group(s) have fewer than 30 rows, so their rates are uncertain: tiny (5)"]
    big = first["groupings"][0]["groups"][0]
    low, high = big["ci"]["selection_rate"]
    assert low < big["rates"]["selection_rate"] < high and high - low < 0.15


def _document(*results):
    return {"data": {"rows": 10}, "model": {"description": "a model"}, "checks": [],
            "results": [{"test": test, "output": output} for test, output in results]}


def test_summary_names_only_the_perturbations_that_ran():
    from gaodi.engines.evaluation.summary import summarize

    plan = load_plan('task = "classification"\ntarget = "y"\npositive_label = "1"\nsensitive = ["sex"]\n')
    robustness = {"worst_flip_rate": 0.05, "worst_performance_drop": 0.01,
                  "results": [{"perturbation": "noise"}, {"perturbation": "swap"}]}
    lines = summarize(plan, _document(("robustness", robustness)))
    assert "在数值噪声、类别替换扰动下，预测最多改变 5.0%，性能最多下降 0.010。" in lines["zh"]
    assert "Under numeric noise and category swaps, at most 5.0% of predictions changed, and performance dropped " \
           "by at most 0.010." in lines["en"]
    assert not any("缺失" in line for line in lines["zh"])


def test_summary_of_equal_group_rates_does_not_compare_a_group_with_itself():
    from gaodi.engines.evaluation.summary import summarize

    plan = load_plan('task = "classification"\ntarget = "y"\npositive_label = "1"\nsensitive = ["sex"]\n'
                     '[names.sex]\nzh = "性别"\nen = "sex"\n')
    grouping = {"kind": "feature", "features": ["sex"], "disparate_impact": {"ratio": 1.0, "least_selected": "F", "most_selected": "F"},
                "summaries": {}, "fairness": {}}
    lines = summarize(plan, _document(("fairness", {"groupings": [grouping]})))
    assert "在性别维度上，各组的选择率相同，符合五分之四规则。" in lines["zh"]
    assert "On sex, every group has the same selection rate, meeting the four-fifths rule." in lines["en"]
    assert not any("倍" in line for line in lines["zh"])
