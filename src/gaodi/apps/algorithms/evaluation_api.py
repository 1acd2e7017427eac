"""API for evaluation requests, certificates and the recommended catalog (Art. 10, 15).

The same rules as the web pages: reads go through the permission policies (an object the caller may
not see is a 404), writes go through the same forms and actions (evaluation_actions, catalog_actions).
Certificates, their verification and the public key are public; so is the catalog.
"""


from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ConfigDict

from gaodi.apps.core.api import (
    ERRORS,
    PUBLIC_AUTH,
    MessageOut,
    PageParams,
    api,
    current_user,
    page,
    raise_form_errors,
)
from gaodi.apps.core.choices import District
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import can, get_visible_or_404, visible
from gaodi.apps.core.uploads import install_upload_limit

from . import catalog_actions
from . import evaluation_actions as actions
from . import evaluation_signing as signing
from . import evaluation_trust as trust
from .api import OrgRef
from .catalog_forms import NominationForm
from .catalog_models import CatalogEntry
from .catalog_views import filter_catalog
from .catalog_workflows import CATALOG, OWNER_TRANSITIONS, REVIEW_TRANSITIONS
from .evaluation_forms import EndpointCredentialForm, EvaluationRequestForm, TypeApprovalForm, upload_limits
from .evaluation_models import EvaluationCertificate, EvaluationRequest, EvaluationState, FailureKind
from .evaluation_policies import is_stale
from .evaluation_views import verification
from .evaluation_workflows import EVALUATION, INSTITUTION_TRANSITIONS, institution_transitions
from .forms import CommentForm
from .models import AlgorithmFiling, Category, State
from .policies import enterprise_ids

router = Router(tags=["evaluations 测试评估与推荐目录"])


def _values(choices) -> str:
    return ", ".join(choices.values)


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


# ---- schemas ------------------------------------------------------------------------------------

class TransitionRef(Schema):
    name: str = Field(..., description="操作名，用于 POST …/transitions/{name} Transition name")
    label: str = Field(..., description="操作名称 Label")
    comment_required: bool = Field(..., description="须填写理由 A comment is required")


class HistoryRef(Schema):
    transition: str
    from_state: str
    to_state: str
    actor: str = Field("", description="操作人（系统操作为空）Actor (empty for system steps)")
    comment: str
    created_at: datetime


class CertificateRef(Schema):
    certificate_id: str = Field(..., description="证书编号 Certificate id")
    issued_at: datetime
    revoked: bool
    verification_url: str = Field(..., description="公开验证页 Public verification page")
    pdf_url: str = Field(..., description="证书 PDF")


class EvaluationListItem(Schema):
    id: int
    filing_id: int
    filing_number: str
    algorithm: str = Field(..., description="算法名称 Algorithm name")
    organization: OrgRef = Field(..., description="申请企业 Requesting enterprise")
    institution: OrgRef = Field(..., description="检测评估机构 Testing institution")
    state: str = Field(..., description=f"状态 State: {_values(EvaluationState)}")
    state_label: str
    model_source: str = Field(..., description="file（上传的模型文件）或 endpoint（预测接口）Model source")
    progress: int = Field(..., description="进度（%）Progress in percent")
    deadline: date | None = None
    created_at: datetime


class TypeReviewRef(Schema):
    name: str = Field(..., description="类型全名 Type, e.g. numpy.dtype")
    status: str = Field(..., description="approved（已批准）、pending（待机构批准）或 refused（看起来危险，任何人都不能批准）")
    reason: str = Field("", description="不能批准的原因 Why it can never be approved (refused)")
    approved_by: str = Field("", description="批准人 Who approved it")
    approved_at: datetime | None = None
    note: str = Field("", description="批准时的审查说明 The approval's note")


class EndpointCredentialOut(Schema):
    set: bool = Field(..., description="是否已设置凭据 Whether a credential is stored (encrypted)")
    header: str = Field("", description="凭据所在的请求头 The header it is sent in")
    hint: str = Field("", description="凭据末尾 4 个字符（仅申请企业可见，且仅当凭据不少于 16 个字符）"
                                      "Last 4 characters: the enterprise only, and only for secrets of 16+ characters")
    set_at: datetime | None = None
    erased_at: datetime | None = Field(None, description="评估结束后平台删除凭据的时间 When the platform erased it")


