"""Pages of the public compute platform: the public capacity page, providers' sites and pools, the
enterprise workspace (vouchers, quotes, jobs, bills), the department's review queue, programmes and
dashboard. Every write calls an action; every read goes through the permission policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gaodi.apps.core import workflow
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import can, get_visible_or_404, require, visible
from gaodi.apps.core.viewutils import error_messages as _messages
from gaodi.apps.core.viewutils import errors_to_form as _errors_to_form
from gaodi.apps.core.viewutils import form_view
from gaodi.apps.core.viewutils import paginate as _page

from . import actions, bridge, explain, exports, ledger, stats
from .choices import ApplicationState, JobState
from .forms import ApplicationForm, DecisionForm, JobForm, PoolForm, ProgramForm, SiteForm
from .models import Job, Pool, Redemption, Site, SubsidyProgram, Voucher, VoucherApplication
from .policies import enterprise_ids, provider_ids, subsidy_department_ids
from .workflows import OWNER_TRANSITIONS, REVIEW_TRANSITIONS, VOUCHER_APPLICATION


def _chosen_org(request, ids: set[int], message: str) -> Organization:
    if not ids:
        raise PermissionDenied(message)
    wanted = request.POST.get("organization") or request.GET.get("organization")
    if wanted:
        if not wanted.isdigit() or int(wanted) not in ids:
            raise PermissionDenied(message)
        return Organization.objects.get(pk=int(wanted))
    return Organization.objects.filter(pk__in=ids).order_by("pk").first()


def _enterprise(request) -> Organization:
    return _chosen_org(request, enterprise_ids(request.user), _("只有企业成员可以申请算力券和提交算力作业。"))


def _provider(request) -> Organization:
    return _chosen_org(request, provider_ids(request.user), _("只有算力提供方的成员可以登记站点和资源池。"))


def _department(request) -> Organization:
    return _chosen_org(request, subsidy_department_ids(request.user),
                       _("只有主管算力补贴的部门审核员或管理员可以进行此操作。"))


# ---- public -------------------------------------------------------------------------------------

def _export_format(request):
    """The requested export format, None for the page; a bad one is a 400 answer (returned as the 2nd item)."""
    fmt = request.GET.get("format")
    if fmt and fmt not in exports.FORMATS:
        return None, HttpResponseBadRequest(_("不支持的导出格式：请使用 csv、xlsx 或 json。"))
    return fmt, None


def _query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return query.urlencode()


def public(request):
    """Capacity, prices and the hubs (Art. 12-13), and the programmes open today. `?format=csv|xlsx|json`
    exports the pools (or, with `table=hubs`, the hubs)."""
    today = timezone.localdate()
    summary = stats.public_summary()
    fmt, bad = _export_format(request)
    if bad:
        return bad
    if fmt:
        meta = {"title": "公共算力资源与挂牌价 Public compute capacity and list prices",
                "generated_at": timezone.now().isoformat(), "total": summary["total"], "free": summary["free"]}
        if request.GET.get("table") == "hubs":
            return exports.export(exports.hub_rows(summary), exports.HUB_COLUMNS, fmt, "gaodi-compute-hubs", meta)
        return exports.export(exports.pool_rows(summary), exports.POOL_COLUMNS, fmt, "gaodi-compute-pools", meta)
    programs = SubsidyProgram.objects.filter(valid_to__gte=today).select_related("department").order_by("valid_to")
    return render(request, "compute/public.html", {
        **summary, "programs": programs, "today": today,
        "chart": {"hubs": [h["hub_label"] for h in summary["hubs"]], "count": [h["count"] for h in summary["hubs"]],
                  "free": [h["free"] for h in summary["hubs"]],
                  "labels": {"count": _("加速卡总数"), "free": _("实时可用")}},
    })


def pool_detail(request, pk: int):
    pool = get_visible_or_404(request.user, Pool, pk=pk)
    pool = bridge.with_capacity([pool])[0]
    return render(request, "compute/pool_detail.html", {"pool": pool, "can_change": can(request.user, "change", pool)})


def program_list(request):
    qs = visible(request.user, SubsidyProgram).select_related("department")
    return render(request, "compute/program_list.html", {
        "page": _page(request, qs), "today": timezone.localdate(),
        "can_add": can(request.user, "add", model=SubsidyProgram),
        "can_apply": can(request.user, "apply", model=SubsidyProgram)})


def program_detail(request, pk: int):
    program = get_visible_or_404(request.user, SubsidyProgram, pk=pk)
    row = next((r for r in stats.subsidy_by_program() if r["id"] == program.pk), None)
    return render(request, "compute/program_detail.html", {
        "program": program, "figures": row, "providers": program.providers.all(),
        "can_change": can(request.user, "change", program), "can_apply": can(request.user, "apply", program),
        "open": program.is_open(timezone.localdate())})


# ---- providers ----------------------------------------------------------------------------------

@login_required
def provider_home(request):
    ids = provider_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有算力提供方的成员可以登记站点和资源池。"))
    sites = Site.objects.filter(provider_id__in=ids).select_related("provider")
    pools = bridge.with_capacity(Pool.objects.filter(site__provider_id__in=ids).select_related("site"))
    return render(request, "compute/provider.html", {"sites": sites, "pools": pools})


def _pool_url(pool) -> str:
    return reverse("compute:pool_detail", args=[pool.pk])


@login_required
def site_create(request):
    provider = _provider(request)
    return form_view(request, SiteForm(request.POST or None),
                     lambda form: actions.create_site(request.user, provider, form),
                     template="compute/form.html", success=_("站点已登记。"), next_url="compute:provider",
                     context={"title": _("登记算力站点"), "organization": provider, "back": "compute:provider"})


@login_required
def site_edit(request, pk: int):
    site = get_visible_or_404(request.user, Site, pk=pk)
    if not can(request.user, "change", site):
        raise Http404
    return form_view(request, SiteForm(request.POST or None, instance=site),
                     lambda form: actions.update_site(request.user, site, form),
                     template="compute/form.html", success=_("站点已更新。"), next_url="compute:provider",
                     context={"title": _("修改算力站点"), "organization": site.provider, "back": "compute:provider"})


@login_required
def pool_create(request):
    ids = provider_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有算力提供方的成员可以登记站点和资源池。"))
    return form_view(request, PoolForm(request.POST or None, provider_ids=ids),
                     lambda form: actions.create_pool(request.user, form),
                     template="compute/form.html", success=_("资源池已登记。"), next_url=_pool_url,
                     context={"title": _("登记算力资源池"), "back": "compute:provider"})


@login_required
def pool_edit(request, pk: int):
    pool = get_visible_or_404(request.user, Pool, pk=pk)
    if not can(request.user, "change", pool):
        raise Http404
    return form_view(request, PoolForm(request.POST or None, instance=pool, provider_ids=provider_ids(request.user)),
                     lambda form: actions.update_pool(request.user, pool, form),
                     template="compute/form.html", success=_("资源池已更新。"), next_url=_pool_url,
                     context={"title": _("修改算力资源池"), "back": "compute:provider"})


# ---- enterprise workspace -----------------------------------------------------------------------

@login_required
def workspace(request):
    ids = enterprise_ids(request.user)
    if not ids:
        raise PermissionDenied(_("只有企业成员可以申请算力券和提交算力作业。"))
    vouchers = Voucher.objects.filter(organization_id__in=ids).select_related("program")
    applications = (VoucherApplication.objects.filter(organization_id__in=ids).select_related("program")
                    .order_by("-created_at")[:20])
    jobs = Job.objects.filter(organization_id__in=ids).select_related("pool").order_by("-created_at")
    return render(request, "compute/workspace.html", {
        "vouchers": vouchers, "applications": applications, "page": _page(request, jobs),
        "today": timezone.localdate()})


def _application_url(application) -> str:
    return reverse("compute:application_detail", args=[application.pk])


def _job_rows_qs(request):
    ids = enterprise_ids(request.user)
    if not ids and not request.user.is_superuser:
        raise PermissionDenied(_("只有企业成员可以申请算力券和提交算力作业。"))
    return visible(request.user, Job)


@login_required
def job_list(request):
    """The enterprise's jobs, filtered by state, with exports (its own rows only)."""
    qs = (_job_rows_qs(request).select_related("organization", "pool").prefetch_related("redemptions")
          .order_by("-created_at", "-id"))
    state = request.GET.get("state") or ""
    if state in JobState.values:
        qs = qs.filter(state=state)
    fmt, bad = _export_format(request)
    if bad:
        return bad
    if fmt:
        return exports.export((exports.job_row(j) for j in qs[:50000]), exports.JOB_COLUMNS, fmt, "gaodi-compute-jobs",
                              {"title": "算力作业 Compute jobs", "generated_at": timezone.now().isoformat()})
    return render(request, "compute/job_list.html", {"page": _page(request, qs), "query": _query(request),
                                                     "states": JobState.choices, "state": state})


