"""Background task that runs the evaluation engine for an accepted request (run by `gaodi worker`).

An endpoint's credential is decrypted here only, right before the run, and sent only to that endpoint
(the HTTP adapter pins the checked address and never follows redirects). Whatever the run reports —
the failure line, result.json, report.html, a crash's traceback in the log — is redacted first
(evaluation_secrets.redact), so an endpoint that echoes the header in an error body cannot leak it.

Progress (a percentage and the engine's step name) is written to the request row after every step,
with a heartbeat time. If the worker dies mid-run the request stays "running"; once its heartbeat is
older than EVALUATION_RUN_TIMEOUT_S (default one hour) the institution can retry it, and a late result
of the abandoned attempt is discarded (each run carries its attempt number).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import traceback
from pathlib import Path

from django_tasks import task

from gaodi.engines.evaluation import ModelError

log = logging.getLogger(__name__)


def _copy(field, directory: Path) -> Path:
    target = directory / Path(field.name).name
    with field.open("rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    field.close()
    return target


class UnapprovedTypesError(ModelError):
    """The skops file would create types that the testing institution has not approved (or that nobody may)."""

    def __init__(self, message: str, found: list[str]) -> None:
        super().__init__(message)
        self.found = found


def failure_kind(exc: Exception) -> str:
    """The FailureKind of an engine error (the classes say what went wrong; the message says the detail)."""
    from gaodi.engines.evaluation import (
        DataError,
        EndpointError,
        EndpointGarbageError,
        EndpointTimeoutError,
        EndpointUnreachableError,
        PlanError,
        UnsafeEndpointError,
    )

    from .evaluation_models import FailureKind
    from .evaluation_secrets import EndpointCredentialError

    kinds = ((UnapprovedTypesError, FailureKind.UNAPPROVED_TYPES), (UnsafeEndpointError, FailureKind.ENDPOINT_UNSAFE),
             (EndpointCredentialError, FailureKind.ENDPOINT_CREDENTIAL),
             (EndpointTimeoutError, FailureKind.ENDPOINT_TIMEOUT),
             (EndpointUnreachableError, FailureKind.ENDPOINT_UNREACHABLE),
             (EndpointGarbageError, FailureKind.ENDPOINT_GARBAGE), (EndpointError, FailureKind.ENDPOINT_ERROR),
             (ModelError, FailureKind.MODEL), (DataError, FailureKind.DATA), (PlanError, FailureKind.PLAN))
    return next((str(kind) for cls, kind in kinds if isinstance(exc, cls)), str(FailureKind.INTERNAL))


def endpoint_secret(request) -> str:
    """The request's endpoint credential in plain text ("" when none); EndpointCredentialError, with a
    sentence for people, when the key file is missing or is not the one that encrypted it."""
    from .evaluation_secrets import decrypt

    if not request.endpoint_url or not request.endpoint_secret_ciphertext:
        return ""
    return decrypt(request.endpoint_secret_ciphertext, request.token)


def open_model(request, plan, directory: Path, secret: str = ""):
    """The request's model: its stored file, or its endpoint, checked against the SSRF rule again now
    (the allowlist or DNS may have changed since submission) and pinned to the address checked; with
    `secret`, every call to the endpoint carries it in the request's credential header.

    A skops file is loaded with exactly the types the institution approved as `trusted=`, and only when
    every type the file would create (listed again now, from the stored file) is among them."""
    from gaodi.engines.evaluation import HttpModel, load_model
    from gaodi.engines.evaluation.adapters import detect_format
    from gaodi.engines.evaluation.adapters.skops_model import untrusted_types

    from .evaluation_forms import endpoint_allowlist
    from .evaluation_trust import trusted_types

    if request.endpoint_url:
        from .evaluation_secrets import DEFAULT_HEADER

        headers = {request.endpoint_header or DEFAULT_HEADER: secret} if secret else None
        return HttpModel(request.endpoint_url, allow=endpoint_allowlist(), spec=plan.endpoint, headers=headers)
    path = _copy(request.model_file, directory)
    if detect_format(path) != "skops":
        return load_model(path)
    found, trusted = untrusted_types(path), trusted_types(request)
    if missing := [name for name in found if name not in trusted]:
        raise UnapprovedTypesError(
            f"model file {request.model_name or path.name} would create types that the testing institution has "
            f"not approved: {', '.join(missing)}; approve them on the request page (types that look dangerous "
            "cannot be approved), then retry", found)
    return load_model(path, trusted=trusted)


@task()
def run_evaluation(request_id: int, attempt: int) -> str:
    from gaodi.engines.evaluation import EvaluationError, evaluate, load_plan, read_table, render
    from gaodi.engines.evaluation.runner import planned_steps

    from . import evaluation_actions as actions
    from .evaluation_forms import max_data_bytes
    from .evaluation_models import FailureKind
    from .evaluation_secrets import redact, redact_document

    request = actions.mark_running(request_id, attempt)
    if request is None:
        return "skipped"
    secret = ""
    try:
        plan = load_plan(request.plan_text)
        steps = planned_steps(plan, has_model=True)
        done: list[str] = []

        def progress(step: str) -> None:
            done.append(step)
            actions.record_progress(request_id, attempt, min(99, round(100 * len(done) / (len(steps) + 1))), step)

        with tempfile.TemporaryDirectory(prefix="gaodi-eval-") as tmp:
            data_path = _copy(request.data_file, Path(tmp))
            table = read_table(data_path, max_bytes=max_data_bytes())
            secret = endpoint_secret(request)
            model = open_model(request, plan, Path(tmp), secret)
            result = evaluate(plan, table, model, progress=progress)
        actions.record_progress(request_id, attempt, 99, "report")
        # An endpoint's error text may be kept in the document (e.g. a robustness row): redact before storing.
        document = redact_document(result.document, secret)
        html = render(document)
    except EvaluationError as exc:
        actions.mark_failed(request_id, attempt, redact(str(exc), secret), failure_kind(exc),
                            getattr(exc, "found", None))
        return "failed"
    except Exception as exc:  # an engine bug must not leave the request running forever
        log.error("evaluation %s attempt %s crashed:\n%s", request_id, attempt, redact(traceback.format_exc(), secret))
        actions.mark_failed(request_id, attempt, f"internal error ({type(exc).__name__}); please retry or report it",
                            FailureKind.INTERNAL)
        return "failed"
    actions.mark_completed(request_id, attempt, document, html)
    return "completed"