class EndpointCredentialIn(Schema):
    model_config = ConfigDict(extra="forbid")
    endpoint_header: str = Field("Authorization", description="请求头：Authorization、X-API-Key、Api-Key 或其他 X- 开头的名称")
    endpoint_secret: str = Field("", description="凭据值（请求头的完整值）The header's full value; never returned")
    remove: bool = Field(False, description="删除凭据 Remove the credential")


class EvaluationOut(EvaluationListItem):
    model_name: str = Field("", description="模型原文件名 Model file name (file source)")
    model_format: str = Field(..., description="onnx、skops 或 http")
    model_sha256: str = ""
    endpoint_url: str = Field("", description="预测接口地址 Endpoint URL (endpoint source)")
    endpoint_credential: EndpointCredentialOut | None = Field(
        None, description="预测接口凭据（从不返回凭据值）The endpoint's credential, never its value; null for model files")
    untrusted_types: list[str] = Field(..., description="skops 文件会创建、且不在 skops 默认安全范围内的类型，须由机构批准 "
                                                        "Types the skops file would create beyond skops' safe set")
    approved_types: list[str] = Field(..., description="机构已批准的类型；运行时正是以这些类型作为 trusted "
                                                       "Types the institution approved: the run's trusted=")
    type_review: list[TypeReviewRef] = Field(..., description="每个类型的审查状态 Each type's status")
    data_name: str
    data_sha256: str
    plan: str = Field(..., description="测试方案（TOML）Test plan")
    plan_sha256: str
    attempt: int = Field(..., description="第几次运行 Run attempt")
    stage: str = Field("", description="当前步骤 Engine step")
    stale: bool = Field(..., description="运行中但已超时无进展，可重新运行 Running but silent past the timeout")
    failure_kind: str = Field("", description=f"失败类别 Failure kind: {_values(FailureKind)}")
    failure_label: str = Field("", description="失败类别说明 Failure in plain words")
    failure_reason: str = Field("", description="引擎给出的失败详情 The engine's one-line detail")
    passed: bool | None = None
    summary_zh: list[str]
    summary_en: list[str]
    report_url: str = Field("", description="评估报告（HTML）Report page")
    certificate: CertificateRef | None = None
    nomination_allowed: bool = Field(False, description="可申报推荐目录 May be nominated for the catalog now")
    transitions: list[TransitionRef]
    history: list[HistoryRef]


class EvaluationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[EvaluationListItem]


class EvaluationFilter(PageParams):
    state: str | None = Field(None, description=f"状态 State: {_values(EvaluationState)}")


class ProgressOut(Schema):
    state: str
    state_label: str
    progress: int
    stage: str
    stale: bool
    failure_kind: str
    failure_label: str
    failure_reason: str


class ReasonIn(Schema):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", description="理由（不予受理、撤销证书、不予列入、移出、撤回须填写）Reason; required for "
                                         "decline, revoke, reject, remove and withdraw")


class TypeApprovalIn(Schema):
    model_config = ConfigDict(extra="forbid")
    types: list[str] = Field(..., description="要批准的类型（须为 untrusted_types 中待批准的）Types to approve")
    note: str = Field(..., description="审查说明（必填，记入审计）Why they are safe (required, audited)")


class VerificationOut(Schema):
    certificate_id: str
    valid: bool = Field(..., description="真实、未篡改且未撤销 Genuine, unaltered and not revoked")
    genuine: bool = Field(..., description="签名可用平台公钥验证 The signature verifies with the platform key")
    unaltered: bool = Field(..., description="与平台签发的一致 Same as issued")
    revoked: bool
    revoked_at: datetime | None = None
    revoke_reason: str = ""


class CertificateOut(VerificationOut):
    document: dict[str, Any] = Field(..., description="签名的证书文档（certificate.json）The signed document")
    verification_url: str
    pdf_url: str
    json_url: str


class DocumentIn(Schema):
    document: dict[str, Any] = Field(..., description="certificate.json 的内容 The certificate.json to check")


