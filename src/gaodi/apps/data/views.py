"""Pages of the data resource library: public catalog, statistics, open lists and fairness report; the
publisher's editing pages; access applications, grants and downloads. Every write calls an action."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core import workflow
from gaodi.apps.core.exports import FORMATS, export
from gaodi.apps.core.models import Organization
from gaodi.apps.core.pagination import CappedPaginator
from gaodi.apps.core.permissions import can, get_visible_or_404, visible
from gaodi.apps.core.viewutils import error_messages, form_view
from gaodi.apps.core.viewutils import errors_to_form as _errors_to_form

from . import actions
from .forms import (
    ApplicationForm,
    CommentForm,
    DatasetForm,
    GradingForm,
    GrantRevokeForm,
    OpenListEntryForm,
    ResourceForm,
    VersionForm,
    filter_datasets,
    limit_uploads,
)
from .models import (
    AccessApplication,
    AccessLog,
    ApplicationState,
    DataProduct,
    Dataset,
    Grant,
    GrantStatus,
    OpenListVersion,
    OpenType,
    ProductState,
    Resource,
    ResourceVersion,
    SecurityLevel,
    Theme,
)
from .policies import decider_ids, enterprise_ids, list_department_ids, publisher_ids
from .workflows import ACCESS_APPLICATION, OWNER_TRANSITIONS, REVIEW_TRANSITIONS

DATASET_COLUMNS = [
    ("id", "编号 ID"), ("title", "数据集名称 Title"), ("title_en", "英文名称 English title"),
    ("publisher", "发布机构 Publisher"), ("theme", "领域 Theme"), ("open_type", "开放类型 Open type"),
    ("security_level", "安全级别 Security level"), ("licence", "许可协议 Licence"),
    ("update_frequency", "更新频率 Update frequency"), ("temporal", "时间范围 Temporal coverage"),
    ("spatial", "空间范围 Spatial coverage"), ("quality_score", "质量得分 Quality score"),
    ("updated", "更新时间 Updated"), ("description", "描述 Description"),
]


def _messages(exc: ValidationError) -> str:
    return "；".join(error_messages(exc))


def dataset_row(d: Dataset) -> dict:
    temporal = " ~ ".join(x.isoformat() for x in (d.temporal_start, d.temporal_end) if x)
    return {"id": d.pk, "title": d.title, "title_en": d.title_en, "publisher": d.publisher.name,
            "theme": d.get_theme_display(), "open_type": d.get_open_type_display(),
            "security_level": d.get_security_level_display(), "licence": d.licence,
            "update_frequency": d.get_update_frequency_display(), "temporal": temporal, "spatial": d.spatial,
            "quality_score": d.latest_score, "updated": timezone.localtime(d.updated_at).date().isoformat(),
            "description": d.description}


# ---- public catalog -----------------------------------------------------------------------------

def dataset_list(request):
    qs = visible(request.user, Dataset).select_related("publisher").order_by("-updated_at", "-id")
    qs, form = filter_datasets(qs, request.GET)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in FORMATS:
            return HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
        return export((dataset_row(d) for d in qs[:50000]), DATASET_COLUMNS, fmt, "gaodi-datasets",
                      {"title": "人工智能数据资源目录 AI data resource catalog",
                       "generated_at": timezone.now().isoformat()})
    query = request.GET.copy()
    query.pop("page", None)
    page = CappedPaginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "data/dataset_list.html", {
        "page": page, "form": form, "query": query.urlencode(), "can_add": can(request.user, "add", model=Dataset)})


def dataset_detail(request, pk: int):
    dataset = get_visible_or_404(request.user, Dataset, pk=pk)
    resources = [(r, r.latest) for r in dataset.resources.all()]
    return render(request, "data/dataset_detail.html", {
        "dataset": dataset, "resources": resources, "gradings": dataset.gradings.all()[:10],
        "suggestion": actions.latest_suggestion(dataset),
        "my_grant": actions.grant_for(request.user, dataset) if dataset.open_type == OpenType.CONDITIONAL else None,
        "products": visible(request.user, DataProduct).filter(datasets=dataset, state=ProductState.PUBLISHED)
        .select_related("publisher")[:50],
        "can_change": can(request.user, "change", dataset), "can_apply": can(request.user, "apply", dataset),
        "grading_form": GradingForm(initial={"security_level": dataset.security_level,
                                             "open_type": dataset.open_type}),
    })


def statistics(request):
    qs = Dataset.objects.all()
    by_theme = {row["theme"]: row["n"] for row in qs.values("theme").annotate(n=Count("id")).order_by()}
    by_level = {row["security_level"]: row["n"] for row in qs.values("security_level").annotate(n=Count("id")).order_by()}
    by_open = {row["open_type"]: row["n"] for row in qs.values("open_type").annotate(n=Count("id")).order_by()}
    by_publisher = list(qs.values("publisher__name").annotate(n=Count("id")).order_by("-n", "publisher__name"))
    data = {
        "total": qs.count(),
        "by_theme": [{"key": k, "label": str(label), "count": by_theme.get(k, 0)} for k, label in Theme.choices],
        "by_level": [{"key": k, "label": str(label), "count": by_level.get(k, 0)} for k, label in SecurityLevel.choices],
        "by_open_type": [{"key": k, "label": str(label), "count": by_open.get(k, 0)} for k, label in OpenType.choices],
        "by_publisher": [{"label": r["publisher__name"], "count": r["n"]} for r in by_publisher],
    }
    if request.GET.get("format") == "json":
        return export(data["by_theme"] + data["by_level"] + data["by_open_type"] + data["by_publisher"],
                      [("key", "key"), ("label", "label"), ("count", "count")], "json", "gaodi-data-statistics",
                      {"total": data["total"]})
    return render(request, "data/statistics.html", {"data": data})


def fairness(request):
    labels = {"sme": _("中小企业"), "individual": _("个人开发者"), "large": _("大型企业"), "other": _("其他机构")}
    rows = actions.fairness_report()
    for row in rows:
        row["label"] = labels[row["group"]]
    return render(request, "data/fairness.html", {"rows": rows})


# ---- downloads ----------------------------------------------------------------------------------

def file_response(version: ResourceVersion) -> FileResponse:
    """The stored file, streamed in blocks (never read whole), under a name that says what it is."""
    response = FileResponse(version.file.open("rb"), as_attachment=True,
                            filename=f"dataset-{version.resource.dataset_id}-r{version.resource_id}-v{version.number}"
                                     f".{version.file.name.rsplit('.', 1)[-1]}",
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _send(request, version: ResourceVersion, grant: Grant | None = None):
    try:
        actions.authorize_download(request.user, version, actions.client_ip(request), grant)
    except actions.Refused as exc:
        response = render(request, "data/refused.html", {"message": exc.message, "dataset": version.resource.dataset,
                                                         "grant": grant}, status=exc.status)
        if exc.retry_after:
            response["Retry-After"] = str(exc.retry_after)
        return response
    return file_response(version)


def resource_download(request, pk: int):
    """Unconditional data for anyone (rate limited); conditional data with the signed-in caller's grant."""
    resource = get_object_or_404(Resource.objects.select_related("dataset"), pk=pk)
    version = resource.latest
    if version is None:
        raise Http404
    grant = actions.grant_for(request.user, resource.dataset) if resource.dataset.open_type == OpenType.CONDITIONAL \
        else None
    return _send(request, version, grant)


