"""API for algorithm filing (算法备案) and its periodic public disclosure (Art. 15).

The same rules as the web pages in views.py: reads go through the permission policy (an object the caller
may not see is a 404), writes are validated by the same forms and performed by the same actions.
"""

from datetime import date, datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Path, Query, Router, Schema, Status, UploadedFile
from pydantic import ConfigDict

from gaodi.apps.core import workflow
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
from gaodi.apps.core.choices import District, OrgKind, Role
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import can, get_visible_or_404, is_authenticated, require, visible

from . import actions
from .filters import PUBLIC_LIST_STATES, filter_public
from .forms import CONTENT_FIELDS, BatchForm, CommentForm, FilingForm, submission_errors
from .models import AlgorithmFiling, Category, DisclosureBatch, FilingRole, Kind, State
from .policies import department_ids, enterprise_ids
from .workflows import FILING, OWNER_TRANSITIONS, REVIEW_TRANSITIONS

router = Router(tags=["algorithms 算法备案"])

# Transitions the API offers: the owner's (web: owner_transition) and the department's (web: review_transition).
OWNER_NAMES = (*OWNER_TRANSITIONS, "request_change")
REVIEW_NAMES = REVIEW_TRANSITIONS


def _values(choices) -> str:
    return ", ".join(choices.values)


# ---- schemas ------------------------------------------------------------------------------------

class OrgRef(Schema):
    id: int
    name: str = Field(..., description="名称 Name")
    code: str = Field(..., description="平台编码 Platform code")


class FilingListItem(Schema):
    """公开字段 Public fields of a filing."""

    id: int
    filing_number: str = Field(..., description="备案编号（准予备案后颁发）Filing number, issued on approval")
    version: int = Field(..., description="版本 Version (a change filing is a new version)")
    kind: str = Field(..., description=f"备案类型 Kind: {_values(Kind)}")
    kind_label: str = Field(..., description="备案类型名称 Kind label")
    name: str = Field(..., description="算法名称 Algorithm name")
    organization: OrgRef = Field(..., description="备案主体 Filing enterprise")
    department: OrgRef = Field(..., description="受理部门 Reviewing department")
    category: str = Field(..., description=f"算法类别 Category: {_values(Category)}")
    category_label: str = Field(..., description="算法类别名称 Category label")
    role: str = Field(..., description=f"备案主体角色 Role: {_values(FilingRole)}")
    role_label: str = Field(..., description="角色名称 Role label")
    domain: str = Field(..., description="应用领域 Application domain")
    district: str = Field(..., description="所在区（行政区划代码）District code (GB/T 2260)")
    district_label: str = Field(..., description="所在区名称 District name")
    state: str = Field(..., description=f"状态 State: {_values(State)}")
    state_label: str = Field(..., description="状态名称 State label")
    approved_at: datetime | None = Field(None, description="备案时间 Approved at")
    public_text: str = Field(..., description="面向公众的说明 Public explanation (Art. 15 para. 2)")


class FilingWorkItem(FilingListItem):
    """备案主体与受理部门可见的办理信息 Case-handling fields for the enterprise and the department."""

    deadline: date | None = Field(None, description="办理期限（工作日计算）Deadline, in working days")
    deadline_status: str = Field("", description="期限提示：overdue（逾期）、soon（两个工作日内）或空 Deadline status")
    submitted_at: datetime | None = Field(None, description="提交时间 Submitted at")
    updated_at: datetime | None = Field(None, description="更新时间 Updated at")


class VersionRef(Schema):
    id: int
    version: int
    state: str
    state_label: str
    approved_at: datetime | None = None


class BatchRef(Schema):
    id: int
    number: str = Field(..., description="批次编号 Batch number")


class ReportOut(Schema):
    name: str = Field(..., description="上传时的文件名 File name given at upload")
    extension: str = Field(..., description="类型 Extension")
    sha256: str = Field(..., description="SHA-256")
    url: str = Field(..., description="下载地址（仅备案主体与受理部门）Download URL (enterprise and department only)")