class PublicKeyOut(Schema):
    algorithm: str = Field("Ed25519")
    pem: str = Field(..., description="SubjectPublicKeyInfo PEM")
    sha256: str = Field(..., description="公钥（DER）的 SHA-256 指纹 Fingerprint of the DER public key")


class CatalogItem(Schema):
    id: int
    filing_id: int
    filing_number: str
    algorithm: str
    organization: OrgRef
    department: OrgRef = Field(..., description="审核部门 Reviewing department")
    category: str = Field(..., description=f"算法类别 Category: {_values(Category)}")
    category_label: str
    district: str
    district_label: str
    domain: str
    certificate_id: str
    institution: str = Field(..., description="检测评估机构 Testing institution")
    state: str = Field(..., description="状态 State: pending, approved, rejected, withdrawn, removed, suspended")
    status: str = Field(..., description="listed（在目录中）、suspended、withdrawn、removed、pending、rejected")
    status_label: str
    listed_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str = ""
    justification: str
    verification_url: str


class CatalogOut(CatalogItem):
    deadline: date | None = None
    decision_comment: str = ""
    transitions: list[TransitionRef]


class CatalogPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CatalogItem]


class CatalogFilter(PageParams):
    q: str | None = Field(None, description="搜索（中文分词，简繁通用）Search words")
    category: str | None = Field(None, description=f"算法类别 Category: {_values(Category)}")
    district: str | None = Field(None, description="所在区代码 District code")
    status: str | None = Field(None, description="listed（默认）、suspended、ended（撤回或移出）或 all")


class NominationIn(Schema):
    model_config = ConfigDict(extra="forbid")
    evaluation: int = Field(..., description="已出具证书且通过的测评申请 ID The issued, passing evaluation")
    justification: str = Field(..., description="推荐理由（10–2000 字）Justification")


# ---- serialisation ------------------------------------------------------------------------------

def _org(org: Organization) -> dict:
    return {"id": org.pk, "name": org.name, "code": org.code}


def _transitions(workflow, names, user, obj) -> list[dict]:
    return [{"name": t.name, "label": str(t.label), "comment_required": t.comment_required}
            for t in workflow.available(user, obj) if t.name in names]


def _history(workflow, obj) -> list[dict]:
    return [{"transition": h.transition, "from_state": h.from_state, "to_state": h.to_state,
             "actor": str(h.actor) if h.actor else "", "comment": h.comment, "created_at": h.created_at}
            for h in workflow.history(obj)]


def _certificate_ref(certificate: EvaluationCertificate | None) -> dict | None:
    if certificate is None:
        return None
    cid = certificate.certificate_id
    return {"certificate_id": cid, "issued_at": certificate.issued_at, "revoked": certificate.revoked_at is not None,
            "verification_url": reverse("algorithms:certificate_verify", args=[cid]),
            "pdf_url": reverse("algorithms:certificate_pdf", args=[cid])}


def _failure_label(r: EvaluationRequest) -> str:
    return _label(FailureKind, r.failure_kind) if r.state == EvaluationState.FAILED and r.failure_kind else ""


def _item(r: EvaluationRequest) -> dict:
    return {"id": r.pk, "filing_id": r.filing_id, "filing_number": r.filing.filing_number, "algorithm": r.filing.name,
            "organization": _org(r.organization), "institution": _org(r.institution), "state": r.state,
            "state_label": _label(EvaluationState, r.state), "model_source": "endpoint" if r.endpoint_url else "file",
            "progress": r.progress, "deadline": r.deadline, "created_at": r.created_at}


def _credential(user, r: EvaluationRequest) -> dict | None:
    if not r.endpoint_url:
        return None
    owner = can(user, "credential", r)
    return {"set": r.has_endpoint_credential, "header": r.endpoint_header if r.has_endpoint_credential else "",
            "hint": r.endpoint_secret_hint if owner else "", "set_at": r.endpoint_secret_set_at,
            "erased_at": r.endpoint_secret_erased_at}


