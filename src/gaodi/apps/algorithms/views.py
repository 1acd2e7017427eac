"""Pages for filings: the public list and pages, the enterprise workspace, the review queue, and
disclosure batches. Every write calls an action; every read goes through the permission policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core import workflow
from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.exports import FORMATS, export
from gaodi.apps.core.models import Organization
from gaodi.apps.core.pagination import CappedPaginator
from gaodi.apps.core.permissions import can, get_visible_or_404, require, visible
from gaodi.apps.core.viewutils import error_messages as _messages
from gaodi.apps.core.viewutils import errors_to_form as _errors_to_form
from gaodi.apps.core.viewutils import paginate as _page

from . import actions
from .filters import filter_public
from .forms import BatchForm, CommentForm, FilingForm, submission_errors
from .models import AlgorithmFiling, DisclosureBatch, State
from .policies import department_ids, enterprise_ids
from .workflows import FILING, OWNER_TRANSITIONS, REVIEW_TRANSITIONS

FILING_COLUMNS = [
    ("filing_number", "备案编号 Filing number"), ("version", "版本 Version"), ("name", "算法名称 Name"),
    ("organization", "备案主体 Organization"), ("category", "算法类别 Category"), ("role", "角色 Role"),
    ("domain", "应用领域 Domain"), ("district", "所在区 District"), ("approved_on", "备案日期 Approved on"),
    ("state", "状态 State"), ("public_text", "公示内容 Public explanation"),
]
BATCH_COLUMNS = [
    ("position", "序号 No."), ("filing_number", "备案编号 Filing number"), ("name", "算法名称 Name"),
    ("organization", "备案主体 Organization"), ("category", "算法类别 Category"), ("role", "角色 Role"),
    ("domain", "应用领域 Domain"), ("district", "所在区 District"), ("approved_on", "备案日期 Approved on"),
    ("public_text", "公示内容 Public explanation"),
]


# ---- public -------------------------------------------------------------------------------------

def filing_list(request):
    qs = AlgorithmFiling.objects.select_related("organization").order_by("-approved_at", "-id")
    qs, form = filter_public(qs, request.GET)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in FORMATS:
            return HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
        return export((_filing_row(f) for f in qs[:50000]), FILING_COLUMNS, fmt, "gaodi-filings",
                      {"title": "算法备案公示 Algorithm filings", "generated_at": timezone.now().isoformat()})
    query = request.GET.copy()
    query.pop("page", None)
    page = CappedPaginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "algorithms/filing_list.html", {"page": page, "form": form, "query": query.urlencode()})


def _filing_row(f: AlgorithmFiling) -> dict:
    return {
        "filing_number": f.filing_number, "version": f.version, "name": f.name, "organization": f.organization.name,
        "category": f.get_category_display(), "role": f.get_role_display(), "domain": f.domain,
        "district": f.get_district_display(), "state": f.get_state_display(), "public_text": f.public_text,
        "approved_on": timezone.localtime(f.approved_at).date().isoformat() if f.approved_at else "",
    }


def filing_detail(request, pk: int):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    if not filing.is_public:
        # Non-public versions are shown in the workspace or review pages, where their actions live.
        if can(request.user, "review", filing):
            return redirect("algorithms:review_detail", pk=pk)
        return redirect("algorithms:workspace_detail", pk=pk)
    versions = (AlgorithmFiling.objects.filter(filing_number=filing.filing_number).exclude(filing_number="")
                .order_by("version"))
    batches = DisclosureBatch.objects.filter(items__filing=filing).distinct()
    return render(request, "algorithms/filing_detail.html",
                  {"filing": filing, "versions": versions, "batches": batches})


def batch_list(request):
    qs = DisclosureBatch.objects.select_related("department", "corrects")
    return render(request, "algorithms/batch_list.html", {"page": _page(request, qs)})


def batch_detail(request, pk: int):
    batch = get_object_or_404(DisclosureBatch.objects.select_related("department", "corrects"), pk=pk)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in FORMATS:
            return HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
        return _stored_export(batch, fmt) or batch_export_response(batch, fmt)
    return render(request, "algorithms/batch_detail.html",
                  {"batch": batch, "items": batch.items.all(), "corrections": batch.corrections.all()})


def _stored_export(batch: DisclosureBatch, fmt: str):
    """The file the worker wrote at publication, when it exists (identical bytes on every download)."""
    from django.core.files.storage import default_storage

    from .tasks import export_path

    path = export_path(batch, fmt)
    if not default_storage.exists(path):
        return None
    content_types = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8",
                     "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    return FileResponse(default_storage.open(path, "rb"), as_attachment=True,
                        filename=f"gaodi-{batch.number}.{fmt}", content_type=content_types[fmt])


def batch_export_response(batch: DisclosureBatch, fmt: str):
    meta = {"number": batch.number, "title": batch.title, "department": batch.department.name,
            "period_start": batch.period_start.isoformat(), "period_end": batch.period_end.isoformat(),
            "published_at": batch.published_at.isoformat(), "content_sha256": batch.content_sha256,
            "corrects": batch.corrects.number if batch.corrects else None}
    return export((_item_row(i) for i in batch.items.all()), BATCH_COLUMNS, fmt, f"gaodi-{batch.number}", meta)


def _item_row(item) -> dict:
    from gaodi.apps.core.choices import District

    from .models import Category, FilingRole

    return {
        "position": item.position, "filing_number": item.filing_number, "name": item.name,
        "organization": item.organization_name, "category": Category(item.category).label,
        "role": FilingRole(item.role).label, "domain": item.domain,
        "district": District(item.district).label if item.district else "",
        "approved_on": item.approved_on.isoformat(), "public_text": item.public_text,
    }


# ---- enterprise workspace -----------------------------------------------------------------------

def _my_enterprise(request) -> Organization:
    ids = enterprise_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有企业成员可以提交算法备案。"))
    wanted = request.POST.get("organization") or request.GET.get("organization")
    if wanted:
        if not wanted.isdigit() or int(wanted) not in ids:
            raise PermissionDenied(_("您不是该企业的成员，不能为其备案。"))
        return Organization.objects.get(pk=int(wanted))
    return Organization.objects.filter(pk__in=ids).order_by("pk").first()


@login_required
def workspace(request):
    ids = enterprise_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有企业成员可以提交算法备案。"))
    qs = AlgorithmFiling.objects.filter(organization_id__in=ids).select_related("organization", "department")
    state = request.GET.get("state")
    if state in State.values:
        qs = qs.filter(state=state)
    return render(request, "algorithms/workspace.html",
                  {"page": _page(request, qs.order_by("-updated_at")), "states": State.choices, "state": state})


@login_required
def filing_create(request):
    organization = _my_enterprise(request)
    form = FilingForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            filing = actions.create_filing(request.user, organization, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("草稿已保存。提交前可以继续修改。"))
            return _after_save(request, filing)
    return render(request, "algorithms/filing_form.html", {"form": form, "organization": organization})


@login_required
def filing_edit(request, pk: int):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    require(request.user, "change", filing)
    form = FilingForm(request.POST or None, request.FILES or None, instance=filing)
    if request.method == "POST" and form.is_valid():
        try:
            filing = actions.update_filing(request.user, filing, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("草稿已保存。"))
            return _after_save(request, filing)
    return render(request, "algorithms/filing_form.html",
                  {"form": form, "filing": filing, "organization": filing.organization})


def _after_save(request, filing):
    if "submit" in request.POST:
        try:
            actions.submit_filing(request.user, filing)
        except ValidationError as exc:
            messages.error(request, _("尚不能提交：") + "；".join(_messages(exc)))
            return redirect("algorithms:filing_edit", pk=filing.pk)
        messages.success(request, _("已提交审核。"))
    return redirect("algorithms:workspace_detail", pk=filing.pk)


@login_required
def workspace_detail(request, pk: int):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    if filing.organization_id not in enterprise_ids(request.user):
        raise Http404
    transitions = [t for t in FILING.available(request.user, filing) if t.name in OWNER_TRANSITIONS]
    return render(request, "algorithms/workspace_detail.html", {
        "filing": filing, "transitions": transitions, "history": FILING.history(filing),
        "missing": submission_errors(filing) if filing.is_editable else {},
        "can_change": can(request.user, "change", filing),
        "can_request_change": filing.state == State.APPROVED and can(request.user, "request_change", filing),
    })


@login_required
@require_POST
def owner_transition(request, pk: int, name: str):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    comment = (request.POST.get("comment") or "").strip()
    if len(comment) > 2000:
        messages.error(request, _("理由不能超过 2000 字，请精简后重新提交。"))
        return redirect("algorithms:workspace_detail", pk=filing.pk)
    try:
        if name == "submit":
            actions.submit_filing(request.user, filing)
        elif name == "withdraw":
            actions.withdraw_filing(request.user, filing)
        elif name == "request_deregistration":
            actions.request_deregistration(request.user, filing, comment)
        elif name == "request_change":
            change = actions.request_change(request.user, filing)
            messages.success(request, _("已创建变更草稿（版本 %(v)d）。") % {"v": change.version})
            return redirect("algorithms:filing_edit", pk=change.pk)
        else:
            raise Http404
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
    else:
        messages.success(request, _("操作已完成。"))
    return redirect("algorithms:workspace_detail", pk=filing.pk)


@login_required
def report_download(request, pk: int):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    if not filing.report or not can(request.user, "view_report", filing):
        raise Http404
    response = FileResponse(filing.report.open("rb"), as_attachment=True,
                            filename=f"self-assessment-{filing.pk}{filing.report_extension}",
                            content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    return response


# ---- department review --------------------------------------------------------------------------

@login_required
def review_queue(request):
    departments = department_ids(request.user, Role.REVIEWER)
    if not departments:
        raise PermissionDenied(_("只有部门审核员可以查看审核队列。"))
    pending = (AlgorithmFiling.objects.filter(department_id__in=departments,
                                              state__in=[State.SUBMITTED, State.DEREGISTRATION_REQUESTED])
               .select_related("organization", "department").order_by("deadline", "submitted_at"))
    today = timezone.localdate()
    rows = [(f, workflow.deadline_status(f.deadline, today)) for f in pending]
    counts = dict(AlgorithmFiling.objects.filter(department_id__in=departments).values_list("state")
                  .annotate(n=Count("id")).order_by())
    return render(request, "algorithms/review_queue.html", {"rows": rows, "counts": counts, "today": today})


@login_required
def review_detail(request, pk: int):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    require(request.user, "review", filing)
    transitions = [t for t in FILING.available(request.user, filing) if t.name in REVIEW_TRANSITIONS]
    return render(request, "algorithms/review_detail.html", {
        "filing": filing, "transitions": transitions, "history": FILING.history(filing),
        "form": CommentForm(), "deadline_status": workflow.deadline_status(filing.deadline),
    })


@login_required
@require_POST
def review_transition(request, pk: int, name: str):
    filing = get_visible_or_404(request.user, AlgorithmFiling, pk=pk)
    require(request.user, "review", filing)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for errs in form.errors.values() for m in errs))
        return redirect("algorithms:review_detail", pk=pk)
    comment = form.cleaned_data["comment"]
    handlers = {
        "approve": lambda: actions.approve_filing(request.user, filing, comment),
        "return": lambda: actions.return_filing(request.user, filing, comment),
        "reject": lambda: actions.reject_filing(request.user, filing, comment),
        "approve_deregistration": lambda: actions.decide_deregistration(request.user, filing, True, comment),
        "refuse_deregistration": lambda: actions.decide_deregistration(request.user, filing, False, comment),
    }
    if name not in handlers:
        raise Http404
    try:
        handlers[name]()
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
        return redirect("algorithms:review_detail", pk=pk)
    messages.success(request, _("审核操作已完成。"))
    return redirect("algorithms:review_queue")


# ---- disclosure batches -------------------------------------------------------------------------

@login_required
def batch_publish(request):
    departments = Organization.objects.filter(pk__in=department_ids(request.user, Role.PUBLISHER),
                                              kind__in=[OrgKind.DEPARTMENT, OrgKind.DISTRICT])
    if not departments:
        raise PermissionDenied(_("只有部门发布员可以发布公示批次。"))
    form = BatchForm(request.POST or None, departments=departments)
    department = departments.first()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        department = data.get("department") or department
        corrects = None
        try:
            if data["corrects"]:
                corrects = DisclosureBatch.objects.filter(number=data["corrects"]).first()
                if corrects is None:
                    raise ValidationError({"corrects": _("找不到编号为 %(no)s 的批次。") % {"no": data["corrects"]}})
            batch = actions.publish_batch(request.user, department, data["title"], data["period_start"],
                                          data["period_end"], data["note"], corrects)
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, _("公示批次 %(no)s 已发布。") % {"no": batch.number})
            return redirect("algorithms:batch_detail", pk=batch.pk)
    return render(request, "algorithms/batch_form.html", {"form": form, "department": department})


def dashboard_context(user) -> dict:
    """What the signed-in user's dashboard shows, by role."""
    ctx: dict = {"is_enterprise": bool(enterprise_ids(user)),
                 "is_reviewer": bool(department_ids(user, Role.REVIEWER)),
                 "is_publisher": bool(department_ids(user, Role.PUBLISHER))}
    if ctx["is_enterprise"]:
        ctx["my_filings"] = (visible(user, AlgorithmFiling).filter(organization_id__in=enterprise_ids(user))
                             .order_by("-updated_at")[:5])
    if ctx["is_reviewer"]:
        ctx["pending_count"] = AlgorithmFiling.objects.filter(
            department_id__in=department_ids(user, Role.REVIEWER),
            state__in=[State.SUBMITTED, State.DEREGISTRATION_REQUESTED]).count()
    ctx["notifications"] = user.notifications.all()[:5]
    return ctx