class TransitionOut(Schema):
    name: str = Field(..., description="操作名，用于 POST /filings/{id}/transitions/{name} Transition name")
    label: str = Field(..., description="操作名称 Label")
    comment_required: bool = Field(..., description="须填写意见 A comment is required")


class HistoryOut(Schema):
    transition: str = Field(..., description="操作 Transition")
    from_state: str = Field(..., description="原状态 From state")
    to_state: str = Field(..., description="新状态 To state")
    actor: str = Field("", description="操作人 Actor")
    comment: str = Field("", description="意见 Comment")
    deadline: date | None = Field(None, description="办理期限 Deadline set")
    created_at: datetime


class FilingOut(FilingWorkItem):
    """一项备案。公众只看到公开字段；备案主体与受理部门另见全部内容（access=full）。
    A filing: the public sees the public fields; the enterprise and its department also get the rest."""

    access: str = Field(..., description="public（公开字段）或 full（全部）Which fields are included")
    is_public: bool = Field(..., description="已公示 Publicly listed")
    previous_id: int | None = Field(None, description="变更前版本 Previous version (change filings)")
    versions: list[VersionRef] = Field(default_factory=list, description="同一备案编号的各版本 Versions")
    batches: list[BatchRef] = Field(default_factory=list, description="所在公示批次 Disclosure batches")
    scenarios: str | None = Field(None, description="应用场景 Application scenarios")
    principle: str | None = Field(None, description="基本原理 Basic principle")
    mechanism: str | None = Field(None, description="运行机制 Operating mechanism")
    purpose: str | None = Field(None, description="目的意图 Purpose")
    products: str | None = Field(None, description="使用该算法的产品及接口 Products and interfaces using it")
    created_at: datetime | None = None
    report: ReportOut | None = Field(None, description="安全自评估报告 Security self-assessment report")
    missing: dict[str, list[str]] | None = Field(
        None, description="提交前尚缺的内容（按字段）What is still missing before submission, per field")
    transitions: list[TransitionOut] | None = Field(None, description="您现在可执行的操作 What the caller may do now")
    history: list[HistoryOut] | None = Field(None, description="流转记录 Workflow history")


class FilingPage(Schema):
    count: int = Field(..., description="总条数 Total matching")
    limit: int
    offset: int
    items: list[FilingListItem]


class WorkPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[FilingWorkItem]


class FilingFilter(PageParams):
    q: str | None = Field(None, description="搜索（中文分词，简繁通用）Search words (Chinese, Simplified or Traditional)")
    category: str | None = Field(None, description=f"算法类别 Category: {_values(Category)}")
    district: str | None = Field(None, description="所在区代码 District code, e.g. 310104")
    year: int | None = Field(None, description="备案年份 Year approved")
    state: str | None = Field(None, description="状态 State: " + ", ".join(s.value for s in PUBLIC_LIST_STATES))


class WorkspaceFilter(PageParams):
    state: str | None = Field(None, description=f"状态 State: {_values(State)}")


_TEXT_DOC = "（草稿可留空，提交前须填写）may be blank in a draft, required to submit"