@login_required
def bill_list(request):
    """The enterprise's bills (one per usage period of a job), with exports."""
    jobs = _job_rows_qs(request)
    qs = (Redemption.objects.filter(job__in=jobs).select_related("job", "organization", "pool", "provider")
          .prefetch_related("lines__voucher", "lines__program").order_by("-created_at", "-id"))
    fmt, bad = _export_format(request)
    if bad:
        return bad
    if fmt:
        return exports.export((exports.bill_row(b) for b in qs[:50000]), exports.BILL_COLUMNS, fmt,
                              "gaodi-compute-bills", {"title": "算力账单 Compute bills",
                                                      "generated_at": timezone.now().isoformat()})
    totals = qs.aggregate(list_price=Sum("list_price"), subsidy=Sum("subsidy"), payable=Sum("payable"))
    return render(request, "compute/bill_list.html", {"page": _page(request, qs), "query": _query(request),
                                                      "totals": totals})


@login_required
def application_create(request):
    organization = _enterprise(request)
    initial = {"program": request.GET.get("program")} if request.GET.get("program", "").isdigit() else None
    return form_view(request, ApplicationForm(request.POST or None, initial=initial),
                     lambda form: actions.create_application(request.user, organization, form, submit=True),
                     template="compute/form.html", success=_("申请已提交，等待主管部门审核。"),
                     next_url=_application_url,
                     context={"title": _("申请算力券"), "organization": organization, "back": "compute:workspace",
                              "submit_label": _("提交申请")})