def _detail(user, r: EvaluationRequest) -> dict:
    certificate = EvaluationCertificate.objects.filter(request=r).first()
    owner = r.organization_id in enterprise_ids(user)
    return {
        **_item(r), "model_name": r.model_name, "model_format": r.model_format, "model_sha256": r.model_sha256,
        "endpoint_url": r.endpoint_url, "endpoint_credential": _credential(user, r), "untrusted_types": list(r.untrusted_types or []),
        "approved_types": trust.approved_types(r), "type_review": [asdict(t) for t in trust.review(r)],
        "data_name": r.data_name, "data_sha256": r.data_sha256, "plan": r.plan_text,
        "plan_sha256": r.plan_sha256, "attempt": r.attempt, "stage": r.stage, "stale": is_stale(r),
        "failure_kind": r.failure_kind, "failure_label": _failure_label(r), "failure_reason": r.failure_reason,
        "passed": r.passed, "summary_zh": r.summary_zh.splitlines(), "summary_en": r.summary_en.splitlines(),
        "report_url": reverse("algorithms:evaluation_file", args=[r.pk, "report"]) if r.report_file else "",
        "certificate": _certificate_ref(certificate),
        "nomination_allowed": owner and certificate is not None and catalog_actions.ineligibility(r) is None,
        "transitions": [{"name": t.name, "label": str(t.label), "comment_required": t.comment_required}
                        for t in institution_transitions(user, r)],
        "history": _history(EVALUATION, r),
    }


def _requests():
    return EvaluationRequest.objects.select_related("filing", "organization", "institution")


def _reload(user, pk: int) -> EvaluationRequest:
    return get_visible_or_404(user, EvaluationRequest, pk=pk)


def _comment(payload: ReasonIn | None) -> str:
    form = CommentForm(data={"comment": payload.comment if payload else ""})
    if not form.is_valid():
        raise_form_errors(form)
    return form.cleaned_data["comment"].strip()


def _entry(e: CatalogEntry) -> dict:
    f, certificate = e.filing, e.certificate
    return {
        "id": e.pk, "filing_id": f.pk, "filing_number": f.filing_number, "algorithm": f.name,
        "organization": _org(e.organization), "department": _org(e.department), "category": f.category,
        "category_label": _label(Category, f.category), "district": f.district,
        "district_label": _label(District, f.district), "domain": f.domain,
        "certificate_id": certificate.certificate_id, "institution": certificate.request.institution.name,
        "state": e.state, "status": "listed" if e.is_listed else e.status_key, "status_label": e.public_status,
        "listed_at": e.listed_at, "ended_at": e.ended_at, "end_reason": e.end_reason,
        "justification": e.justification,
        "verification_url": reverse("algorithms:certificate_verify", args=[certificate.certificate_id]),
    }


def _entry_detail(user, e: CatalogEntry) -> dict:
    return {**_entry(e), "deadline": e.deadline, "decision_comment": e.decision_comment,
            "transitions": _transitions(CATALOG, (*REVIEW_TRANSITIONS, *OWNER_TRANSITIONS), user, e)}


def _entries():
    return CatalogEntry.objects.select_related("filing", "organization", "department", "certificate",
                                               "certificate__request__institution")


# ---- evaluation requests ------------------------------------------------------------------------

@router.get("/evaluations", response={200: EvaluationPage, **ERRORS}, summary="我可见的测评申请 Evaluation requests")
def list_evaluations(request, filters: Query[EvaluationFilter]):
    """本企业提交的、或本机构受理的测评申请，最新在前。Your enterprise's requests, or your institution's."""
    user = current_user(request)
    qs = visible(user, EvaluationRequest, _requests())
    if filters.state:
        if filters.state not in EvaluationState.values:
            raise ValidationError({"state": _("未知状态：%(s)s") % {"s": filters.state}})
        qs = qs.filter(state=filters.state)
    return page(qs.order_by("-created_at", "-id"), filters, _item)


@router.get("/evaluations/{evaluation_id}", response={200: EvaluationOut, **ERRORS}, summary="一项测评申请 One request")
def get_evaluation(request, evaluation_id: int):
    user = current_user(request)
    return _detail(user, _reload(user, evaluation_id))


@router.get("/evaluations/{evaluation_id}/progress", response={200: ProgressOut, **ERRORS},
            summary="运行进度 Progress of the run")