@login_required
def grant_download(request, pk: int, resource: int):
    grant = get_visible_or_404(request.user, Grant, pk=pk)
    version = get_object_or_404(Resource, pk=resource, dataset_id=grant.dataset_id).latest
    if version is None:
        raise Http404
    return _send(request, version, grant)


# ---- publisher ----------------------------------------------------------------------------------

def _form(request, form, action, title, back=None, *, success, next_url):
    """A publisher's or applicant's form page (data/form.html) run by the shared form_view."""
    return form_view(request, form, action, template="data/form.html", context={"title": title, "back": back},
                     success=success, next_url=next_url)


def _dataset_url(dataset) -> str:
    return reverse("data:dataset_detail", args=[dataset.pk])


@login_required
def dataset_create(request):
    orgs = Organization.objects.filter(pk__in=publisher_ids(request.user))
    if not orgs:
        raise PermissionDenied(_("只有数据发布机构的发布员可以发布数据集。"))
    return _form(request, DatasetForm(request.POST or None),
                 lambda form: actions.create_dataset(request.user, orgs.order_by("pk").first(), form),
                 _("发布数据集"), success=_("数据集已发布。"), next_url=_dataset_url)


@login_required
def dataset_edit(request, pk: int):
    dataset = get_visible_or_404(request.user, Dataset, pk=pk)
    if not can(request.user, "change", dataset):
        raise Http404
    return _form(request, DatasetForm(request.POST or None, instance=Dataset.objects.get(pk=pk)),
                 lambda form: actions.update_dataset(request.user, dataset, form), _("修改数据集"), dataset,
                 success=_("数据集信息已保存。"), next_url=lambda _result: _dataset_url(dataset))