class FilingPatch(Schema):
    """备案内容。草稿只须填写算法名称与受理部门；提交时检查完整性。
    Filing content. A draft needs only a name and a department; completeness is checked on submit."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not silently ignored

    department: int | None = Field(None, description="受理部门 ID（市政府部门）Reviewing department id")
    name: str | None = Field(None, description="算法名称（必填）Algorithm name (required)")
    category: str | None = Field(None, description=f"算法类别 Category: {_values(Category)}; {_TEXT_DOC}",
                                 json_schema_extra={"enum": [*Category.values, ""]})
    role: str | None = Field(None, description=f"备案主体角色 Role: {_values(FilingRole)}; {_TEXT_DOC}",
                             json_schema_extra={"enum": [*FilingRole.values, ""]})
    scenarios: str | None = Field(None, description=f"应用场景 Application scenarios; {_TEXT_DOC}")
    domain: str | None = Field(None, description=f"应用领域 Application domain; {_TEXT_DOC}")
    principle: str | None = Field(None, description=f"基本原理 Basic principle; {_TEXT_DOC}")
    mechanism: str | None = Field(None, description=f"运行机制 Operating mechanism; {_TEXT_DOC}")
    purpose: str | None = Field(None, description=f"目的意图 Purpose; {_TEXT_DOC}")
    products: str | None = Field(None, description=f"使用该算法的产品及接口 Products and interfaces; {_TEXT_DOC}")
    public_text: str | None = Field(None, description=f"拟公示内容（通俗说明）Public explanation; {_TEXT_DOC}")


class FilingIn(FilingPatch):
    organization: int | None = Field(
        None, description="备案主体企业 ID（属于多个企业时必填）Filing enterprise id; required if you belong to several")


class TransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", description="意见（退回、不予备案、注销等须填写）Comment; required for return, reject, "
                                         "deregistration and refusals")


class ReviewQueueOut(Schema):
    today: date
    counts: dict[str, int] = Field(..., description="本部门各状态备案数 Filings per state in your departments")
    items: list[FilingWorkItem] = Field(..., description="待办：待审核与注销审核，按期限排序 Pending, by deadline")


class DisclosureItemOut(Schema):
    position: int = Field(..., description="序号 Position")
    filing_id: int
    filing_number: str = Field(..., description="备案编号 Filing number")
    name: str = Field(..., description="算法名称 Algorithm name")
    organization: str = Field(..., description="备案主体 Enterprise")
    category: str
    category_label: str
    role: str
    role_label: str
    domain: str
    district: str
    district_label: str
    approved_on: date = Field(..., description="备案日期 Approved on")
    public_text: str = Field(..., description="公示内容 Public explanation")


class BatchOut(Schema):
    id: int
    number: str = Field(..., description="批次编号 Batch number")
    title: str = Field(..., description="标题 Title")
    department: OrgRef = Field(..., description="发布部门 Publishing department")
    period_start: date = Field(..., description="起始日期 Period start")
    period_end: date = Field(..., description="截止日期 Period end")
    published_at: datetime = Field(..., description="发布时间 Published at")
    note: str = Field(..., description="说明 Note")
    item_count: int = Field(..., description="条目数 Number of filings")
    content_sha256: str = Field(..., description="内容摘要（冻结的条目）SHA-256 of the frozen items")
    corrects: str | None = Field(None, description="更正的批次编号 Number of the batch this corrects")


class BatchDetailOut(BatchOut):
    items: list[DisclosureItemOut]
    corrections: list[BatchRef] = Field(..., description="更正本批次的批次 Batches correcting this one")


class BatchPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[BatchOut]


class BatchIn(Schema):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(..., description="标题 Title")
    period_start: date = Field(..., description="起始日期 Period start")
    period_end: date = Field(..., description="截止日期（不晚于今天）Period end, not after today")
    note: str = Field("", description="说明 Note")
    corrects: str = Field("", description="更正的批次编号（仅更正时填写）Number of the batch corrected")
    department: int | None = Field(
        None, description="发布部门 ID（在多个部门任发布员时必填）Department id; required if you publish for several")


# ---- serialisation ------------------------------------------------------------------------------

def _org(org: Organization) -> dict:
    return {"id": org.pk, "name": org.name, "code": org.code}


def _label(choices, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or ""


def _public(f: AlgorithmFiling) -> dict:
    return {
        "id": f.pk, "filing_number": f.filing_number, "version": f.version, "kind": f.kind,
        "kind_label": _label(Kind, f.kind), "name": f.name, "organization": _org(f.organization),
        "department": _org(f.department), "category": f.category, "category_label": _label(Category, f.category),
        "role": f.role, "role_label": _label(FilingRole, f.role), "domain": f.domain, "district": f.district,
        "district_label": _label(District, f.district), "state": f.state, "state_label": _label(State, f.state),
        "approved_at": f.approved_at, "public_text": f.public_text,
    }


def _work(f: AlgorithmFiling, today: date | None = None) -> dict:
    return {**_public(f), "deadline": f.deadline, "deadline_status": workflow.deadline_status(f.deadline, today),
            "submitted_at": f.submitted_at, "updated_at": f.updated_at}


def _full_access(user, f: AlgorithmFiling) -> bool:
    if not is_authenticated(user):
        return False
    return user.is_superuser or f.organization_id in enterprise_ids(user) or can(user, "review", f)


def _transitions(user, f: AlgorithmFiling) -> list[dict]:
    own = f.organization_id in enterprise_ids(user)
    names = (OWNER_TRANSITIONS if own else ()) + (REVIEW_TRANSITIONS if can(user, "review", f) else ())
    offered = [{"name": t.name, "label": str(t.label), "comment_required": t.comment_required}
               for t in FILING.available(user, f) if t.name in names]
    if f.state == State.APPROVED and can(user, "request_change", f):
        offered.append({"name": "request_change", "label": _("申请变更"), "comment_required": False})
    return offered


def _detail(user, f: AlgorithmFiling) -> dict:
    versions = []
    if f.filing_number:
        versions = [{"id": v.pk, "version": v.version, "state": v.state, "state_label": _label(State, v.state),
                     "approved_at": v.approved_at}
                    for v in visible(user, AlgorithmFiling).filter(filing_number=f.filing_number).order_by("version")]
    batches = [{"id": b.pk, "number": b.number} for b in DisclosureBatch.objects.filter(items__filing=f).distinct()]
    data = {**_public(f), "access": "public", "is_public": f.is_public, "previous_id": f.previous_id,
            "versions": versions, "batches": batches}
    if not _full_access(user, f):
        return data
    report = None
    if f.report:
        report = {"name": f.report_name, "extension": f.report_extension, "sha256": f.report_sha256,
                  "url": reverse("api:filing_report", kwargs={"filing_id": f.pk})}
    history = [{"transition": h.transition, "from_state": h.from_state, "to_state": h.to_state,
                "actor": str(h.actor) if h.actor else "", "comment": h.comment, "deadline": h.deadline,
                "created_at": h.created_at} for h in workflow.history(f)]
    data.update({
        **_work(f), "access": "full", "scenarios": f.scenarios, "principle": f.principle,
        "mechanism": f.mechanism, "purpose": f.purpose, "products": f.products, "created_at": f.created_at,
        "report": report, "missing": {k: [str(m) for m in v] for k, v in submission_errors(f).items()}
        if f.is_editable else {},
        "transitions": _transitions(user, f), "history": history,
    })
    return data


def _filings():
    return AlgorithmFiling.objects.select_related("organization", "department")


def _reload(user, pk: int) -> AlgorithmFiling:
    return get_visible_or_404(user, AlgorithmFiling, pk=pk)


# ---- input helpers ------------------------------------------------------------------------------

def _form_data(values: dict) -> dict:
    """Schema values -> the form's data dict (None clears a field, as an empty input does on the page)."""
    data = {}
    for name, value in values.items():
        if name == "department":
            data[name] = "" if value is None else str(value)
        elif name in CONTENT_FIELDS:
            data[name] = "" if value is None else value
    return data