def get_progress(request, evaluation_id: int):
    """排队或运行中时轮询：进度百分比、引擎步骤；失败时给出类别与详情。Poll while queued or running."""
    r = _reload(current_user(request), evaluation_id)
    return {"state": r.state, "state_label": _label(EvaluationState, r.state), "progress": r.progress,
            "stage": r.stage, "stale": is_stale(r), "failure_kind": r.failure_kind,
            "failure_label": _failure_label(r), "failure_reason": r.failure_reason}


_MULTIPART = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["filing", "institution", "data", "plan"],
    "properties": {
        "filing": {"type": "integer", "description": "已备案算法的 ID The approved filing"},
        "institution": {"type": "integer", "description": "检测评估机构的 ID The testing institution"},
        "model": {"type": "string", "format": "binary", "description": "ONNX 或 skops 文件（与 endpoint_url 二选一）"},
        "endpoint_url": {"type": "string", "description": "HTTP 预测接口（与 model 二选一）Prediction endpoint"},
        "endpoint_header": {"type": "string", "default": "Authorization",
                            "description": "凭据请求头 Header for the credential: Authorization, X-API-Key, Api-Key, X-…"},
        "endpoint_secret": {"type": "string", "format": "password",
                            "description": "可选：接口凭据，加密保存，从不返回 Optional credential, stored encrypted, "
                                           "never returned"},
        "data": {"type": "string", "format": "binary", "description": "测试数据 CSV / Parquet / .xlsx"},
        "plan": {"type": "string", "description": "测试方案（TOML）Test plan"},
    }}}}}}


@router.post("/evaluations", response={201: EvaluationOut, **ERRORS}, openapi_extra=_MULTIPART,
             summary="申请测试评估 Request an evaluation")
def create_evaluation(request):
    """multipart/form-data：上传模型文件，或填写预测接口地址；测试数据与方案。与网页同一表单校验；
    超过大小上限的文件在接收时即被截断并报 422。
    multipart/form-data with a model file or an endpoint URL, the test data and the plan, validated by the
    same form as the web page; a file over its size limit is cut off while it streams in (422)."""
    user = current_user(request)
    request.sensitive_post_parameters = ["endpoint_secret"]  # kept out of error reports
    handler = install_upload_limit(request, upload_limits())
    filing_id = request.POST.get("filing", "")
    if not filing_id.isdigit():
        raise ValidationError({"filing": _("请用 filing 指定已备案算法的 ID。")})
    filing = get_visible_or_404(user, AlgorithmFiling, pk=int(filing_id))
    if filing.organization_id not in enterprise_ids(user):
        raise Http404
    if filing.state != State.APPROVED:
        raise ValidationError({"filing": _("只有已备案的算法可以申请测评。")})
    form = EvaluationRequestForm(request.POST, request.FILES, oversize=handler.oversize if handler else {})
    evaluation = actions.request_evaluation(user, filing, form)
    return Status(201, _detail(user, _reload(user, evaluation.pk)))


@router.post("/evaluations/{evaluation_id}/transitions/{name}", response={200: EvaluationOut, **ERRORS},
             summary="机构的流转操作 The institution's transitions")
def evaluation_transition(request, evaluation_id: int,
                          name: str = Path(..., description="操作名 Transition: " + ", ".join(INSTITUTION_TRANSITIONS)),  # noqa: B008
                          payload: ReasonIn | None = None):
    """accept（受理并排队运行）、decline（须填理由）、retry（失败或超时无进展后重新运行）、issue（出具报告并签发证书）、
    revoke（撤销证书，须填理由）。accept, decline (reason), retry, issue, revoke (reason)."""
    user = current_user(request)
    if name not in INSTITUTION_TRANSITIONS:
        raise Http404
    evaluation = _reload(user, evaluation_id)
    if not can(user, "evaluate", evaluation):
        raise PermissionDenied(_("只有受理该申请的检测评估机构可以执行此操作。"))
    comment = _comment(payload)
    handlers = {
        "accept": lambda: actions.accept(user, evaluation),
        "decline": lambda: actions.decline(user, evaluation, comment),
        "retry": lambda: actions.retry(user, evaluation, comment),
        "issue": lambda: actions.issue(user, evaluation),
        "revoke": lambda: actions.revoke(user, evaluation, comment),
    }
    handlers[name]()
    return _detail(user, _reload(user, evaluation.pk))