@login_required
@limit_uploads
def resource_create(request, pk: int):
    dataset = get_visible_or_404(request.user, Dataset, pk=pk)
    if not can(request.user, "change", dataset):
        raise Http404
    posted = request.method == "POST"
    form = ResourceForm(request.POST if posted else None, request.FILES if posted else None,
                        oversize=getattr(request, "oversize_uploads", None))
    return _form(request, form, lambda form: actions.add_resource(request.user, dataset, form), _("添加资源"),
                 dataset, success=_("资源已添加，质量检测已排队。"), next_url=lambda _result: _dataset_url(dataset))


@login_required
@limit_uploads
def version_create(request, pk: int):
    resource = get_object_or_404(Resource.objects.select_related("dataset"), pk=pk)
    if not can(request.user, "change", resource.dataset):
        raise Http404
    posted = request.method == "POST"  # a refused file leaves POST and FILES empty: still a bound form
    form = VersionForm(request.POST if posted else None, request.FILES if posted else None,
                       oversize=getattr(request, "oversize_uploads", None))
    return _form(request, form, lambda form: actions.add_version(request.user, resource, form), _("上传新版本"),
                 resource.dataset, success=_("新版本已上传，质量检测已排队。"),
                 next_url=lambda _result: _dataset_url(resource.dataset))


@login_required
@require_POST
def quality_retry(request, pk: int):
    version = get_object_or_404(ResourceVersion.objects.select_related("resource__dataset"), pk=pk)
    if not can(request.user, "change", version.resource.dataset):
        raise Http404
    try:
        actions.retry_quality_report(request.user, version)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("已重新排队进行质量检测。"))
    return redirect("data:dataset_detail", pk=version.resource.dataset_id)


@login_required
@require_POST
def grading_decide(request, pk: int):
    dataset = get_visible_or_404(request.user, Dataset, pk=pk)
    if not can(request.user, "grade", dataset):
        raise Http404
    try:
        actions.decide_grading(request.user, dataset, GradingForm(request.POST))
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("分级决定已记录。"))
    return redirect("data:dataset_detail", pk=pk)


# ---- open lists ---------------------------------------------------------------------------------

def open_lists(request):
    latest = {}
    for v in OpenListVersion.objects.select_related("department").order_by("department__name", "-number"):
        latest.setdefault(v.department_id, v)
    return render(request, "data/open_lists.html", {"lists": list(latest.values()),
                                                    "can_publish": bool(list_department_ids(request.user))})


def open_list_history(request, department: int):
    dept = get_object_or_404(Organization, pk=department)
    versions = visible(request.user, OpenListVersion).filter(department=dept).order_by("-number")
    if not versions:
        raise Http404
    return render(request, "data/open_list_history.html", {"department": dept, "versions": versions})


@login_required
def open_list_manage(request):
    departments = Organization.objects.filter(pk__in=list_department_ids(request.user)).order_by("pk")
    if not departments:
        raise PermissionDenied(_("只有部门发布员可以维护公共数据开放清单。"))
    department = departments.first()
    form = OpenListEntryForm(request.POST or None, department=department)
    if request.method == "POST":
        try:
            if request.POST.get("remove"):
                actions.remove_open_list_entry(request.user, department, request.POST["remove"])
                messages.success(request, _("已移除，清单生成了新版本。"))
                return redirect("data:open_list_manage")
            if form.is_valid():
                actions.set_open_list_entry(request.user, department, form)
                messages.success(request, _("已保存，清单生成了新版本。"))
                return redirect("data:open_list_manage")
        except ValidationError as exc:
            _errors_to_form(form, exc)
    return render(request, "data/open_list_manage.html",
                  {"form": form, "department": department, "current": actions.current_open_list(department)})