@login_required
def application_edit(request, pk: int):
    application = get_visible_or_404(request.user, VoucherApplication, pk=pk)
    if application.organization_id not in enterprise_ids(request.user):
        raise Http404
    require(request.user, "change", application)
    return form_view(request, ApplicationForm(request.POST or None, instance=application),
                     lambda form: actions.update_application(request.user, application, form, submit=True),
                     template="compute/form.html", success=_("申请已修改并重新提交。"), next_url=_application_url,
                     context={"title": _("修改算力券申请"), "organization": application.organization,
                              "back": "compute:workspace", "submit_label": _("保存并重新提交")})


@login_required
def application_detail(request, pk: int):
    application = get_visible_or_404(request.user, VoucherApplication, pk=pk)
    if application.organization_id not in enterprise_ids(request.user):
        if can(request.user, "review", application):
            return redirect("compute:review_application", pk=pk)
        raise Http404
    transitions = [t for t in VOUCHER_APPLICATION.available(request.user, application)
                   if t.name in OWNER_TRANSITIONS and t.name != "submit"]
    return render(request, "compute/application_detail.html", {
        "application": application, "transitions": transitions, "history": VOUCHER_APPLICATION.history(application),
        "can_change": can(request.user, "change", application), "voucher": getattr(application, "voucher", None),
        "review": False})


@login_required
@require_POST
def application_transition(request, pk: int, name: str):
    application = get_visible_or_404(request.user, VoucherApplication, pk=pk)
    if application.organization_id not in enterprise_ids(request.user):
        raise Http404
    if name not in OWNER_TRANSITIONS:
        raise Http404
    try:
        if name == "withdraw":
            actions.withdraw_application(request.user, application)
        else:
            actions.submit_application(request.user, application)
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
    else:
        messages.success(request, _("操作已完成。"))
    return redirect("compute:application_detail", pk=pk)