def _current_data(f: AlgorithmFiling) -> dict:
    return {"department": str(f.department_id), **{name: getattr(f, name) for name in CONTENT_FIELDS}}


def _enterprise_for(user, wanted: int | None) -> Organization:
    ids = enterprise_ids(user)
    if not ids:
        raise PermissionDenied(_("只有企业成员可以提交算法备案。"))
    if wanted is None:
        if len(ids) > 1:
            raise ValidationError({"organization": _("您属于多个企业，请用 organization 指定备案主体企业的 ID。")})
        return Organization.objects.get(pk=next(iter(ids)))
    if wanted not in ids:
        raise PermissionDenied(_("您不是该企业的成员，不能为其备案。"))
    return Organization.objects.get(pk=wanted)


def _comment(payload: TransitionIn | None) -> str:
    form = CommentForm(data={"comment": payload.comment if payload else ""})
    if not form.is_valid():
        raise_form_errors(form)
    return form.cleaned_data["comment"].strip()


# ---- public filings -----------------------------------------------------------------------------

@router.get("/filings", response={200: FilingPage, 422: ERRORS[422]}, auth=PUBLIC_AUTH,
            summary="公开的算法备案 Public filings")
def list_filings(request, filters: Query[FilingFilter]):
    """已备案、注销审核中与已注销的算法，与公示页面相同的筛选与搜索。
    Approved, deregistering and deregistered filings with the same filters and search as the public page."""
    params = {k: v for k, v in filters.model_dump(include={"q", "category", "district", "year", "state"}).items()
              if v is not None}
    qs, form = filter_public(_filings().order_by("-approved_at", "-id"), params)
    if not form.is_valid():
        raise_form_errors(form)
    return page(qs, filters, _public)


