"""API of the data resource library at /api/v1/data/: the same policies and actions as the web pages."""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from gaodi.apps.core.api import ERRORS, PUBLIC_AUTH, MessageOut, PageParams, api, current_user, page
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import get_visible_or_404, visible

from . import actions
from .forms import ApplicationForm, GrantRevokeForm, filter_datasets
from .models import AccessApplication, Dataset, Grant, OpenListVersion, OpenType, Resource, ResourceKind
from .policies import enterprise_ids
from .products_api import router as products_router

router = Router(tags=["data 数据资源"])


class DatasetOut(Schema):
    id: int
    title: str = Field(..., description="数据集名称 Title")
    title_en: str
    description: str
    publisher: str = Field(..., description="发布机构 Publisher")
    theme: str = Field(..., description="领域 Theme: general, health, autonomous_driving, transport, finance, education")
    open_type: str = Field(..., description="开放类型 Open type: unconditional, conditional, not_open")
    security_level: str = Field(..., description="安全级别 Security level: general, important, core")
    licence: str
    update_frequency: str
    temporal_start: date | None
    temporal_end: date | None
    spatial: str
    conditions: str
    quality_score: float | None = Field(None, description="最新质量得分 Latest quality score (0-1)")


class DatasetFilters(Schema):
    q: str = ""
    theme: str = ""
    open_type: str = ""
    security_level: str = ""


class OpenListOut(Schema):
    department_id: int
    department: str
    number: int = Field(..., description="版本 Version")
    change: str
    created_at: datetime
    items: list[dict]


class ApplicationIn(Schema):
    organization: int | None = Field(None, description="申请企业（空：个人开发者）Enterprise, or null for an individual")
    purpose: str
    scenario: str
    security_measures: str
    term_days: int


class ApplicationOut(Schema):
    id: int
    dataset_id: int
    organization_id: int | None
    state: str
    deadline: date | None
    submitted_at: datetime | None
    decided_at: datetime | None
    grant_id: int | None


class CommentIn(Schema):
    comment: str = ""


class GrantOut(Schema):
    id: int
    dataset_id: int
    application_id: int
    starts_at: datetime
    expires_at: datetime
    active: bool = Field(..., description="现在是否可用 Usable now (checked at every use)")
    status: str = Field(..., description="状态 Status: active, pending, expired, revoked")
    revoked_at: datetime | None
    revoke_reason: str


class RevokeIn(Schema):
    reason: str = Field(..., description="撤销理由（通知被授权人）Reason, sent to the grantee")


def _dataset(d: Dataset) -> dict:
    return {"id": d.pk, "title": d.title, "title_en": d.title_en, "description": d.description,
            "publisher": d.publisher.name, "theme": d.theme, "open_type": d.open_type,
            "security_level": d.security_level, "licence": d.licence, "update_frequency": d.update_frequency,
            "temporal_start": d.temporal_start, "temporal_end": d.temporal_end, "spatial": d.spatial,
            "conditions": d.conditions, "quality_score": d.latest_score}


def _openlist(v: OpenListVersion) -> dict:
    return {"department_id": v.department_id, "department": v.department.name, "number": v.number,
            "change": v.change, "created_at": v.created_at, "items": v.items}


def _application(a: AccessApplication) -> dict:
    grant = Grant.objects.filter(application=a).first()
    return {"id": a.pk, "dataset_id": a.dataset_id, "organization_id": a.organization_id, "state": a.state,
            "deadline": a.deadline, "submitted_at": a.submitted_at, "decided_at": a.decided_at,
            "grant_id": grant.pk if grant else None}


def _grant(g: Grant) -> dict:
    return {"id": g.pk, "dataset_id": g.dataset_id, "application_id": g.application_id, "starts_at": g.starts_at,
            "expires_at": g.expires_at, "active": g.is_active, "status": g.status, "revoked_at": g.revoked_at,
            "revoke_reason": g.revoke_reason}


@router.get("/datasets", response=dict, auth=PUBLIC_AUTH, summary="数据集目录 Dataset catalog")
def list_datasets(request, filters: DatasetFilters = Query(...), params: PageParams = Query(...)):  # noqa: B008
    qs = visible(current_user(request), Dataset).select_related("publisher").order_by("-updated_at", "-id")
    qs, form = filter_datasets(qs, {k: v for k, v in filters.dict().items() if v})
    if form.errors:
        raise ValidationError({f: list(e) for f, e in form.errors.items()})
    return page(qs, params, _dataset)


@router.get("/datasets/{dataset_id}", response={200: DatasetOut, **ERRORS}, auth=PUBLIC_AUTH, summary="数据集 Dataset")
def get_dataset(request, dataset_id: int):
    return _dataset(get_visible_or_404(current_user(request), Dataset, pk=dataset_id))


@router.get("/open-lists", response=list[OpenListOut], auth=PUBLIC_AUTH, summary="各部门现行开放清单 Current open lists")
def list_open_lists(request):
    latest = {}
    for v in OpenListVersion.objects.select_related("department").order_by("department_id", "-number"):
        latest.setdefault(v.department_id, v)
    return [_openlist(v) for v in latest.values()]


