"""Pages for evaluation requests (enterprise and institution), certificates and their public verification.
Every write calls an action in evaluation_actions; every read goes through the permission policy."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from gaodi.apps.core.permissions import can, get_visible_or_404, visible
from gaodi.apps.core.uploads import install_upload_limit

from . import evaluation_actions as actions
from . import evaluation_signing as signing
from . import evaluation_trust as trust
from .catalog_actions import ineligibility
from .evaluation_forms import EndpointCredentialForm, EvaluationRequestForm, TypeApprovalForm, upload_limits
from .evaluation_models import EvaluationCertificate, EvaluationRequest, EvaluationState, FailureKind
from .evaluation_pdf import local_time, render_certificate
from .evaluation_policies import institution_ids, is_stale
from .evaluation_workflows import EVALUATION, institution_transitions
from .models import AlgorithmFiling, State
from .policies import enterprise_ids
from .views import _errors_to_form, _messages

POLLING_STATES = (EvaluationState.ACCEPTED, EvaluationState.RUNNING)


@sensitive_post_parameters("endpoint_secret")
@csrf_exempt  # CSRF is checked in _create, after the streaming size limit is installed (core.uploads.LimitedUploadHandler)
@login_required
def evaluation_create(request, pk: int):
    handler = install_upload_limit(request, upload_limits()) if request.method == "POST" else None
    return _create(request, pk, handler)


@csrf_protect
def _create(request, pk: int, handler):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    if filing.organization_id not in enterprise_ids(request.user):
        raise Http404
    if filing.state != State.APPROVED:
        messages.error(request, _("只有已备案的算法可以申请测评。"))
        return redirect("algorithms:workspace_detail", pk=filing.pk)
    oversize = handler.oversize if handler else {}
    form = EvaluationRequestForm(request.POST or None, request.FILES or None, oversize=oversize)
    if request.method == "POST" and form.is_valid():
        try:
            evaluation = actions.request_evaluation(request.user, filing, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("测评申请已提交，等待检测评估机构受理。"))
            return redirect("algorithms:evaluation_detail", pk=evaluation.pk)
    return render(request, "algorithms/evaluations/request_form.html", {"form": form, "filing": filing})


@login_required
def evaluation_list(request):
    qs = visible(request.user, EvaluationRequest).select_related("filing", "organization", "institution")
    state = request.GET.get("state")
    if state in EvaluationState.values:
        qs = qs.filter(state=state)
    return render(request, "algorithms/evaluations/list.html", {
        "requests": qs[:200], "states": EvaluationState.choices, "state": state,
        "is_institution": bool(institution_ids(request.user)),
        "approved_filings": AlgorithmFiling.objects.filter(organization_id__in=enterprise_ids(request.user),
                                                           state=State.APPROVED).order_by("name")[:200],
    })


def _types_context(request, evaluation: EvaluationRequest, form: TypeApprovalForm | None = None) -> dict[str, Any]:
    """The skops file's types beyond skops' safe set, each approved, pending or refused (with why), and
    the institution's approval form while some can still be approved."""
    review = trust.review(evaluation)
    approvable = [t.name for t in review if t.status == "pending"]
    may_approve = (approvable and evaluation.state in actions.APPROVABLE_STATES
                   and can(request.user, "evaluate", evaluation)
                   and evaluation.organization_id not in enterprise_ids(request.user))
    if may_approve and form is None:
        form = TypeApprovalForm(request=evaluation)
    return {"type_review": review, "types_pending": [t.name for t in review if t.status != "approved"],
            "types_refused": [t.name for t in review if t.status == "refused"],
            "types_approvable": approvable, "type_form": form if may_approve else None}


def _credential_context(request, evaluation: EvaluationRequest,
                        form: EndpointCredentialForm | None = None) -> dict[str, Any]:
    """The endpoint credential panel: whether one is set and in which header (both sides), the last 4
    characters of a long one (the enterprise only), and the enterprise's replace/remove form while the
    request is not running. The value itself is never on the page."""
    may_change = (bool(evaluation.endpoint_url) and evaluation.state in actions.CREDENTIAL_STATES
                  and can(request.user, "credential", evaluation))
    if may_change and form is None:
        form = EndpointCredentialForm(initial={"endpoint_header": evaluation.endpoint_header or None})
    return {"credential_form": form if may_change else None,
            "credential_hint": evaluation.endpoint_secret_hint if can(request.user, "credential", evaluation) else ""}


