"""Testing and evaluation of algorithm models (Art. 15, 46, 66, 67): a pure engine, no Django.

    plan = load_plan(Path("plan.toml"))
    table = read_table(Path("test.csv"))
    model = load_model(Path("model.onnx"))          # or HttpModel(url, allow=...), or None in audit mode
    result = evaluate(plan, table, model)
    html = render(result.document)

Subpackages and modules: `adapters` (ONNX, skops, HTTP endpoint with the SSRF guard, pickle refusal),
`data`, `plan`, `validate`, `metrics`, `grouping` and `fairness`, `counterfactual`, `robustness`,
`explanation`, `envelope` (+ `schema/`), `checks`, `summary`, `report`, `runner`, `pack`, `cli`.
"""

from gaodi.engines.evaluation.adapters import HttpModel, Model, Predictions, load_model
from gaodi.engines.evaluation.data import Table, read_table
from gaodi.engines.evaluation.errors import (
    DataError,
    EndpointError,
    EndpointGarbageError,
    EndpointTimeoutError,
    EndpointUnreachableError,
    EvaluationError,
    ModelError,
    PlanError,
    UnsafeEndpointError,
)
from gaodi.engines.evaluation.plan import Plan, load_plan
from gaodi.engines.evaluation.report import render
from gaodi.engines.evaluation.runner import Evaluation, evaluate
from gaodi.engines.evaluation.version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION", "DataError", "EndpointError", "EndpointGarbageError", "EndpointTimeoutError",
    "EndpointUnreachableError", "Evaluation", "EvaluationError", "HttpModel", "Model",
    "ModelError", "Plan", "PlanError", "Predictions", "Table", "UnsafeEndpointError", "evaluate", "load_model",
    "load_plan", "read_table", "render",
]