@login_required
def voucher_detail(request, pk: int):
    voucher = get_visible_or_404(request.user, Voucher, pk=pk)
    lines = voucher.redemption_lines.select_related("redemption", "redemption__job").order_by("-id")
    return render(request, "compute/voucher_detail.html", {
        "voucher": voucher, "lines": lines, "ledger_balance": ledger.balance(ledger.voucher_account(voucher)),
        "own": voucher.organization_id in enterprise_ids(request.user)})


@login_required
def job_create(request):
    """Quote and submit: "get a quote" shows every feasible pool with its subsidy and why the first is
    recommended; "submit" queues the job on the chosen (or recommended) pool."""
    organization = _enterprise(request)
    data = None
    if request.method == "POST":
        data = request.POST.copy()
        if data.get("submit_pool"):  # "submit on this pool" from a row of the quote
            data["pool"] = data["submit_pool"]
            data["submit"] = "1"
    form = JobForm(data, organization=organization)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            if "submit" in data:
                job = actions.submit_job(request.user, organization, form)
                messages.success(request, _("作业已排队，正在提交到资源池 %(pool)s。") % {"pool": job.pool.code})
                return redirect("compute:job_detail", pk=job.pk)
            result = actions.quote_job(request.user, organization, form)
        except ValidationError as exc:
            _errors_to_form(form, exc)
    return render(request, "compute/job_form.html", {"form": form, "organization": organization, "result": result})


@login_required
def job_detail(request, pk: int):
    job = get_visible_or_404(request.user, Job, pk=pk)
    return render(request, "compute/job_detail.html", _job_context(request, job))


def _job_context(request, job: Job) -> dict:
    bills = list(job.redemptions.prefetch_related("lines__voucher", "lines__program"))
    placement = job.placement or {}
    attempts = actions.attempt_rows(job)
    return {"job": job, "events": job.events.all(), "bills": bills, "can_cancel": not job.is_terminal
            and can(request.user, "cancel", job), "logs": actions.job_logs(job, 16 * 1024),
            "polling": not job.is_terminal, "vouchers": job.vouchers.all(),
            "explanation": [explain.render(line) for line in placement.get("explanation", [])],
            "rejected": {code: explain.render(why) for code, why in sorted(placement.get("rejected", {}).items())},
            "attempts": attempts, "failovers": actions.failover_rows(job),
            "refusals": [a for a in attempts if a["outcome"] in (actions.REFUSED, actions.UNREACHABLE)]}


@login_required
def job_status(request, pk: int):
    """The status panel, refreshed by HTMX while the job runs (asks the backend each time)."""
    job = get_visible_or_404(request.user, Job, pk=pk)
    if not job.is_terminal:
        job = actions.refresh_job(job.pk, dispatch=False)
    return render(request, "compute/includes/job_status.html", _job_context(request, job))


@login_required
@require_POST
def job_cancel(request, pk: int):
    job = get_visible_or_404(request.user, Job, pk=pk)
    try:
        job = actions.cancel_job(request.user, job)
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
    else:
        messages.success(request, _("已取消作业。") if job.is_terminal else _("已请求取消，后端停止作业后状态会更新。"))
    return redirect("compute:job_detail", pk=pk)


@login_required
def bill_detail(request, pk: int):
    bill = Redemption.objects.select_related("job", "pool", "provider").filter(pk=pk).first()
    if bill is None or bill.job is None:
        raise Http404
    job = get_visible_or_404(request.user, Job, pk=bill.job_id)
    return render(request, "compute/bill_detail.html", {"bill": bill, "job": job,
                                                        "entries": bill.transaction.entries.select_related("account")})


# ---- department ---------------------------------------------------------------------------------