@router.get("/filings/{filing_id}", response={200: FilingOut, **ERRORS}, auth=PUBLIC_AUTH,
            exclude_unset=True, summary="一项备案 One filing")
def get_filing(request, filing_id: int):
    """公众可见已公示的备案；备案主体与受理部门可见全部字段、可执行的操作与流转记录。
    Public filings for everyone; the enterprise and its department also see every field, actions and history."""
    user = current_user(request)
    return _detail(user, get_visible_or_404(user, AlgorithmFiling, pk=filing_id))


@router.get("/filings/{filing_id}/report", url_name="filing_report",
            openapi_extra={"responses": {"200": {"description": "报告文件 The report file", "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}},
            summary="下载安全自评估报告 Download the self-assessment report")
def download_report(request, filing_id: int):
    user = current_user(request)
    filing = get_visible_or_404(user, AlgorithmFiling, pk=filing_id)
    if not filing.report or not can(user, "view_report", filing):
        raise Http404
    response = FileResponse(filing.report.open("rb"), as_attachment=True,
                            filename=f"self-assessment-{filing.pk}{filing.report_extension}",
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- enterprise workspace -----------------------------------------------------------------------

@router.get("/workspace/filings", response={200: WorkPage, **ERRORS}, summary="本企业的备案 Your enterprise's filings")
def workspace_filings(request, filters: Query[WorkspaceFilter]):
    """本企业全部备案（含草稿），按更新时间倒序。All filings of your enterprises, drafts included."""
    user = current_user(request)
    ids = enterprise_ids(user)
    if not ids:
        raise PermissionDenied(_("只有企业成员可以提交算法备案。"))
    qs = _filings().filter(organization_id__in=ids)
    if filters.state:
        if filters.state not in State.values:
            raise ValidationError({"state": _("未知状态：%(s)s") % {"s": filters.state}})
        qs = qs.filter(state=filters.state)
    today = timezone.localdate()
    return page(qs.order_by("-updated_at", "-id"), filters, lambda f: _work(f, today))


@router.post("/filings", response={201: FilingOut, **ERRORS}, exclude_unset=True,
             summary="新建备案草稿 Create a draft filing")
def create_filing(request, payload: FilingIn):
    """保存草稿（与网页同一表单校验）。Save a draft, validated by the same form as the web page."""
    user = current_user(request)
    organization = _enterprise_for(user, payload.organization)
    form = FilingForm(data=_form_data(payload.model_dump(exclude_unset=True)), files={})
    filing = actions.create_filing(user, organization, form)
    return Status(201, _detail(user, _reload(user, filing.pk)))


@router.patch("/filings/{filing_id}", response={200: FilingOut, **ERRORS}, exclude_unset=True,
              summary="修改草稿 Update a draft")
def update_filing(request, filing_id: int, payload: FilingPatch):
    """只改所给字段（null 清空）；仅草稿与退回修改状态可改。
    Changes only the given fields (null clears one); only drafts and returned filings can change."""
    user = current_user(request)
    filing = get_visible_or_404(user, AlgorithmFiling, pk=filing_id)
    require(user, "change", filing)
    data = {**_current_data(filing), **_form_data(payload.model_dump(exclude_unset=True))}
    form = FilingForm(data=data, files={}, instance=filing)
    filing = actions.update_filing(user, filing, form)
    return _detail(user, _reload(user, filing.pk))


@router.post("/filings/{filing_id}/report", response={200: FilingOut, **ERRORS}, exclude_unset=True,
             summary="上传安全自评估报告 Upload the self-assessment report")
def upload_report(request, filing_id: int, report: UploadedFile = File(  # noqa: B008
        ..., description="PDF 或 Office 文档，按内容判断类型 PDF or Office document, judged by its content")):
    user = current_user(request)
    filing = get_visible_or_404(user, AlgorithmFiling, pk=filing_id)
    require(user, "change", filing)
    form = FilingForm(data=_current_data(filing), files={"report": report}, instance=filing)
    filing = actions.update_filing(user, filing, form)
    return _detail(user, _reload(user, filing.pk))


@router.post("/filings/{filing_id}/transitions/{name}", response={200: FilingOut, 201: FilingOut, **ERRORS},
             exclude_unset=True, summary="流转操作 Workflow transition")
def transition(request, filing_id: int,
               name: str = Path(..., description="操作名 Transition: " + ", ".join((*OWNER_NAMES, *REVIEW_NAMES))),  # noqa: B008
               payload: TransitionIn | None = None):
    """备案主体：submit、withdraw、request_deregistration（须填意见）、request_change（返回新的变更草稿，201）；
    受理部门：approve、return、reject、approve_deregistration、refuse_deregistration。

    Enterprise: submit, withdraw, request_deregistration (comment required), request_change (returns the new
    change draft, 201). Department: approve, return, reject, approve_deregistration, refuse_deregistration."""
    user = current_user(request)
    if name not in OWNER_NAMES and name not in REVIEW_NAMES:
        raise Http404
    filing = get_visible_or_404(user, AlgorithmFiling, pk=filing_id)
    if name in REVIEW_NAMES:
        require(user, "review", filing)
    comment = _comment(payload)
    handlers = {
        "submit": lambda: actions.submit_filing(user, filing),
        "withdraw": lambda: actions.withdraw_filing(user, filing),
        "request_deregistration": lambda: actions.request_deregistration(user, filing, comment),
        "approve": lambda: actions.approve_filing(user, filing, comment),
        "return": lambda: actions.return_filing(user, filing, comment),
        "reject": lambda: actions.reject_filing(user, filing, comment),
        "approve_deregistration": lambda: actions.decide_deregistration(user, filing, True, comment),
        "refuse_deregistration": lambda: actions.decide_deregistration(user, filing, False, comment),
    }
    if name == "request_change":
        change = actions.request_change(user, filing)
        return Status(201, _detail(user, _reload(user, change.pk)))
    result = handlers[name]()
    return Status(200, _detail(user, _reload(user, result.pk)))


# ---- department review --------------------------------------------------------------------------

@router.get("/review/filings", response={200: ReviewQueueOut, **ERRORS}, summary="审核队列 Review queue")
def review_queue(request):
    """本部门待审核与注销审核中的备案，按办理期限排序。Pending filings of your departments by deadline."""
    user = current_user(request)
    departments = department_ids(user, Role.REVIEWER)
    if not departments:
        raise PermissionDenied(_("只有部门审核员可以查看审核队列。"))
    pending = (_filings().filter(department_id__in=departments,
                                 state__in=[State.SUBMITTED, State.DEREGISTRATION_REQUESTED])
               .order_by("deadline", "submitted_at", "id"))
    today = timezone.localdate()
    counts = dict(AlgorithmFiling.objects.filter(department_id__in=departments).values_list("state")
                  .annotate(n=Count("id")).order_by())
    return {"today": today, "counts": counts, "items": [_work(f, today) for f in pending]}


# ---- disclosure batches -------------------------------------------------------------------------

def _batch(b: DisclosureBatch) -> dict:
    return {"id": b.pk, "number": b.number, "title": b.title, "department": _org(b.department),
            "period_start": b.period_start, "period_end": b.period_end, "published_at": b.published_at,
            "note": b.note, "item_count": b.item_count, "content_sha256": b.content_sha256,
            "corrects": b.corrects.number if b.corrects_id else None}


def _batch_detail(b: DisclosureBatch) -> dict:
    items = [{"position": i.position, "filing_id": i.filing_id, "filing_number": i.filing_number, "name": i.name,
              "organization": i.organization_name, "category": i.category,
              "category_label": _label(Category, i.category), "role": i.role,
              "role_label": _label(FilingRole, i.role), "domain": i.domain, "district": i.district,
              "district_label": _label(District, i.district), "approved_on": i.approved_on,
              "public_text": i.public_text} for i in b.items.all()]
    return {**_batch(b), "items": items,
            "corrections": [{"id": c.pk, "number": c.number} for c in b.corrections.order_by("published_at", "id")]}


def _batches():
    return DisclosureBatch.objects.select_related("department", "corrects")


@router.get("/disclosures", response={200: BatchPage, 422: ERRORS[422]}, auth=PUBLIC_AUTH,
            summary="公示批次 Disclosure batches")
def list_batches(request, params: Query[PageParams]):
    """已发布的公示批次，最新在前。Published disclosure batches, newest first."""
    return page(visible(current_user(request), DisclosureBatch, _batches()), params, _batch)


@router.get("/disclosures/{batch_id}", response={200: BatchDetailOut, 404: MessageOut}, auth=PUBLIC_AUTH,
            summary="一个公示批次及其条目 One batch with its items")
def get_batch(request, batch_id: int):
    return _batch_detail(get_visible_or_404(current_user(request), DisclosureBatch, pk=batch_id))


@router.post("/disclosures", response={201: BatchDetailOut, **ERRORS}, summary="发布公示批次 Publish a batch")
def publish_batch(request, payload: BatchIn):
    """冻结本部门在期间内准予备案的算法为一个编号批次；更正以新批次发布（corrects 填被更正批次编号）。
    Freeze your department's filings approved in the period as a numbered batch; a correction is a new
    batch naming the corrected one in `corrects`."""
    user = current_user(request)
    departments = Organization.objects.filter(pk__in=department_ids(user, Role.PUBLISHER),
                                              kind__in=[OrgKind.DEPARTMENT, OrgKind.DISTRICT])
    if not departments:
        raise PermissionDenied(_("只有部门发布员可以发布公示批次。"))
    if payload.department is None:
        if departments.count() > 1:
            raise ValidationError({"department": _("您在多个部门任发布员，请用 department 指定发布部门的 ID。")})
        department = departments.first()
    else:
        department = departments.filter(pk=payload.department).first()
        if department is None:
            raise PermissionDenied(_("您不是该部门的发布员，不能发布公示批次。"))
    form = BatchForm(data={"title": payload.title, "period_start": payload.period_start.isoformat(),
                           "period_end": payload.period_end.isoformat(), "note": payload.note,
                           "corrects": payload.corrects})
    if not form.is_valid():
        raise_form_errors(form)
    data = form.cleaned_data
    corrects = None
    if data["corrects"]:
        corrects = DisclosureBatch.objects.filter(number=data["corrects"]).first()
        if corrects is None:
            raise ValidationError({"corrects": _("找不到编号为 %(no)s 的批次。") % {"no": data["corrects"]}})
    batch = actions.publish_batch(user, department, data["title"], data["period_start"], data["period_end"],
                                  data["note"], corrects)
    return Status(201, _batch_detail(_batches().get(pk=batch.pk)))


api.add_router("/", router)