# ---- applications -------------------------------------------------------------------------------

@login_required
def apply(request, pk: int):
    dataset = get_visible_or_404(request.user, Dataset, pk=pk)
    if not can(request.user, "apply", dataset):
        raise PermissionDenied(_("该数据集不是“有条件开放”数据，无需申请。"))
    form = ApplicationForm(request.POST or None,
                           enterprises=Organization.objects.filter(pk__in=enterprise_ids(request.user)))
    return _form(request, form, lambda form: actions.apply_for_access(request.user, dataset, form),
                 _("申请访问：%(t)s") % {"t": dataset.title}, dataset, success=_("申请已提交，发布机构将在期限内办理。"),
                 next_url=lambda application: reverse("data:application_detail", args=[application.pk]))


@login_required
def my_access(request):
    applications = visible(request.user, AccessApplication).filter(applicant=request.user).select_related("dataset")
    grants = visible(request.user, Grant).filter(grantee=request.user).select_related("dataset", "revoked_by")
    return render(request, "data/my_access.html", {"applications": applications, "grants": grants,
                                                   "now": timezone.now()})


@login_required
def application_detail(request, pk: int):
    application = get_visible_or_404(request.user, AccessApplication, pk=pk)
    transitions = ACCESS_APPLICATION.available(request.user, application)
    grant = Grant.objects.filter(application=application).select_related("revoked_by").first()
    if grant is not None and not can(request.user, "view", grant):
        grant = None
    return render(request, "data/application_detail.html", {
        "application": application, "history": ACCESS_APPLICATION.history(application),
        "review_transitions": [t for t in transitions if t.name in REVIEW_TRANSITIONS],
        "owner_transitions": [t for t in transitions if t.name in OWNER_TRANSITIONS],
        "grant": grant, "grant_status": grant.status if grant else "",
        "can_revoke": bool(grant and grant.status in (GrantStatus.ACTIVE, GrantStatus.PENDING)
                           and can(request.user, "revoke", grant)),
        "revoke_form": GrantRevokeForm(),
        "access_logs": (AccessLog.objects.filter(grant=grant).select_related("user", "version__resource")[:50]
                        if grant else []),
        "resources": application.dataset.resources.all(), "form": CommentForm(),
        "deadline_status": workflow.deadline_status(application.deadline),
    })


@login_required
@require_POST
def grant_revoke(request, pk: int):
    grant = get_visible_or_404(request.user, Grant, pk=pk)
    if not can(request.user, "revoke", grant):
        raise PermissionDenied(_("只有批准该申请的部门（发布机构的审核员）可以撤销授权。"))
    try:
        actions.revoke_grant(request.user, grant, GrantRevokeForm(request.POST))
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("授权已撤销，已通知被授权人。"))
    return redirect("data:application_detail", pk=grant.application_id)


@login_required
@require_POST
def application_transition(request, pk: int, name: str):
    application = get_visible_or_404(request.user, AccessApplication, pk=pk)
    if name not in REVIEW_TRANSITIONS + OWNER_TRANSITIONS:
        raise Http404
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, _messages(ValidationError(form.errors)))
        return redirect("data:application_detail", pk=pk)
    try:
        actions.decide_application(request.user, application, name, form.cleaned_data["comment"])
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("操作已完成。"))
    return redirect("data:application_detail", pk=pk)


@login_required
def review_queue(request):
    ids = decider_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有发布机构的审核员可以查看数据访问申请。"))
    pending = (AccessApplication.objects.filter(dataset__publisher_id__in=ids, state=ApplicationState.SUBMITTED)
               .select_related("dataset", "organization", "applicant").order_by("deadline", "submitted_at"))
    rows = [(a, workflow.deadline_status(a.deadline)) for a in pending]
    now = timezone.now()
    active = (Grant.objects.filter(dataset__publisher_id__in=ids, revoked_at__isnull=True, expires_at__gt=now)
              .select_related("dataset", "grantee", "organization").order_by("expires_at")[:200])
    return render(request, "data/review_queue.html", {"rows": rows, "grants": active})