@login_required
def review_queue(request):
    departments = subsidy_department_ids(request.user)
    if not departments:
        raise PermissionDenied(_("只有主管算力补贴的部门审核员或管理员可以查看审核队列。"))
    pending = (VoucherApplication.objects.filter(program__department_id__in=departments,
                                                 state=ApplicationState.SUBMITTED)
               .select_related("organization", "program").order_by("deadline", "submitted_at"))
    today = timezone.localdate()
    rows = [(a, workflow.deadline_status(a.deadline, today)) for a in pending]
    return render(request, "compute/review_queue.html", {"rows": rows, "today": today})


@login_required
def application_list(request):
    """Every voucher application to the department's programmes (drafts are the firms' own), by state and
    programme, with exports: what the department handled, not only what waits."""
    departments = subsidy_department_ids(request.user)
    if not departments and not request.user.is_superuser:
        raise PermissionDenied(_("只有主管算力补贴的部门审核员或管理员可以查看算力券申请。"))
    qs = visible(request.user, VoucherApplication).exclude(state=ApplicationState.DRAFT)
    if not request.user.is_superuser:
        qs = qs.filter(program__department_id__in=departments)
    programs = SubsidyProgram.objects.filter(pk__in=qs.values("program_id")).order_by("code")
    state, program = request.GET.get("state") or "", request.GET.get("program") or ""
    if state in ApplicationState.values:
        qs = qs.filter(state=state)
    if program.isdigit():
        qs = qs.filter(program_id=int(program))
    qs = (qs.select_related("organization", "program", "program__department", "voucher")
          .order_by("-submitted_at", "-id"))
    fmt, bad = _export_format(request)
    if bad:
        return bad
    if fmt:
        return exports.export((exports.application_row(a) for a in qs[:50000]), exports.APPLICATION_COLUMNS, fmt,
                              "gaodi-voucher-applications", {"title": "算力券申请 Compute voucher applications",
                                                             "generated_at": timezone.now().isoformat()})
    states = [(v, label) for v, label in ApplicationState.choices if v != ApplicationState.DRAFT]
    return render(request, "compute/application_list.html", {
        "page": _page(request, qs), "query": _query(request), "states": states, "state": state,
        "programs": programs, "program": program})


@login_required
def review_application(request, pk: int):
    application = get_visible_or_404(request.user, VoucherApplication, pk=pk)
    require(request.user, "review", application)
    transitions = [t for t in VOUCHER_APPLICATION.available(request.user, application) if t.name in REVIEW_TRANSITIONS]
    return render(request, "compute/application_detail.html", {
        "application": application, "transitions": transitions, "history": VOUCHER_APPLICATION.history(application),
        "form": DecisionForm(initial={"approved_amount": application.amount_requested}),
        "voucher": getattr(application, "voucher", None), "review": True,
        "remaining": ledger.program_unallocated(application.program),
        "eligibility": actions.eligibility_errors(application.organization, application.program),
        "deadline_status": workflow.deadline_status(application.deadline)})


@login_required
@require_POST
def review_transition(request, pk: int, name: str):
    application = get_visible_or_404(request.user, VoucherApplication, pk=pk)
    require(request.user, "review", application)
    if name not in REVIEW_TRANSITIONS:
        raise Http404
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(m for errs in form.errors.values() for m in errs))
        return redirect("compute:review_application", pk=pk)
    comment = form.cleaned_data["comment"]
    try:
        if name == "approve":
            voucher = actions.approve_application(request.user, application, form.cleaned_data["approved_amount"],
                                                  comment)
            messages.success(request, _("已批准，发放算力券 %(no)s。") % {"no": voucher.number})
        elif name == "return":
            actions.return_application(request.user, application, comment)
            messages.success(request, _("已退回修改。"))
        else:
            actions.reject_application(request.user, application, comment)
            messages.success(request, _("已决定不予批准。"))
    except ValidationError as exc:
        messages.error(request, "；".join(_messages(exc)))
        return redirect("compute:review_application", pk=pk)
    return redirect("compute:review_queue")


def _program_url(program) -> str:
    return reverse("compute:program_detail", args=[program.pk])


