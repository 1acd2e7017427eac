"""The test plan: a TOML file that names the target, features, sensitive features and thresholds.

`load_plan` parses and validates the plan on its own (keys, types, threshold directions);
`validate.check_plan_against_data` then checks it against the columns and values of the data.
Every error names the key and says how to fix it.
"""

from __future__ import annotations

import difflib
import itertools
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gaodi.engines.evaluation.errors import PlanError

Task = Literal["classification", "regression"]
Scalar = str | int | float | bool

GROUP_RATES = ("selection_rate", "tpr", "fpr", "fnr", "tnr", "ppv", "npv", "fdr", "for", "accuracy")
REGRESSION_GROUP_METRICS = ("mean_prediction", "mean_target", "mae", "rmse")

# Metric name -> (kind, direction). Ratios are only ever checked against a minimum in (0, 1], and
# differences only against a maximum: a difference is never compared with a ratio threshold.
_PERFORMANCE: dict[str, str] = {
    "accuracy": "min", "precision": "min", "recall": "min", "f1": "min", "roc_auc": "min", "r2": "min",
    "log_loss": "max", "ece": "max", "mae": "max", "rmse": "max", "mape": "max",
}
_NAMED_FAIRNESS = ("demographic_parity", "equalized_odds", "equal_opportunity")
_CHANGE = (
    "counterfactual_change_rate", "counterfactual_mean_relative_change",
    "robustness_flip_rate", "robustness_performance_drop",
)


def threshold_metrics() -> dict[str, tuple[str, str]]:
    """Every metric a plan may put a threshold on: name -> (kind, direction)."""
    known: dict[str, tuple[str, str]] = {k: ("performance", d) for k, d in _PERFORMANCE.items()}
    for base in (*GROUP_RATES, *REGRESSION_GROUP_METRICS, *_NAMED_FAIRNESS):
        known[f"{base}_difference"] = ("difference", "max")
        known[f"{base}_ratio"] = ("ratio", "min")
    for name in ("disparate_impact_ratio", "impact_ratio", "scoring_impact_ratio"):
        known[name] = ("ratio", "min")
    for name in _CHANGE:
        known[name] = ("change", "max")
    return known


@dataclass(frozen=True)
class Threshold:
    metric: str
    kind: str  # performance | difference | ratio | change
    minimum: float | None = None
    maximum: float | None = None

    def passes(self, value: float) -> bool:
        if self.minimum is not None and value < self.minimum:
            return False
        return not (self.maximum is not None and value > self.maximum)

    def describe(self) -> str:
        return f">= {self.minimum:g}" if self.minimum is not None else f"<= {self.maximum:g}"


@dataclass(frozen=True)
class Options:
    bootstrap: int = 200
    confidence: float = 0.95
    min_group_size: int = 30
    seed: int = 0
    check_intersections: bool = False
    small_category_share: float = 0.02  # NYC LL144: categories under 2 % may be left out of impact ratios


@dataclass(frozen=True)
class CounterfactualSpec:
    attribute: str
    values: tuple[Scalar, ...] | None = None
    max_rows: int = 5000


@dataclass(frozen=True)
class RobustnessSpec:
    severities: tuple[float, ...] = (0.1, 0.3, 0.5)
    perturbations: tuple[str, ...] = ("noise", "swap", "missing")
    max_rows: int = 5000


@dataclass(frozen=True)
class ExplanationSpec:
    top_k: int = 3
    repeats: int = 5
    max_rows: int = 2000
    grid: int = 10


@dataclass(frozen=True)
class EndpointSpec:
    batch_size: int = 256
    concurrency: int = 4
    rate_limit: float | None = None  # requests per second
    timeout: float = 10.0
    retries: int = 2


@dataclass(frozen=True)
class Plan:
    task: Task
    target: str | None
    features: tuple[str, ...]
    sensitive: tuple[str, ...]
    intersections: tuple[tuple[str, ...], ...]
    positive_label: Scalar | None
    labels: tuple[Scalar, ...] | None
    reference_groups: Mapping[str, Scalar]
    groups: Mapping[str, tuple[Scalar, ...]]
    thresholds: tuple[Threshold, ...]
    prediction: str | None
    score: str | None
    options: Options
    counterfactual: CounterfactualSpec | None
    robustness: RobustnessSpec | None
    explanation: ExplanationSpec | None
    endpoint: EndpointSpec
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    title: str = ""

    @property
    def audit_mode(self) -> bool:
        """True when the plan evaluates recorded decisions (a `prediction` column), not a model."""
        return self.prediction is not None

    def display(self, key: str, lang: str) -> str:
        """The display name of a column (or of `outcome`) in `lang` ('zh' or 'en')."""
        entry = self.names.get(key, {})
        return entry.get(lang) or entry.get("en") or key

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "task": self.task, "mode": "audit" if self.audit_mode else "model",
            "target": self.target, "features": list(self.features), "sensitive": list(self.sensitive),
            "intersections": [list(i) for i in self.intersections], "positive_label": self.positive_label,
            "labels": None if self.labels is None else list(self.labels),
            "reference_groups": dict(self.reference_groups),
            "groups": {k: list(v) for k, v in self.groups.items()},
            "thresholds": [
                {"metric": t.metric, "min": t.minimum, "max": t.maximum} for t in self.thresholds
            ],
            "prediction": self.prediction, "score": self.score,
            "options": vars(self.options).copy(),
        }