@router.get("/open-lists/{department_id}/versions", response=list[OpenListOut], auth=PUBLIC_AUTH,
            summary="开放清单历史版本 Open list history")
def open_list_versions(request, department_id: int):
    return [_openlist(v) for v in OpenListVersion.objects.filter(department_id=department_id)
            .select_related("department").order_by("-number")]


@router.post("/datasets/{dataset_id}/applications", response={201: ApplicationOut, **ERRORS},
             summary="申请访问有条件开放数据 Apply for conditional data")
def create_application(request, dataset_id: int, body: ApplicationIn):
    user = current_user(request)
    dataset = get_visible_or_404(user, Dataset, pk=dataset_id)
    form = ApplicationForm(data=body.dict(), enterprises=Organization.objects.filter(pk__in=enterprise_ids(user)))
    return Status(201, _application(actions.apply_for_access(user, dataset, form)))


@router.get("/applications", response=dict, summary="我可见的申请 Applications I may see")
def list_applications(request, params: PageParams = Query(...)):  # noqa: B008
    return page(visible(current_user(request), AccessApplication).order_by("-created_at", "-id"), params, _application)


@router.get("/applications/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="申请 Application")
def get_application(request, application_id: int):
    return _application(get_visible_or_404(current_user(request), AccessApplication, pk=application_id))


@router.post("/applications/{application_id}/transitions/{name}", response={200: ApplicationOut, **ERRORS},
             summary="审核或撤回 Approve, reject or withdraw")
def transition_application(request, application_id: int, name: str, body: CommentIn):
    user = current_user(request)
    application = get_visible_or_404(user, AccessApplication, pk=application_id)
    if name not in ("approve", "reject", "withdraw"):
        raise ValidationError({"transition": _("未知操作：%(name)s") % {"name": name}})
    return _application(actions.decide_application(user, application, name, body.comment))


@router.get("/grants", response=list[GrantOut], summary="我的授权 My grants")
def list_grants(request):
    return [_grant(g) for g in visible(current_user(request), Grant)]


@router.get("/grants/{grant_id}", response={200: GrantOut, **ERRORS}, summary="授权 Grant")
def get_grant(request, grant_id: int):
    return _grant(get_visible_or_404(current_user(request), Grant, pk=grant_id))


@router.post("/grants/{grant_id}/revoke", response={200: GrantOut, **ERRORS},
             summary="撤销授权 Revoke a grant (the deciding department)")
def revoke_grant(request, grant_id: int, body: RevokeIn):
    user = current_user(request)
    grant = get_visible_or_404(user, Grant, pk=grant_id)
    return _grant(actions.revoke_grant(user, grant, GrantRevokeForm(data=body.dict())))


DOWNLOAD_RESPONSES = {403: MessageOut, 404: MessageOut, 429: MessageOut}


@router.get("/resources/{resource_id}/download", auth=PUBLIC_AUTH, response=DOWNLOAD_RESPONSES,
            summary="下载数据资源 Download a resource file",
            description="无条件开放数据：无需登录，按 IP 限速（超限 429，附 Retry-After）。有条件开放数据：使用被授权人的"
                        "访问令牌，在授权有效期内下载（grant 可指定授权，否则使用您的有效授权）；每次访问都记入访问日志。"
                        "不予开放、未授权、授权到期或被撤销：403，detail 说明原因。\n\n"
                        "Unconditional data: no credentials, rate limited per IP (429 with Retry-After). Conditional "
                        "data: a grantee's token under an active grant (`grant` picks one, else your active grant is "
                        "used); every access is logged. Not open, no grant, expired or revoked grant: 403 with the "
                        "reason in `detail`. The file is the latest version unless `version` is given.")
def download_resource(request, resource_id: int, grant: int | None = None, version: int | None = None):
    user = current_user(request)
    resource = Resource.objects.select_related("dataset").filter(pk=resource_id).first()
    if resource is None:
        raise Http404
    if resource.kind != ResourceKind.FILE:
        raise Http404
    versions = resource.versions.all()
    chosen = versions.filter(number=version).first() if version is not None else versions.order_by("-number").first()
    if chosen is None:
        raise Http404
    the_grant = None
    if grant is not None:
        the_grant = get_visible_or_404(user, Grant, pk=grant)
    elif resource.dataset.open_type == OpenType.CONDITIONAL:
        the_grant = actions.grant_for(user, resource.dataset)
    try:
        actions.authorize_download(user, chosen, actions.client_ip(request), the_grant)
    except actions.Refused as exc:
        response = api.create_response(request, {"detail": exc.message}, status=exc.status)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    from .views import file_response

    return file_response(chosen)


router.add_router("/products", products_router)
api.add_router("/data", router)
from . import labeling_api  # noqa: E402, F401  labeling tools at /api/v1/data/labeling
