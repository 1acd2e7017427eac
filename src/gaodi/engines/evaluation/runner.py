"""One evaluation run: validate, predict, run each test into an envelope, check thresholds, summarise."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from gaodi.engines.evaluation import validate
from gaodi.engines.evaluation.adapters.base import Model, Predictions
from gaodi.engines.evaluation.checks import overall, threshold_checks
from gaodi.engines.evaluation.counterfactual import counterfactual_test
from gaodi.engines.evaluation.data import Table
from gaodi.engines.evaluation.envelope import Artifact, TestResult, engine, now_iso, run_test
from gaodi.engines.evaluation.errors import DataError, PlanError
from gaodi.engines.evaluation.explanation import explanation_test
from gaodi.engines.evaluation.fairness import FairnessSettings, classification_fairness, regression_fairness
from gaodi.engines.evaluation.labels import canon_value, positive_mask
from gaodi.engines.evaluation.metrics import classification_metrics, regression_metrics
from gaodi.engines.evaluation.outcomes import predict_checked, sample, values
from gaodi.engines.evaluation.plan import Plan, Scalar
from gaodi.engines.evaluation.robustness import robustness_test
from gaodi.engines.evaluation.summary import summarize

Progress = Callable[[str], None]
MAX_COUNTERFACTUAL_VALUES = 20


@dataclass
class Evaluation:
    document: dict[str, Any]
    artifacts: list[Artifact]

    @property
    def passed(self) -> bool | None:
        result: bool | None = self.document["passed"]
        return result


@dataclass
class _Run:
    plan: Plan
    frame: pl.DataFrame
    model: Model | None
    features: list[str]
    truth: pl.Series | None
    pred: Predictions
    positive: str | None


def planned_steps(plan: Plan, has_model: bool) -> list[str]:
    """The steps `evaluate` will report through `progress`, in order."""
    steps = ["validate", "predict"]
    steps += ["performance"] if plan.target is not None else []
    steps += ["fairness"] if plan.sensitive else []
    if has_model:
        steps += ["counterfactual"] if plan.counterfactual is not None else []
        steps += ["robustness"] if plan.robustness is not None else []
        steps += ["explanation"] if plan.explanation is not None and plan.target is not None else []
    return steps


def evaluate(plan: Plan, table: Table, model: Model | None = None, *, progress: Progress | None = None) -> Evaluation:
    """Run every test the plan asks for; raises EvaluationError subclasses for bad input."""
    tick = progress or (lambda step: None)
    run = _prepare(plan, table.frame, model)
    tick("validate")
    run.pred = _predictions(run)
    tick("predict")
    envelopes: list[dict[str, Any]] = []
    artifacts: list[Artifact] = []
    for step in planned_steps(plan, model is not None)[2:]:
        envelope, made = _TESTS[step](run)
        envelopes.append(envelope)
        artifacts.extend(made)
        tick(step)
    return Evaluation(_document(run, table, envelopes), artifacts)


def _prepare(plan: Plan, frame: pl.DataFrame, model: Model | None) -> _Run:
    if plan.audit_mode and model is not None:
        raise PlanError("the plan names a 'prediction' column (audit mode) and a model was given as well; "
                        "remove 'prediction' from the plan or do not give a model")
    if not plan.audit_mode and model is None:
        raise PlanError("no model given: pass a model file or an endpoint, or audit recorded decisions by "
                        "naming their column with 'prediction' in the plan")
    validate.check_columns(plan, frame)
    features = validate.resolve_features(plan, model, frame)
    classes = model.classes() if model is not None else None
    validate.check_target(plan, frame, classes)
    validate.check_audit_columns(plan, frame)
    validate.check_positive_label(plan, frame, classes)
    validate.check_groups(plan, frame)
    if model is not None and plan.counterfactual is not None and plan.counterfactual.attribute not in features:
        raise PlanError(f"counterfactual.attribute '{plan.counterfactual.attribute}' is not a model input, so "
                        "changing it cannot change the output; pick one of the features: " + ", ".join(features))
    truth = None if plan.target is None else frame.get_column(plan.target)
    positive = None if plan.positive_label is None else canon_value(plan.positive_label)
    return _Run(plan, frame, model, features, truth, Predictions(pl.Series([])), positive)


def _predictions(run: _Run) -> Predictions:
    plan = run.plan
    if run.model is None:
        assert plan.prediction is not None
        score = None if plan.score is None else run.frame.get_column(plan.score).cast(pl.Float64).to_numpy()
        return Predictions(run.frame.get_column(plan.prediction), score=score)
    pred = predict_checked(run.model, run.frame.select(run.features))
    if plan.task == "regression":
        values(pred)
    elif run.model.classes() is None and pred.classes is not None:
        validate.check_target(plan, run.frame, pred.classes)
    return pred


def _score(run: _Run) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    return None if run.positive is None else run.pred.positive_score(run.positive)


def _performance(run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    assert run.truth is not None
    arguments = {"task": run.plan.task, "target": run.plan.target, "positive_label": run.plan.positive_label,
                 "rows": run.frame.height}

    def body() -> TestResult:
        assert run.truth is not None
        if run.plan.task == "regression":
            return TestResult(regression_metrics(run.truth.cast(pl.Float64).to_numpy(), values(run.pred)))
        assert run.positive is not None
        return TestResult(classification_metrics(run.truth, run.pred.labels, run.positive, score=_score(run),
                                                 proba=run.pred.proba, classes=run.pred.classes))

    return run_test("performance", arguments, body)


def _fairness_settings(plan: Plan) -> FairnessSettings:
    options = plan.options
    return FairnessSettings(
        min_group_size=options.min_group_size, bootstrap=options.bootstrap, confidence=options.confidence,
        seed=options.seed, small_category_share=options.small_category_share,
        reference={k: canon_value(v) for k, v in plan.reference_groups.items()})


def _fairness(run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    plan = run.plan
    groupings = [(s,) for s in plan.sensitive] + list(plan.intersections)
    arguments = {"sensitive": list(plan.sensitive), "intersections": [list(i) for i in plan.intersections],
                 "reference_groups": dict(plan.reference_groups), "bootstrap": plan.options.bootstrap,
                 "confidence": plan.options.confidence, "min_group_size": plan.options.min_group_size,
                 "seed": plan.options.seed, "positive_label": plan.positive_label}
    sensitive = {s: run.frame.get_column(s) for s in plan.sensitive}

    def body() -> TestResult:
        settings = _fairness_settings(plan)
        if plan.task == "regression":
            truth = None if run.truth is None else run.truth.cast(pl.Float64).to_numpy()
            output = regression_fairness(truth, values(run.pred), sensitive, groupings, settings)
        else:
            assert plan.positive_label is not None
            y_true = None if run.truth is None else positive_mask(run.truth, plan.positive_label)
            y_pred = positive_mask(run.pred.labels, plan.positive_label)
            output = classification_fairness(y_true, y_pred, sensitive, groupings, settings, _score(run))
        table = Artifact("fairness_groups.csv", "text/csv", _group_csv(output),
                         "per-group counts and rates for every grouping")
        return TestResult(output, (table,), tuple(output["warnings"]))

    return run_test("fairness", arguments, body)


def _group_csv(output: dict[str, Any]) -> bytes:
    buffer = io.StringIO()
    names = output.get("rates") or output.get("metrics") or []
    writer = csv.writer(buffer)
    writer.writerow(["grouping", "group", "count", *names])
    for grouping in output["groupings"]:
        for group in grouping["groups"]:
            numbers = group.get("rates") or group.get("metrics") or {}
            writer.writerow([grouping["name"], group["label"], group["count"],
                             *["" if numbers.get(n) is None else repr(numbers[n]) for n in names]])
    return buffer.getvalue().encode("utf-8")


def _subset(pred: Predictions, index: np.ndarray[Any, np.dtype[np.int64]]) -> Predictions:
    return Predictions(pred.labels.gather(index), None if pred.proba is None else pred.proba[index], pred.classes,
                       None if pred.score is None else pred.score[index])


def _alternatives(run: _Run) -> list[Scalar]:
    spec = run.plan.counterfactual
    assert spec is not None
    if spec.values is not None:
        return list(spec.values)
    found = run.frame.get_column(spec.attribute).drop_nulls().unique().sort().to_list()
    if len(found) > MAX_COUNTERFACTUAL_VALUES:
        raise DataError(f"counterfactual.attribute '{spec.attribute}' has {len(found)} distinct values; list the "
                        "values to test with counterfactual.values")
    return [v if isinstance(v, str | int | float | bool) else str(v) for v in found]


def _counterfactual(run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    spec = run.plan.counterfactual
    assert spec is not None and run.model is not None
    alternatives = _alternatives(run)
    arguments = {"attribute": spec.attribute, "values": alternatives, "max_rows": spec.max_rows,
                 "seed": run.plan.options.seed}

    def body() -> TestResult:
        assert run.model is not None
        frame, index = sample(run.frame.select(run.features), spec.max_rows, run.plan.options.seed)
        output = counterfactual_test(run.model, frame, spec.attribute, alternatives, _subset(run.pred, index),
                                     run.plan.task, run.positive)
        return TestResult(output)

    return run_test("counterfactual", arguments, body)


def _robustness(run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    spec = run.plan.robustness
    assert spec is not None and run.model is not None
    arguments = {"severities": list(spec.severities), "perturbations": list(spec.perturbations),
                 "max_rows": spec.max_rows, "seed": run.plan.options.seed}

    def body() -> TestResult:
        assert run.model is not None
        frame, index = sample(run.frame.select(run.features), spec.max_rows, run.plan.options.seed)
        truth = None if run.truth is None else run.truth.gather(index)
        output = robustness_test(run.model, frame, truth, _subset(run.pred, index), run.plan.task, spec,
                                 run.plan.options.seed)
        failed = [f"robustness: {r['perturbation']} at {r['severity']:g}: {r['error']}"
                  for r in output["results"] if r["error"]]
        return TestResult(output, (), tuple(failed))

    return run_test("robustness", arguments, body)


def _explanation(run: _Run) -> tuple[dict[str, Any], list[Artifact]]:
    spec = run.plan.explanation
    assert spec is not None and run.model is not None
    arguments = {"top_k": spec.top_k, "repeats": spec.repeats, "max_rows": spec.max_rows, "grid": spec.grid,
                 "seed": run.plan.options.seed}

    def body() -> TestResult:
        assert run.model is not None and run.truth is not None
        frame, index = sample(run.frame.select(run.features), spec.max_rows, run.plan.options.seed)
        return TestResult(explanation_test(run.model, frame, run.truth.gather(index), _subset(run.pred, index),
                                           run.plan.task, run.positive, spec, run.plan.options.seed))

    return run_test("explanation", arguments, body)


_TESTS: dict[str, Callable[[_Run], tuple[dict[str, Any], list[Artifact]]]] = {
    "performance": _performance, "fairness": _fairness, "counterfactual": _counterfactual,
    "robustness": _robustness, "explanation": _explanation,
}


def _document(run: _Run, table: Table, envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    outputs = {e["test"]: e["output"] for e in envelopes}
    checks = threshold_checks(run.plan, outputs)
    document: dict[str, Any] = {
        "schema": "gaodi.evaluation.result/1", "id": str(uuid.uuid4()), "engine": engine(), "created": now_iso(),
        "plan": run.plan.to_dict(), "data": {**table.describe(), "features": run.features},
        "model": None if run.model is None else {"kind": run.model.kind, "description": run.model.description},
        "results": envelopes, "checks": checks, "passed": overall(checks),
        "warnings": [w for e in envelopes for w in e["warnings"]],
    }
    document["summary"] = summarize(run.plan, document)
    return document