_TOP_KEYS = {
    "title", "task", "target", "features", "sensitive", "intersections", "positive_label", "labels",
    "reference_groups", "groups", "thresholds", "prediction", "score", "options", "counterfactual",
    "robustness", "explanation", "endpoint", "names",
}


def load_plan(source: str | Path) -> Plan:
    """Parse a plan from a TOML file path or TOML text."""
    if isinstance(source, Path):
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PlanError(f"plan file {source} does not exist") from None
        except UnicodeDecodeError:
            raise PlanError(f"plan file {source} is not UTF-8 text; save it as UTF-8") from None
    else:
        text = source
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"plan is not valid TOML: {exc}") from None
    return parse_plan(raw)


def parse_plan(raw: Mapping[str, Any]) -> Plan:
    _check_keys("plan", raw, _TOP_KEYS)
    task = _task(raw.get("task", "classification"))
    target = _opt_str(raw, "target")
    prediction = _opt_str(raw, "prediction")
    if target is None and prediction is None:
        raise PlanError("plan key 'target' is missing: name the column with the true outcome "
                        "(or, to audit recorded decisions, name the decisions with 'prediction')")
    sensitive = _str_list(raw, "sensitive")
    positive = _scalar_or_none(raw, "positive_label")
    if task == "classification" and positive is None:
        raise PlanError("plan key 'positive_label' is missing: name the favourable outcome, e.g. "
                        "positive_label = \"hired\" or positive_label = 1")
    plan = Plan(
        task=task, target=target, features=tuple(_str_list(raw, "features")), sensitive=tuple(sensitive),
        intersections=_intersections(raw.get("intersections", "all"), sensitive),
        positive_label=positive, labels=_labels(raw), reference_groups=_reference_groups(raw, sensitive),
        groups=_groups(raw, sensitive), thresholds=_thresholds(raw.get("thresholds", {})),
        prediction=prediction, score=_opt_str(raw, "score"), options=_options(raw.get("options", {})),
        counterfactual=_counterfactual(raw.get("counterfactual")),
        robustness=_robustness(raw.get("robustness", {})), explanation=_explanation(raw.get("explanation", {})),
        endpoint=_endpoint(raw.get("endpoint", {})), names=_names(raw.get("names", {})),
        title=str(raw.get("title", "")),
    )
    _check_consistency(plan)
    return plan


def _check_keys(where: str, table: Mapping[str, Any], known: set[str]) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(known))}"
            raise PlanError(f"unknown key '{key}' in {where}{hint}")


def _table(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"plan key '{key}' must be a table, e.g. [{key}]")
    return value


def _task(value: Any) -> Task:
    if value == "classification":
        return "classification"
    if value == "regression":
        return "regression"
    raise PlanError(f"plan key 'task' is {value!r}; use \"classification\" or \"regression\"")


def _opt_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PlanError(f"plan key '{key}' must be a column name (a non-empty string), got {value!r}")
    return value


