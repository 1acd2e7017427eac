"""Helpers for the recommended catalog tests: an issued certificate reached through the real actions
(the engine's run is replaced by its result document, as the worker would record it)."""

from __future__ import annotations

from test_evaluation_service_support import form_data, lab


def issued_evaluation(world, filing, passed: bool = True, checks: list | None = None):
    from gaodi.apps.algorithms import evaluation_actions as actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm

    if not hasattr(world, "lab"):
        lab(world)
    data, files = form_data(world, model=b"not really onnx; the engine is not run here")
    evaluation = actions.request_evaluation(world.alice, filing, EvaluationRequestForm(data=data, files=files))
    actions.accept(world.tina, evaluation)
    evaluation.refresh_from_db()
    actions.mark_running(evaluation.pk, evaluation.attempt)
    if checks is None:
        checks = [{"metric": "accuracy", "scope": "overall", "value": 0.9 if passed else 0.4,
                   "threshold": {"min": 0.5}, "passed": passed, "required": True}]
    document = {"passed": passed, "checks": checks, "engine": {"version": "test"},
                "summary": {"zh": ["准确率 0.9。"], "en": ["Accuracy 0.9."]}}
    actions.mark_completed(evaluation.pk, evaluation.attempt, document, "<html><body>report</body></html>")
    evaluation.refresh_from_db()
    actions.issue(world.tina, evaluation)
    evaluation.refresh_from_db()
    return evaluation