@router.post("/evaluations/{evaluation_id}/approve-types", response={200: EvaluationOut, **ERRORS},
             summary="机构批准模型文件中的类型 The institution approves a skops file's types")
def approve_types(request, evaluation_id: int, payload: TypeApprovalIn):
    """检测评估机构逐项批准 skops 模型文件会创建的类型（untrusted_types 中待批准的），须填写审查说明；
    看起来危险的类型（builtins、os、subprocess、pickle、functools.partial，或不属于 scikit-learn、NumPy、SciPy）
    会被拒绝（422，说明原因）。申请企业不能批准（403）。运行时正是以已批准的类型作为 trusted。
    The testing institution approves, by name, types the skops file would create (with a note); dangerous
    ones are refused with the reason (422); the enterprise may not (403). The run trusts exactly these."""
    user = current_user(request)
    evaluation = _reload(user, evaluation_id)
    if not can(user, "evaluate", evaluation):
        raise PermissionDenied(_("只有受理该申请的检测评估机构可以批准模型文件中的类型。"))
    form = TypeApprovalForm(data={"types": payload.types, "note": payload.note}, request=evaluation)
    actions.approve_types(user, evaluation, form)
    return _detail(user, _reload(user, evaluation.pk))


@router.post("/evaluations/{evaluation_id}/endpoint-credential", response={200: EvaluationOut, **ERRORS},
             summary="设置、替换或删除预测接口凭据 Set, replace or remove the endpoint credential")
def set_endpoint_credential(request, evaluation_id: int, payload: EndpointCredentialIn):
    """申请企业在评估未运行时（待受理、已受理排队中、评估失败）设置、替换或删除预测接口凭据：
    `{"endpoint_header": "X-API-Key", "endpoint_secret": "…"}`，或 `{"remove": true}`。凭据加密保存，任何接口都不返回其值；
    检测评估机构不能设置（403）。The requesting enterprise sets, replaces or removes the credential while no run
    is in progress; the value is stored encrypted and never returned; the institution may not (403)."""
    user = current_user(request)
    evaluation = _reload(user, evaluation_id)
    if not can(user, "credential", evaluation):
        raise PermissionDenied(_("只有申请企业可以设置预测接口凭据。"))
    form = EndpointCredentialForm(data=payload.model_dump())
    actions.set_endpoint_credential(user, evaluation, form)
    return _detail(user, _reload(user, evaluation.pk))


# ---- certificates: public -----------------------------------------------------------------------

def _certificate(certificate_id: str) -> EvaluationCertificate:
    certificate = (EvaluationCertificate.objects.select_related("request")
                   .filter(certificate_id=certificate_id).first())
    if certificate is None:
        raise Http404
    return certificate


def _status(certificate: EvaluationCertificate, status: dict) -> dict:
    return {"certificate_id": certificate.certificate_id, **status, "revoked_at": certificate.revoked_at,
            "revoke_reason": certificate.revoke_reason}


@router.get("/certificates/{certificate_id}", response={200: CertificateOut, 404: MessageOut}, auth=PUBLIC_AUTH,
            summary="验证证书 Verify a certificate")
def get_certificate(request, certificate_id: str):
    """证书是否真实、未被篡改、未被撤销，以及签名的证书文档。Whether the certificate is genuine, unaltered and
    not revoked, with the signed document (verify it offline with GET /public-key)."""
    certificate = _certificate(certificate_id)
    cid = certificate.certificate_id
    return {**_status(certificate, verification(certificate)),
            "document": signing.document(certificate.payload, certificate.signature, certificate.key_fingerprint),
            "verification_url": reverse("algorithms:certificate_verify", args=[cid]),
            "pdf_url": reverse("algorithms:certificate_pdf", args=[cid]),
            "json_url": reverse("algorithms:certificate_json", args=[cid])}


