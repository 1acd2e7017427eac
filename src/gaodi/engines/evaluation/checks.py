"""Pass/fail per threshold. A check whose value is undefined has passed = None and fails the run."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from gaodi.engines.evaluation.fairness import FOUR_FIFTHS
from gaodi.engines.evaluation.plan import Plan, Threshold


def _check(metric: str, scope: str | None, value: Any, bound: Mapping[str, float], required: bool,
           passes: bool | None) -> dict[str, Any]:
    return {"metric": metric, "scope": scope, "value": value, "threshold": dict(bound),
            "passed": passes, "required": required}


def _bound(threshold: Threshold) -> dict[str, float]:
    if threshold.minimum is not None:
        return {"min": threshold.minimum}
    assert threshold.maximum is not None
    return {"max": threshold.maximum}


def _judge(threshold: Threshold, scope: str | None, value: Any) -> dict[str, Any]:
    passes = None if value is None else threshold.passes(float(value))
    return _check(threshold.metric, scope, value, _bound(threshold), True, passes)


def _groupings(plan: Plan, fairness: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for grouping in fairness.get("groupings", []):
        if grouping["kind"] == "feature" or plan.options.check_intersections:
            yield grouping


def _fairness_value(metric: str, grouping: Mapping[str, Any]) -> tuple[bool, Any]:
    named = grouping.get("fairness", {})
    if metric in named:
        return True, named[metric]["value"]
    if metric in ("impact_ratio", "scoring_impact_ratio"):
        rows = grouping["impact_ratios"]["selection" if metric == "impact_ratio" else "scoring"]
        if rows is None:
            return False, None
        found = [r["impact_ratio"] for r in rows if not r["excluded_small_category"] and r["impact_ratio"] is not None]
        return True, min(found) if found else None
    base, _, kind = metric.rpartition("_")
    summary = grouping.get("summaries", {}).get(base)
    if summary is None:
        return False, None
    return True, summary["difference" if kind == "difference" else "ratio"]


def _change_value(metric: str, outputs: Mapping[str, Any]) -> tuple[bool, Any]:
    keys = {
        "counterfactual_change_rate": ("counterfactual", "change_rate"),
        "counterfactual_mean_relative_change": ("counterfactual", "mean_relative_change"),
        "robustness_flip_rate": ("robustness", "worst_flip_rate"),
        "robustness_performance_drop": ("robustness", "worst_performance_drop"),
    }
    test, key = keys[metric]
    output = outputs.get(test)
    return (False, None) if output is None else (True, output.get(key))


def threshold_checks(plan: Plan, outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Apply the plan's thresholds to the test outputs, and add the four-fifths rule per feature."""
    checks: list[dict[str, Any]] = []
    for threshold in plan.thresholds:
        checks.extend(_apply(plan, threshold, outputs))
    fairness = outputs.get("fairness")
    if fairness is not None:
        for grouping in fairness.get("groupings", []):
            if grouping["kind"] == "feature" and "disparate_impact" in grouping:
                value = grouping["disparate_impact"]["ratio"]
                passes = None if value is None else value >= FOUR_FIFTHS
                checks.append(_check("four_fifths_rule", grouping["name"], value, {"min": FOUR_FIFTHS}, False, passes))
    return checks


def _apply(plan: Plan, threshold: Threshold, outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    if threshold.kind == "performance":
        performance = outputs.get("performance")
        if performance is None:
            return [_not_available(threshold, "no performance test ran (it needs a target column)")]
        return [_judge(threshold, None, performance.get(threshold.metric))]
    if threshold.kind == "change":
        found, value = _change_value(threshold.metric, outputs)
        return [_judge(threshold, None, value)] if found else [_not_available(threshold, "that test did not run")]
    fairness = outputs.get("fairness")
    if fairness is None:
        return [_not_available(threshold, "no fairness test ran (list 'sensitive' columns)")]
    out = []
    for grouping in _groupings(plan, fairness):
        found, value = _fairness_value(threshold.metric, grouping)
        if found:
            out.append(_judge(threshold, grouping["name"], value))
    return out or [_not_available(threshold, "the metric does not apply to this task or data")]


def _not_available(threshold: Threshold, why: str) -> dict[str, Any]:
    check = _check(threshold.metric, None, None, _bound(threshold), True, None)
    check["note"] = why
    return check


def overall(checks: list[dict[str, Any]]) -> bool | None:
    """True if every required check passed, False if any failed or was undefined, None without thresholds."""
    required = [c for c in checks if c["required"]]
    if not required:
        return None
    return all(c["passed"] is True for c in required)
