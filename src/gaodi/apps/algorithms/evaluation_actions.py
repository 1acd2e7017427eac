"""Business operations on evaluation requests and certificates: one function each, one transaction
each, each writing its audit entry; the engine runs in `evaluation_tasks.run_evaluation` after commit."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from gaodi.apps.core import audit
from gaodi.apps.core.choices import Role
from gaodi.apps.core.notifications import members_of, notify
from gaodi.engines import workdays
from gaodi.engines.evaluation import ENGINE_VERSION

from . import catalog_actions
from . import evaluation_secrets as credentials
from . import evaluation_signing as signing
from . import evaluation_trust as trust
from .evaluation_forms import EndpointCredentialForm, EvaluationRequestForm, TypeApprovalForm
from .evaluation_models import (
    EvaluationCertificate,
    EvaluationRequest,
    EvaluationState,
    EvaluationTypeApproval,
)
from .evaluation_policies import EvaluationRequestPolicy
from .evaluation_tasks import run_evaluation
from .evaluation_workflows import ACCEPT_DAYS, EVALUATION
from .models import AlgorithmFiling, State
from .policies import enterprise_ids


def _url(request: EvaluationRequest) -> str:
    return reverse("algorithms:evaluation_detail", args=[request.pk])


def _owners(request: EvaluationRequest):
    return members_of(request.organization_id, Role.MEMBER, Role.ADMIN)


def _institution(request: EvaluationRequest):
    return members_of(request.institution_id, Role.MEMBER, Role.ADMIN)


def _store_credential(request: EvaluationRequest, header: str, secret: str) -> None:
    """Put the endpoint credential on `request` (not saved): the header, the Fernet token bound to the
    request's random token, and the last 4 characters of a long secret for the owner's page."""
    try:
        token = credentials.encrypt(secret, request.token)
    except ValidationError as exc:
        raise ValidationError({"endpoint_secret": exc.messages}) from None
    request.endpoint_header, request.endpoint_secret_ciphertext = header, token
    request.endpoint_secret_hint = credentials.hint(secret)
    request.endpoint_secret_set_at, request.endpoint_secret_erased_at = timezone.now(), None


def _erase_credential(request: EvaluationRequest) -> bool:
    """Clear the endpoint credential once the request can no longer run (not saved). True if one was set."""
    if not request.endpoint_secret_ciphertext:
        return False
    request.endpoint_secret_ciphertext, request.endpoint_secret_hint = "", ""
    request.endpoint_secret_erased_at = timezone.now()
    return True


@sensitive_variables("data", "secret")
def request_evaluation(user, filing: AlgorithmFiling, form: EvaluationRequestForm) -> EvaluationRequest:
    """An enterprise asks an institution to evaluate one of its approved filings. An endpoint's credential
    is stored encrypted; the audit entry names its header only."""
    if filing.organization_id not in enterprise_ids(user):
        raise PermissionDenied(_("您不是该企业的成员，不能为其申请测评。"))
    if filing.state != State.APPROVED:
        raise ValidationError({"filing": _("只有已备案的算法可以申请测评。")})
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    data = form.cleaned_data
    plan = data["plan"]
    checked_model = form.checked_model if data.get("model") else None
    with transaction.atomic():
        request = EvaluationRequest(
            filing=filing, organization=filing.organization, institution=data["institution"], created_by=user,
            token=secrets.token_hex(16),
            data_name=(data["data"].name or "")[-200:], data_sha256=form.checked_data.sha256,
            plan_text=plan, plan_sha256=hashlib.sha256(plan.encode()).hexdigest(),
            deadline=workdays.add_working_days(timezone.localdate(), ACCEPT_DAYS),
        )
        if checked_model is not None:
            request.model_name = (data["model"].name or "")[-200:]
            request.model_format, request.model_sha256 = checked_model.kind, checked_model.sha256
            request.untrusted_types = list(checked_model.untrusted_types)
            request.model_file.save(f"model{checked_model.suffix}", data["model"], save=False)
        else:
            request.endpoint_url, request.model_format = data["endpoint_url"], "http"
            if secret := data.get("endpoint_secret"):
                _store_credential(request, data["endpoint_header"], secret)
        request.data_file.save(f"data{form.checked_data.suffix}", data["data"], save=False)
        request.save()
        audit.record(user, "evaluation.request", request, {
            "filing": filing.pk, "institution": request.institution_id, "model_sha256": request.model_sha256,
            "endpoint_url": request.endpoint_url, "data_sha256": request.data_sha256,
            "plan_sha256": request.plan_sha256, "untrusted_types": request.untrusted_types,
            "endpoint_credential": {"header": request.endpoint_header} if request.has_endpoint_credential else None})
        if request.untrusted_types:
            message = _("新的测评申请待受理：%(name)s（模型文件含 %(n)d 个须由机构批准的类型）") % {
                "name": filing.name, "n": len(request.untrusted_types)}
        else:
            message = _("新的测评申请待受理：%(name)s") % {"name": filing.name}
        notify(_institution(request), message, _url(request))
    return request


_policy = EvaluationRequestPolicy()
# Types may be approved before a run starts, or after one failed (then it is retried).
APPROVABLE_STATES = (EvaluationState.REQUESTED, EvaluationState.ACCEPTED, EvaluationState.FAILED)


def _require_approved_types(request: EvaluationRequest) -> None:
    """Refuse to queue a run of a skops file while any type it would create is not approved."""
    pending = trust.pending_types(request)
    if not pending:
        return
    refused = [name for name in pending if not trust.approvable(name)]
    if refused:
        raise ValidationError({"types": _(
            "模型文件会创建不能批准的类型：%(types)s，该文件无法运行。请不予受理，并请企业改用只含 scikit-learn、"
            "NumPy、SciPy 类型的模型（或 ONNX 文件）重新申请。") % {"types": "、".join(refused)}})
    raise ValidationError({"types": _(
        "模型文件会创建尚未批准的类型：%(types)s。请先在本页“模型文件中须批准的类型”处逐项审查并批准，"
        "再受理或重新运行。") % {"types": "、".join(pending)}})


def approve_types(user, request: EvaluationRequest, form: TypeApprovalForm) -> EvaluationTypeApproval:
    """The testing institution approves, by name, types a skops model file would create beyond skops'
    safe set. Only the institution's members may (never the requesting enterprise, nor a member of it);
    types that look dangerous are refused by the form whoever asks. The run then trusts exactly these."""
    if not _policy.can(user, "evaluate", request):
        raise PermissionDenied(_("只有受理该申请的检测评估机构可以批准模型文件中的类型。"))
    if request.organization_id in enterprise_ids(user):
        raise PermissionDenied(_("您也是申请企业的成员，不能批准本企业模型文件中的类型；请由机构的其他人员审查。"))
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        if request.state not in APPROVABLE_STATES:
            raise ValidationError({"types": _("当前状态“%(state)s”下不能再批准类型。") % {
                "state": request.get_state_display()}})
        if not form.is_valid():
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        names = form.cleaned_data["types"]
        if unknown := [name for name in names if name not in trust.pending_types(request)]:
            raise ValidationError({"types": _("%(types)s 不在该模型文件待批准的类型中。") % {"types": "、".join(unknown)}})
        approval = EvaluationTypeApproval.objects.create(
            request=request, types=names, note=form.cleaned_data["note"], approved_by=user,
            approved_at=timezone.now())
        audit.record(user, "evaluation.approve_types", request, {
            "types": names, "note": approval.note, "approval": approval.pk,
            "model_sha256": request.model_sha256, "still_pending": trust.pending_types(request)})
        notify(_owners(request), _("检测评估机构批准了模型文件中的类型：%(types)s") % {"types": "、".join(names)},
               _url(request))
    return approval


# The enterprise may set, replace or remove its endpoint's credential while no run is in progress and a
# run may still come: before acceptance, while queued (the worker reads it when the run starts), after a failure.
CREDENTIAL_STATES = (EvaluationState.REQUESTED, EvaluationState.ACCEPTED, EvaluationState.FAILED)


@sensitive_variables("secret")
def set_endpoint_credential(user, request: EvaluationRequest, form: EndpointCredentialForm) -> EvaluationRequest:
    """The requesting enterprise sets, replaces or removes the credential its prediction endpoint needs.
    Never the institution. One transaction; the audit entry says what changed and the header, never the value."""
    if not _policy.can(user, "credential", request):
        raise PermissionDenied(_("只有申请企业可以设置预测接口凭据。"))
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        if not request.endpoint_url:
            raise ValidationError({"endpoint_secret": _("本申请上传的是模型文件，不使用预测接口凭据。")})
        if request.state not in CREDENTIAL_STATES:
            raise ValidationError({"endpoint_secret": _(
                "当前状态“%(state)s”下不能更改接口凭据：评估正在运行时请等待其结束；评估结束后平台已删除凭据。")
                % {"state": request.get_state_display()}})
        if not form.is_valid():
            raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
        previous = request.endpoint_header if request.has_endpoint_credential else None
        if form.cleaned_data.get("remove"):
            if previous is None:
                raise ValidationError({"remove": _("本申请没有设置接口凭据，无需删除。")})
            request.endpoint_header = ""
            request.endpoint_secret_ciphertext, request.endpoint_secret_hint = "", ""
            request.endpoint_secret_set_at, request.endpoint_secret_erased_at = None, None
            change, message = "removed", _("申请企业删除了预测接口凭据：%(name)s")
        else:
            secret = form.cleaned_data["endpoint_secret"]
            _store_credential(request, form.cleaned_data["endpoint_header"], secret)
            change = "replaced" if previous is not None else "set"
            message = _("申请企业更新了预测接口凭据：%(name)s")
        request.save(update_fields=["endpoint_header", "endpoint_secret_ciphertext", "endpoint_secret_hint",
                                    "endpoint_secret_set_at", "endpoint_secret_erased_at", "updated_at"])
        audit.record(user, "evaluation.endpoint_credential", request, {
            "change": change, "header": request.endpoint_header or None, "previous_header": previous,
            "state": request.state})
        notify(_institution(request), message % {"name": request.filing.name}, _url(request))
    return request


def _enqueue(request: EvaluationRequest) -> None:
    request_id, attempt = request.pk, request.attempt
    transaction.on_commit(lambda: run_evaluation.enqueue(request_id, attempt))


def accept(user, request: EvaluationRequest) -> EvaluationRequest:
    """The chosen institution accepts; the run is queued once the acceptance is committed."""
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        EVALUATION.apply(request, "accept", user)
        _require_approved_types(request)
        request.attempt += 1
        request.progress, request.stage = 0, ""
        request.save(update_fields=["attempt", "progress", "stage"])
        audit.record(user, "evaluation.accept", request, {"attempt": request.attempt})
        notify(_owners(request), _("您的测评申请已受理：%(name)s") % {"name": request.filing.name}, _url(request))
        _enqueue(request)
    return request


def decline(user, request: EvaluationRequest, comment: str) -> EvaluationRequest:
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        erased = _erase_credential(request)
        EVALUATION.apply(request, "decline", user, comment)
        audit.record(user, "evaluation.decline", request, {"comment": comment, "credential_erased": erased})
        notify(_owners(request), _("测评机构不予受理“%(name)s”：%(c)s") % {"name": request.filing.name, "c": comment},
               _url(request))
    return request


def retry(user, request: EvaluationRequest, comment: str = "") -> EvaluationRequest:
    """Run again after a failure, or after a worker died mid-run (running, silent past the timeout).
    A new attempt number makes any late result of the old attempt be discarded."""
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        previous = request.state
        EVALUATION.apply(request, "retry", user, comment)
        _require_approved_types(request)
        request.attempt += 1
        request.progress, request.stage, request.failure_reason, request.failure_kind = 0, "", "", ""
        request.save(update_fields=["attempt", "progress", "stage", "failure_reason", "failure_kind"])
        audit.record(user, "evaluation.retry", request, {"attempt": request.attempt, "from": previous})
        _enqueue(request)
    return request


def _certificate_payload(request: EvaluationRequest, certificate_id: str, issued_at, user) -> dict[str, Any]:
    result = json.loads(request.result_file.open("rb").read())
    request.result_file.close()
    checks = [{"metric": c["metric"], "scope": c.get("scope"), "value": c.get("value"),
               "threshold": c.get("threshold"), "passed": c.get("passed"), "required": c.get("required")}
              for c in result.get("checks", [])]
    filing, org, inst = request.filing, request.organization, request.institution
    return {
        "type": "gaodi.evaluation.certificate/1",
        "certificate_id": certificate_id,
        "filing_number": filing.filing_number, "filing_version": filing.version, "algorithm": filing.name,
        "organization": {"code": org.code, "name": org.name},
        "institution": {"code": inst.code, "name": inst.name},
        "model_sha256": request.model_sha256, "model_endpoint": request.endpoint_url or None,
        "data_sha256": request.data_sha256,
        "plan_sha256": request.plan_sha256, "result_sha256": request.result_sha256,
        "results_summary": result.get("summary", {}), "passed": result.get("passed"), "checks": checks,
        "engine_version": result.get("engine", {}).get("version", ENGINE_VERSION),
        "issued_at": issued_at.isoformat(), "issued_by": user.username,
        "verification_path": reverse("algorithms:certificate_verify", args=[certificate_id]),
    }


def issue(user, request: EvaluationRequest) -> EvaluationCertificate:
    """The institution issues the report: a certificate signed with the platform key is created."""
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        erased = _erase_credential(request)  # already erased when the run completed; kept as a safeguard
        EVALUATION.apply(request, "issue", user)
        now = timezone.now()
        certificate_id = f"EC-{timezone.localtime(now).year}-{secrets.token_hex(6).upper()}"
        payload = _certificate_payload(request, certificate_id, now, user)
        text, signature = signing.sign(payload)
        certificate = EvaluationCertificate.objects.create(
            certificate_id=certificate_id, request=request, payload=text, signature=signature,
            key_fingerprint=signing.fingerprint(), issued_at=now, issued_by=user)
        audit.record(user, "evaluation.issue", request, {
            "certificate": certificate_id, "payload_sha256": hashlib.sha256(text.encode()).hexdigest(),
            **({"credential_erased": True} if erased else {})})
        notify(_owners(request), _("测评报告已出具，证书编号 %(id)s") % {"id": certificate_id}, _url(request))
    return certificate


def revoke(user, request: EvaluationRequest, reason: str) -> EvaluationCertificate:
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request.pk)
        EVALUATION.apply(request, "revoke", user, reason)
        certificate = EvaluationCertificate.objects.select_for_update().get(request=request)
        certificate.revoked_at, certificate.revoked_by, certificate.revoke_reason = timezone.now(), user, reason
        certificate.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        audit.record(user, "evaluation.revoke", request, {"certificate": certificate.certificate_id, "reason": reason})
        catalog_actions.suspend_for_revoked_certificate(certificate, user)
        notify(_owners(request), _("测评证书 %(id)s 已被撤销：%(r)s") % {"id": certificate.certificate_id, "r": reason},
               _url(request))
    return certificate


# ---- called by the background task (system transitions, no user guard) ----

def mark_running(request_id: int, attempt: int) -> EvaluationRequest | None:
    with transaction.atomic():
        request = EvaluationRequest.objects.select_for_update().get(pk=request_id)
        if request.state != EvaluationState.ACCEPTED or request.attempt != attempt:
            return None  # cancelled, superseded by a retry, or already run: nothing to do
        EVALUATION.apply(request, "start", None, system=True)
        now = timezone.now()
        request.started_at = request.heartbeat_at = now
        request.finished_at = None
        request.progress, request.stage = 0, "validate"
        request.save(update_fields=["started_at", "heartbeat_at", "finished_at", "progress", "stage"])
        audit.record(None, "evaluation.start", request, {"attempt": attempt})
        return request


def record_progress(request_id: int, attempt: int, percent: int, stage: str) -> None:
    EvaluationRequest.objects.filter(pk=request_id, attempt=attempt, state=EvaluationState.RUNNING).update(
        progress=percent, stage=stage[:40], heartbeat_at=timezone.now())


def _current(request_id: int, attempt: int) -> EvaluationRequest | None:
    request = EvaluationRequest.objects.select_for_update().get(pk=request_id)
    if request.state != EvaluationState.RUNNING or request.attempt != attempt:
        return None  # retried meanwhile: this late result belongs to an abandoned attempt
    return request


def mark_completed(request_id: int, attempt: int, document: dict[str, Any], report_html: str) -> None:
    body = json.dumps(document, ensure_ascii=False, indent=1).encode()
    with transaction.atomic():
        request = _current(request_id, attempt)
        if request is None:
            return
        request.result_file.save("result.json", ContentFile(body), save=False)
        request.report_file.save("report.html", ContentFile(report_html.encode()), save=False)
        request.result_sha256 = hashlib.sha256(body).hexdigest()
        request.passed = document.get("passed")
        summary = document.get("summary") or {}
        request.summary_zh = "\n".join(summary.get("zh", []))
        request.summary_en = "\n".join(summary.get("en", []))
        request.progress, request.stage, request.finished_at = 100, "done", timezone.now()
        # No transition leads from completed to another run: the endpoint credential is not needed any more.
        erased = _erase_credential(request)
        EVALUATION.apply(request, "complete", None, system=True)
        audit.record(None, "evaluation.complete", request, {"attempt": attempt, "passed": request.passed,
                                                            "result_sha256": request.result_sha256,
                                                            "credential_erased": erased})
        notify(_institution(request), _("测评已完成，待出具报告：%(name)s") % {"name": request.filing.name},
               _url(request))


def mark_failed(request_id: int, attempt: int, reason: str, kind: str = "",
                untrusted_types: list[str] | None = None) -> None:
    """The run stopped on bad input (or an internal error): the request fails with the one-line reason
    and its kind (shown in plain words), and the institution can retry it. Nothing stored is touched.
    `untrusted_types`: the types the run found the skops file would create (a request submitted before
    types were listed, or a list that differs), stored so the institution can review them."""
    reason = (reason.strip().splitlines() or [""])[0][:1000]
    with transaction.atomic():
        request = _current(request_id, attempt)
        if request is None:
            return
        request.failure_reason, request.failure_kind = reason, kind
        request.finished_at = timezone.now()
        data: dict[str, Any] = {"attempt": attempt, "reason": reason, "kind": kind}
        if untrusted_types is not None and sorted(untrusted_types) != sorted(request.untrusted_types or []):
            data["untrusted_types"] = {"before": request.untrusted_types, "found": sorted(untrusted_types)}
            request.untrusted_types = sorted(untrusted_types)
        EVALUATION.apply(request, "fail", None, reason, system=True)
        audit.record(None, "evaluation.fail", request, data)
        notify([*_institution(request), *_owners(request)],
               _("测评失败：%(name)s — %(r)s") % {"name": request.filing.name, "r": reason}, _url(request))