@router.post("/certificates/{certificate_id}/verify", response={200: VerificationOut, **ERRORS}, auth=PUBLIC_AUTH,
             summary="核验一份证书文档 Check a certificate document")
def verify_document(request, certificate_id: str, payload: DocumentIn):
    """核验手中的 certificate.json（签名、内容是否与平台签发的一致、是否已撤销）。Check a certificate.json you hold."""
    certificate = _certificate(certificate_id)
    return _status(certificate, verification(certificate, payload.document))


@router.get("/public-key", response=PublicKeyOut, auth=PUBLIC_AUTH, summary="平台签名公钥 The platform's public key")
def get_public_key(request):
    """离线验证证书用的 Ed25519 公钥（长三角互认，条例第十条）。The Ed25519 key for offline verification (Art. 10)."""
    return {"algorithm": "Ed25519", "pem": signing.public_key_pem().decode(), "sha256": signing.fingerprint()}


# ---- recommended catalog ------------------------------------------------------------------------

@router.get("/catalog", response={200: CatalogPage, 422: ERRORS[422]}, auth=PUBLIC_AUTH,
            summary="算法模型推荐目录 The recommended catalog")
def list_catalog(request, filters: Query[CatalogFilter]):
    """与公开页面相同的搜索与筛选；默认只列在目录中的条目。The public page's search and filters."""
    params = {k: v for k, v in filters.model_dump(include={"q", "category", "district", "status"}).items()
              if v is not None}
    qs, form = filter_catalog(_entries().public().order_by("-listed_at", "-id"), params)
    if not form.is_valid():
        raise_form_errors(form)
    return page(qs, filters, _entry)


@router.get("/catalog/{entry_id}", response={200: CatalogOut, **ERRORS}, auth=PUBLIC_AUTH,
            summary="一个目录条目 One catalog entry")
def get_catalog_entry(request, entry_id: int):
    """公开条目任何人可见；申报中的仅申报企业与审核部门可见。Public entries for all; nominations for the
    enterprise and the reviewing department."""
    user = current_user(request)
    return _entry_detail(user, get_visible_or_404(user, CatalogEntry, pk=entry_id))


@router.post("/catalog", response={201: CatalogOut, **ERRORS}, summary="申报推荐目录 Nominate a model")
def nominate(request, payload: NominationIn):
    user = current_user(request)
    evaluation = get_visible_or_404(user, EvaluationRequest, pk=payload.evaluation)
    if evaluation.organization_id not in enterprise_ids(user):
        raise Http404
    entry = catalog_actions.nominate(user, evaluation, NominationForm(data={"justification": payload.justification}))
    return Status(201, _entry_detail(user, _entries().get(pk=entry.pk)))


@router.post("/catalog/{entry_id}/transitions/{name}", response={200: CatalogOut, **ERRORS},
             summary="审核、移出或撤回 Decide, remove or withdraw")
def catalog_transition(request, entry_id: int,
                       name: str = Path(..., description="操作名 Transition: approve, reject, remove, withdraw"),  # noqa: B008
                       payload: ReasonIn | None = None):
    """审核部门：approve、reject（须填意见）、remove（移出目录，须填理由）；申报企业：withdraw（撤回，须填理由）。
    Department: approve, reject (comment), remove (reason). Enterprise: withdraw (reason)."""
    user = current_user(request)
    if name not in REVIEW_TRANSITIONS and name not in OWNER_TRANSITIONS:
        raise Http404
    entry = get_visible_or_404(user, CatalogEntry, pk=entry_id)
    if name in OWNER_TRANSITIONS and not can(user, "withdraw", entry):
        raise PermissionDenied(_("只有申报该条目的企业可以撤回。"))
    if name in REVIEW_TRANSITIONS and not can(user, "review", entry):
        raise PermissionDenied(_("只有该备案的审核部门可以审核推荐目录申报。"))
    comment = _comment(payload)
    {"approve": catalog_actions.approve, "reject": catalog_actions.reject, "remove": catalog_actions.remove,
     "withdraw": catalog_actions.withdraw}[name](user, entry, comment)
    return _entry_detail(user, _entries().get(pk=entry.pk))


api.add_router("/", router)