@login_required
def program_create(request):
    departments = list(Organization.objects.filter(pk__in=subsidy_department_ids(request.user)))
    if not departments:
        raise PermissionDenied(_("只有主管算力补贴的部门审核员或管理员可以设立补贴项目。"))
    return form_view(request, ProgramForm(request.POST or None, departments=departments),
                     lambda form: actions.create_program(
                         request.user, form.cleaned_data.get("department") or departments[0], form),
                     template="compute/form.html", success=_("补贴项目已设立，预算已记入账本。"), next_url=_program_url,
                     context={"title": _("设立算力补贴项目"), "back": "compute:program_list"})


@login_required
def program_edit(request, pk: int):
    program = get_visible_or_404(request.user, SubsidyProgram, pk=pk)
    if not can(request.user, "change", program):
        raise Http404
    return form_view(request, ProgramForm(request.POST or None, instance=program),
                     lambda form: actions.update_program(request.user, program, form),
                     template="compute/form.html", success=_("补贴项目已更新。"), next_url=_program_url,
                     context={"title": _("修改算力补贴项目"), "back": "compute:program_list"})


@login_required
def dashboard(request):
    if not subsidy_department_ids(request.user) and not request.user.is_superuser:
        raise PermissionDenied(_("只有主管算力补贴的部门可以查看算力看板。"))
    data = stats.dashboard()
    t = data["timeline"]
    rows = list(zip(t["days"], t["jobs_submitted"], t["jobs_finished"], t["applications"], t["subsidy_spent"],
                    strict=True))
    return render(request, "compute/dashboard.html", {"data": data, "charts": _charts(data), "timeline_rows": rows})


def _pct(x) -> float:
    return round(100 * float(x or 0), 3)


def _charts(data: dict) -> dict:
    """What each ECharts chart draws, with its legend labels (the same figures are in the page's tables)."""
    util = data["utilization"]
    sme = data["sme"]
    queue = data["queue"]
    minutes = [queue[g] for g in ("all", "sme", "other")]
    return {
        "hubs": {"hubs": [h["hub_label"] for h in util["by_hub"]],
                 "utilization": [h["utilization_pct"] for h in util["by_hub"]],
                 "in_use_share": [_pct(h["in_use"] / h["count"]) if h["count"] else 0 for h in util["by_hub"]],
                 "labels": {"utilization": _("近 %(d)d 天利用率") % {"d": util["days"]}, "in_use": _("当前占用率")}},
        "pools": {"pools": [p["code"] for p in util["by_pool"]],
                  "utilization": [p["utilization_pct"] for p in util["by_pool"]],
                  "in_use_share": [_pct(p["in_use_share"]) for p in util["by_pool"]],
                  "labels": {"utilization": _("近 %(d)d 天利用率") % {"d": util["days"]}, "in_use": _("当前占用率")}},
        "sme": {"slices": [{"name": _("中小企业"), "value": sme["sme_accelerator_hours"]},
                           {"name": _("其他企业"),
                            "value": round(sme["accelerator_hours"] - sme["sme_accelerator_hours"], 2)}]},
        "queue": {"groups": [_("全部"), _("中小企业"), _("其他企业")],
                  "avg": [round((m["avg_s"] or 0) / 60, 2) for m in minutes],
                  "p95": [round((m["p95_s"] or 0) / 60, 2) for m in minutes],
                  "labels": {"avg": _("平均排队"), "p95": _("95 分位排队"), "unit": _("分钟")}},
        "subsidy": {"programs": [p["code"] for p in data["subsidy"]],
                    "spent": [p["spent"] for p in data["subsidy"]],
                    "outstanding": [p["outstanding"] for p in data["subsidy"]],
                    "unallocated": [p["unallocated"] for p in data["subsidy"]],
                    "labels": {"spent": _("已核销"), "outstanding": _("已发券未使用"), "unallocated": _("未发放预算")}},
        "timeline": {**{k: data["timeline"][k] for k in ("days", "jobs_submitted", "jobs_finished", "applications",
                                                          "subsidy_spent")},
                     "labels": {"count": _("件数"), "jobs_submitted": _("提交作业"), "jobs_finished": _("完成作业"),
                                "applications": _("算力券申请"), "subsidy_spent": _("补贴核销（元）")}},
    }