def _detail_context(request, evaluation: EvaluationRequest) -> dict[str, Any]:
    transitions = institution_transitions(request.user, evaluation)
    is_owner = evaluation.organization_id in enterprise_ids(request.user)
    certificate = EvaluationCertificate.objects.filter(request=evaluation).first()
    return {
        **_types_context(request, evaluation), **_credential_context(request, evaluation),
        "evaluation": evaluation, "transitions": transitions, "polling": evaluation.state in POLLING_STATES,
        "stale": is_stale(evaluation), "history": EVALUATION.history(evaluation), "certificate": certificate,
        "is_institution": can(request.user, "evaluate", evaluation), "is_owner": is_owner,
        "failure_label": _failure_label(evaluation),
        # The nomination button shows only when the action would accept it (passing, certified, not
        # revoked, not already pending or listed).
        "can_nominate": is_owner and certificate is not None and ineligibility(evaluation) is None,
    }


def _failure_label(evaluation: EvaluationRequest) -> str:
    if evaluation.state != EvaluationState.FAILED:
        return ""
    try:
        return str(FailureKind(evaluation.failure_kind).label)
    except ValueError:
        return ""


@login_required
def evaluation_detail(request, pk: int):
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    return render(request, "algorithms/evaluations/detail.html", _detail_context(request, evaluation))


@login_required
def evaluation_progress(request, pk: int):
    """The status panel alone, polled by HTMX while the run is queued or running."""
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    return render(request, "algorithms/evaluations/includes/status.html", _detail_context(request, evaluation))


@login_required
@require_POST
def evaluation_transition(request, pk: int, name: str):
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    comment = (request.POST.get("comment") or "").strip()
    handlers = {
        "accept": lambda: actions.accept(request.user, evaluation),
        "decline": lambda: actions.decline(request.user, evaluation, comment),
        "retry": lambda: actions.retry(request.user, evaluation, comment),
        "issue": lambda: actions.issue(request.user, evaluation),
        "revoke": lambda: actions.revoke(request.user, evaluation, comment),
    }
    if name not in handlers:
        raise Http404
    if not can(request.user, "evaluate", evaluation):
        raise PermissionDenied(_("只有受理该申请的检测评估机构可以执行此操作。"))
    if len(comment) > 2000:
        messages.error(request, _("理由不能超过 2000 字，请精简后重新提交。"))
        return redirect("algorithms:evaluation_detail", pk=pk)
    try:
        handlers[name]()
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
    else:
        messages.success(request, _("操作已完成。"))
    return redirect("algorithms:evaluation_detail", pk=pk)


