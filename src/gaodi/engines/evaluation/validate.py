"""Checking a plan against the data and the model before anything runs: each problem is one clear error."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import polars as pl

from gaodi.engines.evaluation.adapters.base import InputSpec, Model
from gaodi.engines.evaluation.errors import DataError, ModelError, PlanError
from gaodi.engines.evaluation.labels import canon, canon_value, distinct, quote_values
from gaodi.engines.evaluation.plan import Plan


def _missing_column(key: str, column: str, columns: Sequence[str]) -> DataError:
    close = difflib.get_close_matches(column, list(columns), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return DataError(f"plan key '{key}' names column '{column}', which the data lacks{hint}; "
                     f"the data's columns are: {', '.join(columns[:30])}")


def check_columns(plan: Plan, frame: pl.DataFrame) -> None:
    """Every column the plan names exists in the data."""
    named: list[tuple[str, str]] = [("target", plan.target or ""), ("prediction", plan.prediction or ""),
                                    ("score", plan.score or "")]
    named += [("features", f) for f in plan.features] + [("sensitive", s) for s in plan.sensitive]
    if plan.counterfactual is not None:
        named.append(("counterfactual.attribute", plan.counterfactual.attribute))
    for key, column in named:
        if column and column not in frame.columns:
            raise _missing_column(key, column, frame.columns)


def check_target(plan: Plan, frame: pl.DataFrame, model_classes: list[str] | None) -> None:
    """The target has no gaps, has the right type, and holds only values the model knows."""
    if plan.target is None:
        return
    series = frame.get_column(plan.target)
    if series.null_count():
        raise DataError(f"target column '{plan.target}' has {series.null_count()} empty value(s); "
                        "fill them in or drop those rows")
    if plan.task == "regression":
        if not series.dtype.is_numeric():
            raise DataError(f"target column '{plan.target}' holds text, but task = \"regression\" needs numbers")
        return
    _check_label_values(plan, plan.target, series, model_classes, "the model never predicts")


def _check_label_values(plan: Plan, column: str, series: pl.Series, model_classes: list[str] | None,
                        why: str) -> None:
    values = distinct(series)
    if plan.labels is not None:
        allowed = [canon_value(v) for v in plan.labels]
        _refuse_unseen(column, series, values, allowed, "outside the plan's 'labels'")
    if model_classes is not None:
        _refuse_unseen(column, series, values, model_classes, f"that {why} (its classes: {quote_values(model_classes)})")


def _refuse_unseen(column: str, series: pl.Series, values: list[str], allowed: list[str], why: str) -> None:
    unseen = [v for v in values if v not in allowed]
    if unseen:
        rows = int(canon(series).is_in(unseen).sum())
        raise DataError(f"column '{column}' has value(s) {quote_values(unseen)} ({rows} rows) {why}; "
                        "fix the labels in the data, or drop those rows")


def check_positive_label(plan: Plan, frame: pl.DataFrame, model_classes: list[str] | None) -> None:
    if plan.task != "classification" or plan.positive_label is None:
        return
    positive = canon_value(plan.positive_label)
    known: set[str] = set(model_classes or [])
    for column in (plan.target, plan.prediction):
        if column is not None:
            known |= set(distinct(frame.get_column(column)))
    if plan.labels is not None:
        known |= {canon_value(v) for v in plan.labels}
    if positive not in known:
        raise PlanError(f"positive_label {plan.positive_label!r} occurs in neither the data nor the model's "
                        f"classes (found: {quote_values(sorted(known))}); set positive_label to one of them")


def check_audit_columns(plan: Plan, frame: pl.DataFrame) -> None:
    if plan.prediction is not None:
        series = frame.get_column(plan.prediction)
        if series.null_count():
            raise DataError(f"prediction column '{plan.prediction}' has {series.null_count()} empty value(s); "
                            "every audited row needs its recorded decision")
        if plan.task == "regression" and not series.dtype.is_numeric():
            raise DataError(f"prediction column '{plan.prediction}' holds text, but task = \"regression\" needs numbers")
        if plan.task == "classification":
            _check_label_values(plan, plan.prediction, series, None, "")
    if plan.score is not None:
        score = frame.get_column(plan.score)
        if not score.dtype.is_numeric() or score.null_count():
            raise DataError(f"score column '{plan.score}' must hold a number in every row")


def check_groups(plan: Plan, frame: pl.DataFrame) -> None:
    """Reference groups and expected groups exist and are not empty."""
    for column in plan.sensitive:
        series = frame.get_column(column)
        if series.null_count() == series.len():
            raise DataError(f"sensitive column '{column}' is empty in every row; fill it in or remove it from 'sensitive'")
        present = set(distinct(series))
        expected = [canon_value(v) for v in plan.groups.get(column, ())]
        if column in plan.reference_groups:
            expected.append(canon_value(plan.reference_groups[column]))
        for value in expected:
            if value not in present:
                raise DataError(f"group {column} = {value!r} is empty: no row of the data has it "
                                f"(values present: {quote_values(sorted(present))}); fix the plan's "
                                f"'groups'/'reference_groups' or add rows for this group")


def resolve_features(plan: Plan, model: Model | None, frame: pl.DataFrame) -> list[str]:
    """The model's input columns in order, checked against the model's declared inputs."""
    if model is None:
        return list(plan.features)
    inputs = model.inputs()
    named = [i.column for i in inputs or [] if i.column is not None]
    if named:
        return _check_named_inputs(plan, named, frame)
    features = list(plan.features) or list(_recorded_features(model))
    if not features:
        raise PlanError("plan key 'features' is missing: list the model's input columns in the order the model "
                        "expects them")
    missing = [c for c in features if c not in frame.columns]
    if missing:  # features recorded in the model file are not checked against the data anywhere else
        raise ModelError(f"the model needs input column(s) {quote_values(missing)}, which the data lacks; "
                         f"the data's columns are: {', '.join(frame.columns[:30])}")
    if inputs:
        _check_matrix_input(inputs[0], features, frame)
    return features


def _recorded_features(model: Model) -> list[str]:
    getter = getattr(model, "feature_names", None)
    names = getter() if callable(getter) else None
    return list(names) if isinstance(names, list) else []


def _check_named_inputs(plan: Plan, named: list[str], frame: pl.DataFrame) -> list[str]:
    missing = [c for c in named if c not in frame.columns]
    if missing:
        raise ModelError(f"the model needs input column(s) {quote_values(missing)}, which the data lacks; "
                         f"the data's columns are: {', '.join(frame.columns[:30])}")
    if plan.features and set(plan.features) != set(named):
        extra = [f for f in plan.features if f not in named]
        lacking = [c for c in named if c not in plan.features]
        raise ModelError(f"plan 'features' do not match the model's inputs: the model also needs "
                         f"{quote_values(lacking) or 'nothing'}, and does not take {quote_values(extra) or 'nothing'}; "
                         "list exactly the model's inputs, or leave 'features' out")
    return named


def _check_matrix_input(spec: InputSpec, features: list[str], frame: pl.DataFrame) -> None:
    if spec.width is not None and spec.width != len(features):
        raise ModelError(f"the model takes {spec.width} input columns but the plan lists {len(features)} "
                         f"features ({', '.join(features)}); list the model's inputs in order")
    if spec.kind == "number":
        for name in features:
            dtype = frame.schema[name]
            if not (dtype.is_numeric() or dtype == pl.Boolean):
                raise ModelError(f"column '{name}' holds text but the model expects numbers; encode it as numbers "
                                 "or pack the model together with its preprocessing")
