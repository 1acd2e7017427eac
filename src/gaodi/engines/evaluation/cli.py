"""What `gaodi evaluate` and `gaodi model pack` do, without Django: the management commands only parse
arguments and call these functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from gaodi.engines.evaluation.adapters import HttpModel, Model, load_model
from gaodi.engines.evaluation.data import DEFAULT_MAX_BYTES, read_table
from gaodi.engines.evaluation.envelope import dumps
from gaodi.engines.evaluation.errors import EvaluationError
from gaodi.engines.evaluation.plan import Plan, load_plan
from gaodi.engines.evaluation.report import render
from gaodi.engines.evaluation.runner import Evaluation, evaluate, planned_steps


class ProgressBar(Protocol):
    def start(self, steps: int) -> None: ...

    def step(self, name: str) -> None: ...


def open_model(plan: Plan, model: Path | None, endpoint: str | None, *, trusted: Sequence[str] = (),
               allow: Sequence[str] = (), headers: Mapping[str, str] | None = None) -> Model | None:
    if model is not None and endpoint is not None:
        raise EvaluationError("give either --model or --endpoint, not both")
    if plan.audit_mode:
        if model is not None or endpoint is not None:
            raise EvaluationError("the plan audits recorded decisions (it names 'prediction'); do not give "
                                  "--model or --endpoint, or remove 'prediction' from the plan")
        return None
    if model is None and endpoint is None:
        raise EvaluationError("give --model FILE or --endpoint URL (or name recorded decisions with 'prediction' "
                              "in the plan to audit them)")
    if model is not None:
        return load_model(model, trusted=trusted)
    assert endpoint is not None
    return HttpModel(endpoint, allow=allow, spec=plan.endpoint, headers=headers)


def run_evaluation(*, data: Path, plan: Path, out: Path, model: Path | None = None, endpoint: str | None = None,
                   trusted: Sequence[str] = (), allow: Sequence[str] = (), max_bytes: int = DEFAULT_MAX_BYTES,
                   progress: ProgressBar | None = None, headers: Mapping[str, str] | None = None,
                   scrub: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Evaluation:
    """Evaluate and write OUT/result.json, OUT/report.html and OUT/artifacts/*.

    ``headers`` go with every request to an endpoint (e.g. its credential); ``scrub`` rewrites the result
    document before anything is written (e.g. to mask a credential an endpoint echoed in an error)."""
    parsed = load_plan(plan)
    chosen = open_model(parsed, model, endpoint, trusted=trusted, allow=allow, headers=headers)
    table = read_table(data, max_bytes=max_bytes)
    if progress is not None:
        progress.start(len(planned_steps(parsed, chosen is not None)) + 1)
    evaluation = evaluate(parsed, table, chosen, progress=None if progress is None else progress.step)
    if scrub is not None:
        evaluation.document = scrub(evaluation.document)
    write_outputs(evaluation, out)
    if progress is not None:
        progress.step("report")
    return evaluation


def write_outputs(evaluation: Evaluation, out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(dumps(evaluation.document), encoding="utf-8")
        (out / "report.html").write_text(render(evaluation.document), encoding="utf-8")
        if evaluation.artifacts:
            (out / "artifacts").mkdir(exist_ok=True)
        for artifact in evaluation.artifacts:
            (out / "artifacts" / artifact.name).write_bytes(artifact.content)
    except OSError as exc:
        raise EvaluationError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
