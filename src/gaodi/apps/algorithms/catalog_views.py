"""Pages for the recommended catalog: the public list (search, filters, exports) and entry pages,
the enterprise's nomination, and the department's decision. Every write calls an action in
catalog_actions; every read goes through the permission policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core import search, workflow
from gaodi.apps.core.choices import Role
from gaodi.apps.core.exports import FORMATS, export
from gaodi.apps.core.pagination import CappedPaginator
from gaodi.apps.core.permissions import can, get_visible_or_404, visible

from . import catalog_actions as actions
from .catalog_forms import CatalogFilterForm, NominationForm
from .catalog_models import CatalogEntry, CatalogState
from .catalog_workflows import CATALOG, OWNER_TRANSITIONS, REVIEW_TRANSITIONS
from .evaluation_models import EvaluationRequest
from .policies import department_ids, enterprise_ids
from .views import _errors_to_form, _messages

CATALOG_COLUMNS = [
    ("filing_number", "备案编号 Filing number"), ("name", "算法名称 Name"), ("organization", "企业 Organization"),
    ("category", "算法类别 Category"), ("district", "所在区 District"), ("domain", "应用领域 Domain"),
    ("certificate_id", "证书编号 Certificate"), ("institution", "检测评估机构 Testing institution"),
    ("approved_on", "列入日期 Listed on"), ("status", "状态 Status"), ("ended_on", "退出日期 Left on"),
    ("end_reason", "退出原因 Reason for leaving"), ("justification", "推荐理由 Justification"),
    ("filing_url", "备案公示 Filing page"), ("verification_url", "证书验证 Verification page"),
]


def _public_entries():
    return (CatalogEntry.objects.public()
            .select_related("filing", "organization", "certificate", "certificate__request__institution")
            .order_by("-listed_at", "-id"))


def filter_catalog(qs, params) -> tuple[object, CatalogFilterForm]:
    """Apply valid filters; invalid values are reported on the form and ignored, never a 500."""
    form = CatalogFilterForm(params)
    if not form.is_valid():
        return qs.none(), form
    data = form.cleaned_data
    if data["category"]:
        qs = qs.filter(filing__category=data["category"])
    if data["district"]:
        qs = qs.filter(filing__district=data["district"])
    status = data["status"] or "listed"  # by default the catalog shows what it recommends now
    if status == "listed":
        qs = qs.filter(state=CatalogState.APPROVED, certificate__revoked_at__isnull=True)
    elif status == "suspended":
        qs = qs.filter(Q(state=CatalogState.SUSPENDED)
                       | Q(state=CatalogState.APPROVED, certificate__revoked_at__isnull=False))
    elif status == "ended":
        qs = qs.filter(state__in=[CatalogState.WITHDRAWN, CatalogState.REMOVED])
    if data["q"]:
        qs = search.filter_queryset(qs, actions.SEARCH_DOC, data["q"])
    return qs, form


def _row(request, e: CatalogEntry) -> dict:
    f, certificate = e.filing, e.certificate
    return {
        "filing_number": f.filing_number, "name": f.name, "organization": e.organization.name,
        "category": f.get_category_display(), "district": f.get_district_display(), "domain": f.domain,
        "certificate_id": certificate.certificate_id, "institution": certificate.request.institution.name,
        "approved_on": timezone.localtime(e.listed_at).date().isoformat() if e.listed_at else "",
        "ended_on": timezone.localtime(e.ended_at).date().isoformat() if e.ended_at else "",
        "end_reason": e.end_reason,
        "status": "listed" if e.is_listed else e.status_key, "justification": e.justification,
        "filing_url": request.build_absolute_uri(reverse("algorithms:filing_detail", args=[f.pk])),
        "verification_url": request.build_absolute_uri(
            reverse("algorithms:certificate_verify", args=[certificate.certificate_id])),
    }


def _visible_or_404(user, qs, **lookup):
    """get_visible_or_404 with the related rows the page shows fetched in the same query."""
    try:
        return visible(user, qs.model, qs).get(**lookup)
    except qs.model.DoesNotExist as exc:
        raise Http404(str(qs.model._meta.verbose_name)) from exc


# ---- public -------------------------------------------------------------------------------------

def catalog_list(request):
    qs, form = filter_catalog(_public_entries(), request.GET)
    fmt = request.GET.get("format")
    if fmt:
        if fmt not in FORMATS:
            return HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
        return export((_row(request, e) for e in qs[:50000]), CATALOG_COLUMNS, fmt, "gaodi-catalog",
                      {"title": "算法模型推荐目录 Recommended catalog of AI algorithm models",
                       "generated_at": timezone.now().isoformat()})
    query = request.GET.copy()
    query.pop("page", None)
    page = CappedPaginator(qs, 20).get_page(request.GET.get("page"))
    return render(request, "algorithms/catalog/list.html", {
        "page": page, "form": form, "query": query.urlencode(),
        "can_manage": bool(enterprise_ids(request.user) or department_ids(request.user, Role.REVIEWER)),
    })


def catalog_detail(request, pk: int):
    entry = _visible_or_404(request.user, CatalogEntry.objects.select_related(
        "filing", "organization", "department", "certificate", "certificate__request__institution"), pk=pk)
    transitions = [t for t in CATALOG.available(request.user, entry)
                   if t.name in REVIEW_TRANSITIONS or t.name in OWNER_TRANSITIONS]
    return render(request, "algorithms/catalog/detail.html", {
        "entry": entry, "transitions": transitions, "history": CATALOG.history(entry),
        "is_owner": entry.organization_id in enterprise_ids(request.user),
        "can_review": can(request.user, "review", entry),
        "deadline_status": workflow.deadline_status(entry.deadline) if entry.state == CatalogState.PENDING else "",
    })


# ---- enterprise and department ------------------------------------------------------------------

@login_required
def catalog_manage(request):
    """Nominations of the user's enterprises and those waiting for the user's departments."""
    mine = Q(organization_id__in=enterprise_ids(request.user))
    reviewing = Q(department_id__in=department_ids(request.user, Role.REVIEWER))
    qs = (visible(request.user, CatalogEntry).filter(mine | reviewing)
          .select_related("filing", "organization", "department", "certificate"))
    state = request.GET.get("state")
    if state in CatalogState.values:
        qs = qs.filter(state=state)
    entries = list(qs.order_by("-created_at", "-id")[:200])
    for entry in entries:
        entry.deadline_status = workflow.deadline_status(entry.deadline) if entry.state == CatalogState.PENDING else ""
    return render(request, "algorithms/catalog/manage.html",
                  {"entries": entries, "states": CatalogState.choices, "state": state})


@login_required
def catalog_nominate(request, pk: int):
    evaluation = _visible_or_404(request.user, EvaluationRequest.objects.select_related("filing"), pk=pk)
    if evaluation.organization_id not in enterprise_ids(request.user):
        raise Http404
    problem = actions.ineligibility(evaluation)
    if problem and request.method != "POST":
        messages.error(request, problem)
        return redirect("algorithms:evaluation_detail", pk=evaluation.pk)
    form = NominationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            entry = actions.nominate(request.user, evaluation, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
            status = 400
        else:
            messages.success(request, _("推荐目录申报已提交，等待备案审核部门审核。"))
            return redirect("algorithms:catalog_detail", pk=entry.pk)
    return render(request, "algorithms/catalog/nominate.html",
                  {"form": form, "evaluation": evaluation, "certificate": evaluation.certificate}, status=status)


@login_required
@require_POST
def catalog_transition(request, pk: int, name: str):
    entry = get_visible_or_404(request.user, CatalogEntry, pk=pk)
    comment = (request.POST.get("comment") or "").strip()
    handlers = {
        "approve": lambda: actions.approve(request.user, entry, comment),
        "reject": lambda: actions.reject(request.user, entry, comment),
        "remove": lambda: actions.remove(request.user, entry, comment),
        "withdraw": lambda: actions.withdraw(request.user, entry, comment),
    }
    if name not in handlers:
        raise Http404
    if name in OWNER_TRANSITIONS:
        if not can(request.user, "withdraw", entry):
            raise PermissionDenied(_("只有申报该条目的企业可以撤回。"))
    elif not can(request.user, "review", entry):
        raise PermissionDenied(_("只有该备案的审核部门可以审核推荐目录申报。"))
    if len(comment) > 2000:
        messages.error(request, _("理由不能超过 2000 字，请精简后重新提交。"))
        return redirect("algorithms:catalog_detail", pk=pk)
    try:
        handlers[name]()
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
    else:
        messages.success(request, _("操作已完成。"))
    return redirect("algorithms:catalog_detail", pk=pk)