@login_required
@require_POST
def evaluation_approve_types(request, pk: int):
    """The institution approves types the skops model file would create (evaluation_actions.approve_types)."""
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    if not can(request.user, "evaluate", evaluation):
        raise PermissionDenied(_("只有受理该申请的检测评估机构可以批准模型文件中的类型。"))
    form = TypeApprovalForm(request.POST, request=evaluation)
    if form.is_valid():
        try:
            approval = actions.approve_types(request.user, evaluation, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("已批准：%(types)s。") % {"types": "、".join(approval.types)})
            return redirect("algorithms:evaluation_detail", pk=pk)
    context = {**_detail_context(request, evaluation), **_types_context(request, evaluation, form)}
    if context["type_form"] is None:  # nothing is left to approve here (e.g. the run already completed)
        messages.error(request, "；".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("algorithms:evaluation_detail", pk=pk)
    return render(request, "algorithms/evaluations/detail.html", context)


@sensitive_post_parameters("endpoint_secret")
@login_required
@require_POST
def evaluation_endpoint_credential(request, pk: int):
    """The enterprise sets, replaces or removes its endpoint's credential (evaluation_actions.set_endpoint_credential)."""
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    if not can(request.user, "credential", evaluation):
        raise PermissionDenied(_("只有申请企业可以设置预测接口凭据。"))
    form = EndpointCredentialForm(request.POST)
    if form.is_valid():
        try:
            actions.set_endpoint_credential(request.user, evaluation, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("预测接口凭据已删除。") if form.cleaned_data.get("remove")
                             else _("预测接口凭据已加密保存。"))
            return redirect("algorithms:evaluation_detail", pk=pk)
    context = {**_detail_context(request, evaluation), **_credential_context(request, evaluation, form)}
    if context["credential_form"] is None:  # the request is running or finished: nothing can be changed now
        messages.error(request, "；".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("algorithms:evaluation_detail", pk=pk)
    return render(request, "algorithms/evaluations/detail.html", context, status=200)


@login_required
def evaluation_file(request, pk: int, kind: str):
    evaluation = get_visible_or_404(request.user, EvaluationRequest, pk=pk)
    field = {"report": evaluation.report_file, "result": evaluation.result_file}.get(kind)
    if not field:
        raise Http404
    if kind == "result":
        return FileResponse(field.open("rb"), as_attachment=True, filename=f"evaluation-{pk}-result.json",
                            content_type="application/json")
    response = FileResponse(field.open("rb"), content_type="text/html; charset=utf-8")
    # The engine's self-contained report: shown, but sandboxed (no scripts, no same-origin access).
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- public: certificates and their verification (Art. 10) --------------------------------------

def _certificate(certificate_id: str) -> EvaluationCertificate | None:
    return (EvaluationCertificate.objects.select_related("request__filing", "request__institution")
            .filter(certificate_id=certificate_id).first())


def verification(certificate: EvaluationCertificate, document: dict | None = None) -> dict[str, Any]:
    """Whether a certificate is genuine (the platform key signed it), unaltered (the payload is the one
    issued and its hashes match the stored evaluation) and not revoked. With `document` (a pasted
    certificate.json) the document itself is checked."""
    stored = json.loads(certificate.payload)
    if document is None:
        payload, signature = stored, certificate.signature
    else:
        payload = document.get("certificate") if isinstance(document.get("certificate"), dict) else {}
        signature = document.get("signature") if isinstance(document.get("signature"), str) else ""
    genuine = signing.verify(payload, signature)
    req = certificate.request
    unaltered = genuine and signing.canonical(payload) == certificate.payload.encode() and all(
        stored.get(key) == getattr(req, key) for key in ("model_sha256", "data_sha256", "plan_sha256", "result_sha256"))
    revoked = certificate.revoked_at is not None
    return {"genuine": genuine, "unaltered": unaltered, "revoked": revoked, "valid": genuine and unaltered and not revoked}


def certificate_verify(request, certificate_id: str):
    certificate = _certificate(certificate_id)
    if certificate is None:
        return render(request, "algorithms/evaluations/verify.html", {"certificate_id": certificate_id}, status=404)
    document, error = None, ""
    if request.method == "POST":
        try:
            document = json.loads(request.POST.get("document") or "")
            if not isinstance(document, dict):
                raise ValueError
        except ValueError:
            document, error = None, _("粘贴的内容不是证书 JSON，请粘贴下载的 certificate.json 的全部内容。")
    status = verification(certificate, document) if not error else None
    return render(request, "algorithms/evaluations/verify.html", {
        "certificate": certificate, "certificate_id": certificate_id, "payload": json.loads(certificate.payload),
        "status": status, "checked_document": document is not None, "error": error,
        "fingerprint": signing.fingerprint(),
    })


def certificate_json(request, certificate_id: str):
    certificate = _certificate(certificate_id)
    if certificate is None:
        raise Http404
    body = json.dumps(signing.document(certificate.payload, certificate.signature, certificate.key_fingerprint),
                      ensure_ascii=False, indent=1)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{certificate.certificate_id}.json"'
    return response


def _qr_svg(url: str) -> str:
    import qrcode
    import qrcode.image.svg

    svg = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string(encoding="unicode")
    return svg[svg.find("<svg"):]


def certificate_view(request, certificate_id: str):
    certificate = get_object_or_404(EvaluationCertificate.objects.select_related("request__filing"),
                                    certificate_id=certificate_id)
    payload = json.loads(certificate.payload)
    url = request.build_absolute_uri(reverse("algorithms:certificate_verify", args=[certificate.certificate_id]))
    return render(request, "algorithms/evaluations/certificate.html", {
        "certificate": certificate, "payload": payload, "verify_url": url, "qr_svg": _qr_svg(url),
        "issued_at_local": local_time(payload.get("issued_at")),
        "status": verification(certificate),
    })


def certificate_pdf(request, certificate_id: str):
    """The certificate as a PDF with the QR code and link of its public verification page."""
    certificate = get_object_or_404(EvaluationCertificate, certificate_id=certificate_id)
    payload = json.loads(certificate.payload)
    url = request.build_absolute_uri(reverse("algorithms:certificate_verify", args=[certificate.certificate_id]))
    body = render_certificate(payload, certificate_id=certificate.certificate_id, signature=certificate.signature,
                              key_fingerprint=certificate.key_fingerprint, verify_url=url,
                              revoked_reason=certificate.revoke_reason if certificate.revoked_at else None)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{certificate.certificate_id}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def public_key(request):
    response = HttpResponse(signing.public_key_pem(), content_type="application/x-pem-file")
    response["Content-Disposition"] = 'inline; filename="gaodi-ed25519-public-key.pem"'
    return response