def _str_list(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PlanError(f"plan key '{key}' must be a list of column names, e.g. {key} = [\"a\", \"b\"]")
    if len(set(value)) != len(value):
        raise PlanError(f"plan key '{key}' names a column twice; list each column once")
    return list(value)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _scalar_or_none(raw: Mapping[str, Any], key: str) -> Scalar | None:
    value = raw.get(key)
    if value is not None and not _is_scalar(value):
        raise PlanError(f"plan key '{key}' must be a single value (text, number or true/false), got {value!r}")
    result: Scalar | None = value
    return result


def _labels(raw: Mapping[str, Any]) -> tuple[Scalar, ...] | None:
    value = raw.get("labels")
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
        raise PlanError("plan key 'labels' must list the possible outcomes, e.g. labels = [\"yes\", \"no\"]")
    return tuple(value)


def _intersections(value: Any, sensitive: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    if value is False or value == "none" or len(sensitive) < 2:
        return ()
    if value is True or value == "all":
        return tuple(
            combo for size in range(2, len(sensitive) + 1) for combo in itertools.combinations(sensitive, size)
        )
    if not isinstance(value, list) or not all(isinstance(v, list) and len(v) >= 2 for v in value):
        raise PlanError("plan key 'intersections' must be \"all\", false, or a list of lists of "
                        "sensitive features, e.g. [[\"sex\", \"age_band\"]]")
    for combo in value:
        for name in combo:
            if name not in sensitive:
                raise PlanError(f"plan key 'intersections' names '{name}', which is not listed in 'sensitive'")
    return tuple(tuple(combo) for combo in value)


def _reference_groups(raw: Mapping[str, Any], sensitive: Sequence[str]) -> dict[str, Scalar]:
    table = _table(raw.get("reference_groups", {}), "reference_groups")
    for key, value in table.items():
        if key not in sensitive:
            raise PlanError(f"plan key 'reference_groups.{key}' names a column that is not in 'sensitive'; "
                            "add it to 'sensitive' or remove the reference group")
        if not _is_scalar(value):
            raise PlanError(f"plan key 'reference_groups.{key}' must be one value of column '{key}'")
    return dict(table)


def _groups(raw: Mapping[str, Any], sensitive: Sequence[str]) -> dict[str, tuple[Scalar, ...]]:
    table = _table(raw.get("groups", {}), "groups")
    out: dict[str, tuple[Scalar, ...]] = {}
    for key, value in table.items():
        if key not in sensitive:
            raise PlanError(f"plan key 'groups.{key}' names a column that is not in 'sensitive'")
        if not isinstance(value, list) or not value or not all(_is_scalar(v) for v in value):
            raise PlanError(f"plan key 'groups.{key}' must list the expected values of '{key}'")
        out[key] = tuple(value)
    return out


def _thresholds(value: Any) -> tuple[Threshold, ...]:
    table = _table(value, "thresholds")
    known = threshold_metrics()
    out: list[Threshold] = []
    for metric, spec in table.items():
        if metric not in known:
            close = difflib.get_close_matches(metric, sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise PlanError(f"plan key 'thresholds.{metric}' is not a known metric{hint}")
        kind, direction = known[metric]
        out.append(_threshold(metric, kind, direction, spec))
    return tuple(out)


def _threshold(metric: str, kind: str, direction: str, spec: Any) -> Threshold:
    where = f"thresholds.{metric}"
    if _is_scalar(spec) and not isinstance(spec, bool | str):
        spec = {direction: spec}
    if not isinstance(spec, Mapping) or set(spec) - {"min", "max"} or len(spec) != 1:
        raise PlanError(f"plan key '{where}' must be {{ {direction} = NUMBER }}")
    (op, bound), = spec.items()
    if not isinstance(bound, int | float) or isinstance(bound, bool):
        raise PlanError(f"plan key '{where}' must be a number")
    if op != direction:
        raise PlanError(_wrong_direction(metric, kind, direction))
    if kind == "ratio" and not 0 < bound <= 1:
        raise PlanError(f"plan key '{where}' is a ratio (smaller group over larger); its minimum must be in "
                        f"(0, 1], e.g. 0.8 for the four-fifths rule, got {bound}")
    if kind in ("difference", "change") and bound < 0:
        raise PlanError(f"plan key '{where}' must not be negative")
    value = float(bound)
    return Threshold(metric, kind, value if op == "min" else None, value if op == "max" else None)


def _wrong_direction(metric: str, kind: str, direction: str) -> str:
    if kind == "difference":
        return (f"plan key 'thresholds.{metric}' is a difference; check it against a maximum such as "
                f"{{ max = 0.1 }}. Ratio thresholds such as 0.8 belong to '{metric[:-len('difference')]}ratio'")
    if kind == "ratio":
        return (f"plan key 'thresholds.{metric}' is a ratio; check it against a minimum such as "
                f"{{ min = 0.8 }}. Difference thresholds belong to '{metric[:-len('ratio')]}difference'")
    return f"plan key 'thresholds.{metric}' takes a {direction}imum: {{ {direction} = NUMBER }}"


def _int(table: Mapping[str, Any], key: str, default: int, where: str, low: int = 0) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise PlanError(f"plan key '{where}.{key}' must be a whole number of at least {low}")
    return value


def _float(table: Mapping[str, Any], key: str, default: float, where: str, low: float, high: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
        raise PlanError(f"plan key '{where}.{key}' must be a number between {low:g} and {high:g}")
    return float(value)


def _options(value: Any) -> Options:
    table = _table(value, "options")
    _check_keys("[options]", table, set(vars(Options())))
    check = table.get("check_intersections", False)
    if not isinstance(check, bool):
        raise PlanError("plan key 'options.check_intersections' must be true or false")
    return Options(
        bootstrap=_int(table, "bootstrap", 200, "options"),
        confidence=_float(table, "confidence", 0.95, "options", 0.5, 0.999),
        min_group_size=_int(table, "min_group_size", 30, "options"),
        seed=_int(table, "seed", 0, "options"),
        check_intersections=check,
        small_category_share=_float(table, "small_category_share", 0.02, "options", 0.0, 0.5),
    )


def _counterfactual(value: Any) -> CounterfactualSpec | None:
    if value is None:
        return None
    table = _table(value, "counterfactual")
    _check_keys("[counterfactual]", table, {"attribute", "values", "max_rows"})
    attribute = _opt_str(table, "attribute")
    if attribute is None:
        raise PlanError("plan key 'counterfactual.attribute' is missing: name the column to change, "
                        "e.g. attribute = \"device\"")
    values = table.get("values")
    if values is not None and (not isinstance(values, list) or not all(_is_scalar(v) for v in values)):
        raise PlanError("plan key 'counterfactual.values' must list values of the attribute")
    return CounterfactualSpec(attribute, None if values is None else tuple(values),
                              _int(table, "max_rows", 5000, "counterfactual", 1))


def _robustness(value: Any) -> RobustnessSpec | None:
    if value is False:
        return None
    table = _table(value, "robustness")
    _check_keys("[robustness]", table, {"severities", "perturbations", "max_rows"})
    severities = table.get("severities", [0.1, 0.3, 0.5])
    if (not isinstance(severities, list) or not severities
            or not all(isinstance(s, int | float) and 0 < s <= 1 for s in severities)):
        raise PlanError("plan key 'robustness.severities' must list numbers in (0, 1], e.g. [0.1, 0.3, 0.5]")
    kinds = table.get("perturbations", ["noise", "swap", "missing"])
    if not isinstance(kinds, list) or not set(kinds) <= {"noise", "swap", "missing"} or not kinds:
        raise PlanError("plan key 'robustness.perturbations' must list some of \"noise\", \"swap\", \"missing\"")
    return RobustnessSpec(tuple(float(s) for s in severities), tuple(kinds),
                          _int(table, "max_rows", 5000, "robustness", 1))


def _explanation(value: Any) -> ExplanationSpec | None:
    if value is False:
        return None
    table = _table(value, "explanation")
    _check_keys("[explanation]", table, {"top_k", "repeats", "max_rows", "grid"})
    return ExplanationSpec(
        top_k=_int(table, "top_k", 3, "explanation"), repeats=_int(table, "repeats", 5, "explanation", 1),
        max_rows=_int(table, "max_rows", 2000, "explanation", 1), grid=_int(table, "grid", 10, "explanation", 2),
    )


def _endpoint(value: Any) -> EndpointSpec:
    table = _table(value, "endpoint")
    _check_keys("[endpoint]", table, {"batch_size", "concurrency", "rate_limit", "timeout", "retries"})
    rate = table.get("rate_limit")
    if rate is not None and (not isinstance(rate, int | float) or isinstance(rate, bool) or rate <= 0):
        raise PlanError("plan key 'endpoint.rate_limit' must be a positive number of requests per second")
    return EndpointSpec(
        batch_size=_int(table, "batch_size", 256, "endpoint", 1),
        concurrency=_int(table, "concurrency", 4, "endpoint", 1),
        rate_limit=None if rate is None else float(rate),
        timeout=_float(table, "timeout", 10.0, "endpoint", 0.01, 600.0),
        retries=_int(table, "retries", 2, "endpoint"),
    )


def _names(value: Any) -> dict[str, dict[str, str]]:
    table = _table(value, "names")
    out: dict[str, dict[str, str]] = {}
    for key, entry in table.items():
        if not isinstance(entry, Mapping) or not all(isinstance(v, str) for v in entry.values()):
            raise PlanError(f"plan key 'names.{key}' must be a table such as {{ zh = \"性别\", en = \"sex\" }}")
        _check_keys(f"[names.{key}]", entry, {"zh", "en"})
        out[key] = dict(entry)
    return out


def _check_consistency(plan: Plan) -> None:
    if plan.task == "regression" and plan.positive_label is not None:
        raise PlanError("plan key 'positive_label' applies to classification only; remove it for task = \"regression\"")
    if plan.target is not None and plan.target in plan.features:
        raise PlanError(f"plan key 'features' lists the target '{plan.target}'; a model must not see the answer")
    if plan.prediction is not None and plan.prediction in plan.features:
        raise PlanError(f"plan key 'features' lists the prediction column '{plan.prediction}'")
    if plan.score is not None and plan.prediction is None:
        raise PlanError("plan key 'score' is for audit mode; set 'prediction' too (the recorded decisions)")
    if plan.labels is not None and plan.positive_label is not None and plan.positive_label not in plan.labels:
        raise PlanError(f"plan key 'positive_label' ({plan.positive_label!r}) is not in 'labels'")
