"""Business operations of the public compute platform: one function each, one transaction each, each
writing its audit entry and enqueueing background work only after commit. Views, the API, the demo loader
and the worker's tasks all call these."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.apps.core import audit
from gaodi.apps.core.choices import OrgKind, Role, SizeClass
from gaodi.apps.core.models import Organization
from gaodi.apps.core.notifications import members_of, notify
from gaodi.apps.core.permissions import require
from gaodi.apps.core.viewutils import error_messages
from gaodi.engines.compute.backends import (
    BackendError,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpecError,
    Usage,
    reconcile,
    submit_once,
)
from gaodi.engines.compute.backends import JobState as BackendState
from gaodi.engines.compute.backends import JobStatus as BackendStatus
from gaodi.engines.compute.subsidies import quote as subsidy_quote

from . import bridge, explain, ledger, quoting, runners
from .choices import ApplicationState, JobState, Level, TransactionKind
from .forms import check_vouchers
from .models import (
    ZERO,
    Job,
    JobEvent,
    Pool,
    Redemption,
    RedemptionLine,
    Site,
    SubsidyProgram,
    Voucher,
    VoucherApplication,
)
from .policies import enterprise_ids, provider_ids, subsidy_department_ids
from .workflows import VOUCHER_APPLICATION

FEN = Decimal("0.01")
LOG_TAIL_BYTES = 64 * 1024


def _validated(form) -> dict:
    if not form.is_valid():
        raise ValidationError({field: list(errors) for field, errors in form.errors.items()})
    return form.cleaned_data


def _setting(name: str, default):
    return getattr(settings, name, default)


# ---- providers: sites and pools -----------------------------------------------------------------

def create_site(user, provider: Organization, form) -> Site:
    if provider.kind != OrgKind.COMPUTE_PROVIDER or provider.pk not in provider_ids(user):
        raise PermissionDenied(_("您不是该算力提供方的成员，不能为其登记站点。"))
    data = _validated(form)
    with transaction.atomic():
        site = form.save(commit=False)
        site.provider = provider
        site.save()
        audit.record(user, "compute.site.create", site, {"code": site.code, "hub": site.hub, **_site_facts(data)})
    return site


def _site_facts(data: dict) -> dict:
    return {k: str(data[k]) for k in ("pue", "green_share", "latency_ms") if k in data}


def update_site(user, site: Site, form) -> Site:
    require(user, "change", site)
    data = _validated(form)
    with transaction.atomic():
        site = form.save()
        audit.record(user, "compute.site.update", site, {"fields": sorted(form.changed_data), **_site_facts(data)})
    return site


def create_pool(user, form) -> Pool:
    data = _validated(form)
    require(user, "change", data["site"])
    with transaction.atomic():
        pool = form.save()
        ledger.provider_receivable(pool.site.provider)
        audit.record(user, "compute.pool.create", pool, {"code": pool.code, "count": pool.count,
                                                         "price_per_hour": pool.price_per_hour})
    return pool


def update_pool(user, pool: Pool, form) -> Pool:
    require(user, "change", pool)
    data = _validated(form)
    require(user, "change", data["site"])  # a pool may only move between the provider's own sites
    with transaction.atomic():
        pool = form.save()
        audit.record(user, "compute.pool.update", pool, {"fields": sorted(form.changed_data),
                                                         "count": pool.count, "price_per_hour": pool.price_per_hour,
                                                         "active": pool.active})
    return pool


# ---- subsidy programmes -------------------------------------------------------------------------

def create_program(user, department: Organization, form) -> SubsidyProgram:
    """Create a programme and fund its budget account from the department's funding account."""
    if department.pk not in subsidy_department_ids(user):
        raise PermissionDenied(_("您不是该部门的审核员或管理员，不能设立算力补贴项目。"))
    data = _validated(form)
    if data.get("level") == Level.DISTRICT and department.kind == OrgKind.DISTRICT \
            and data.get("district") != department.district:
        raise ValidationError({"district": _("区政府只能设立本区的区级项目。")})
    with transaction.atomic():
        program = form.save(commit=False)
        program.department = department
        program.created_by = user
        program.save()
        form.save_m2m()
        ledger.post(TransactionKind.PROGRAM_FUNDING, _("设立补贴项目 %(code)s") % {"code": program.code}, [
            ledger.Line(ledger.program_account(program), debit=program.budget),
            ledger.Line(ledger.funding_account(department), credit=program.budget),
        ], actor=user)
        audit.record(user, "compute.program.create", program, {"code": program.code, "budget": program.budget,
                                                               "rate": program.rate})
    return program


def update_program(user, program: SubsidyProgram, form) -> SubsidyProgram:
    """Change a programme. The budget may shrink only down to what is already issued as vouchers."""
    require(user, "change", program)
    data = _validated(form)
    with transaction.atomic():
        locked = SubsidyProgram.objects.select_for_update().get(pk=program.pk)
        unallocated = ledger.program_unallocated(locked)
        issued = locked.budget - unallocated
        new_budget = data["budget"]
        if new_budget < issued:
            raise ValidationError({"budget": _("预算不能低于已发放的算力券总额 %(issued)s 元。") % {"issued": issued}})
        delta = new_budget - locked.budget
        program = form.save()
        if delta:
            budget_line = (ledger.Line(ledger.program_account(program), debit=delta) if delta > 0
                           else ledger.Line(ledger.program_account(program), credit=-delta))
            funding_line = (ledger.Line(ledger.funding_account(program.department), credit=delta) if delta > 0
                            else ledger.Line(ledger.funding_account(program.department), debit=-delta))
            ledger.post(TransactionKind.PROGRAM_ADJUSTMENT,
                        _("调整补贴项目 %(code)s 预算 %(d)s 元") % {"code": program.code, "d": delta},
                        [budget_line, funding_line], actor=user)
        audit.record(user, "compute.program.update", program, {"fields": sorted(form.changed_data),
                                                               "budget": program.budget})
    return program


# ---- voucher applications -----------------------------------------------------------------------

def eligibility_errors(organization: Organization, program: SubsidyProgram, today=None) -> list[str]:
    """Why this firm may not apply to this programme (empty when it may)."""
    today = today or timezone.localdate()
    errors = []
    if not program.is_open(today):
        errors.append(_("该项目受理期为 %(a)s 至 %(b)s，今天不在受理期内。") % {"a": program.valid_from, "b": program.valid_to})
    if program.sme_only and not organization.is_sme:
        size = SizeClass(organization.size_class).label if organization.size_class else _("未确定")
        errors.append(_("该项目仅面向中小企业，本企业规模为“%(size)s”。") % {"size": size})
    if program.max_startup_age_years is not None:
        years = f"{program.max_startup_age_years:g}"
        facts = bridge.enterprise_facts(organization)
        age = facts.age_years(today)
        if age is None:
            errors.append(_("该项目仅面向成立 %(n)s 年内的初创企业，请先在机构信息中填写成立日期。") % {"n": years})
        elif age > float(program.max_startup_age_years):
            errors.append(_("该项目仅面向成立 %(n)s 年内的初创企业，本企业成立于 %(d)s。")
                          % {"n": years, "d": organization.founded_on})
    if program.large_model_developer_only and not bridge.is_large_model_developer(organization):
        errors.append(_("该项目仅面向大模型研发企业（须有已备案的生成合成类算法）。"))
    if program.level == Level.DISTRICT and organization.district != program.district:
        errors.append(_("该区级项目仅面向注册在%(d)s的企业。") % {"d": program.get_district_display()})
    return errors


def _check_application(organization, program, amount, exclude_pk=None) -> None:
    errors = eligibility_errors(organization, program)
    if errors:
        raise ValidationError({"program": errors})
    open_apps = VoucherApplication.objects.filter(
        organization=organization, program=program,
        state__in=[ApplicationState.DRAFT, ApplicationState.SUBMITTED, ApplicationState.RETURNED])
    if exclude_pk:
        open_apps = open_apps.exclude(pk=exclude_pk)
    if open_apps.exists():
        raise ValidationError({"program": _("本企业已有该项目的申请在办理中，请勿重复申请。")})
    held = bridge.usable_vouchers(organization).filter(program=program).first()
    if held:
        raise ValidationError({"program": _("本企业已持有该项目的有效算力券 %(no)s（余额 %(b)s 元），用完或到期后再申请。")
                                          % {"no": held.number, "b": held.balance}})
    remaining = ledger.program_unallocated(program)
    if amount > remaining:
        raise ValidationError({"amount_requested": _("申请金额超过项目剩余预算 %(r)s 元，请调低申请金额。") % {"r": remaining}})


def _app_url(application, review=False) -> str:
    name = "compute:review_application" if review else "compute:application_detail"
    return reverse(name, args=[application.pk])


def _reviewers(application):
    return members_of(application.program.department_id, Role.REVIEWER, Role.ADMIN)


def _owners(organization_id: int):
    return members_of(organization_id, Role.MEMBER, Role.ADMIN)


def create_application(user, organization: Organization, form, submit: bool = True) -> VoucherApplication:
    """Save an application for the user's enterprise and, unless submit=False, send it to the department."""
    if organization.kind != OrgKind.ENTERPRISE or organization.pk not in enterprise_ids(user):
        raise PermissionDenied(_("您不是该企业的成员，不能为其申请算力券。"))
    data = _validated(form)
    with transaction.atomic():
        _check_application(organization, data["program"], data["amount_requested"])
        application = VoucherApplication.objects.create(
            organization=organization, program=data["program"], amount_requested=data["amount_requested"],
            purpose=data["purpose"], created_by=user)
        audit.record(user, "compute.application.create", application,
                     {"program": application.program.code, "amount": application.amount_requested})
        if submit:
            _submit(user, application)
    return application


def update_application(user, application: VoucherApplication, form, submit: bool = True) -> VoucherApplication:
    require(user, "change", application)
    data = _validated(form)
    with transaction.atomic():
        application = VoucherApplication.objects.select_for_update().get(pk=application.pk)
        require(user, "change", application)  # re-check under the lock
        _check_application(application.organization, data["program"], data["amount_requested"], application.pk)
        application.program = data["program"]
        application.amount_requested = data["amount_requested"]
        application.purpose = data["purpose"]
        application.save()
        audit.record(user, "compute.application.update", application, {"fields": sorted(form.changed_data)})
        if submit:
            _submit(user, application)
    return application


def _submit(user, application) -> None:
    VOUCHER_APPLICATION.apply(application, "submit", user)
    application.submitted_at = timezone.now()
    application.save(update_fields=["submitted_at"])
    audit.record(user, "compute.application.submit", application, {"deadline": application.deadline})
    notify(_reviewers(application), _("新的算力券申请待审核：%(org)s 申请 %(amount)s 元")
           % {"org": application.organization.name, "amount": application.amount_requested},
           _app_url(application, True))


def submit_application(user, application: VoucherApplication) -> VoucherApplication:
    require(user, "submit", application)
    with transaction.atomic():
        application = VoucherApplication.objects.select_for_update().get(pk=application.pk)
        _check_application(application.organization, application.program, application.amount_requested,
                           application.pk)
        _submit(user, application)
    return application


def _transition(user, application, name: str, comment: str = "") -> VoucherApplication:
    application = (VoucherApplication.objects.select_for_update(of=("self",)).select_related("program")
                   .get(pk=application.pk))
    VOUCHER_APPLICATION.apply(application, name, user, comment)
    audit.record(user, f"compute.application.{name}", application, {"comment": comment})
    return application


def withdraw_application(user, application: VoucherApplication) -> VoucherApplication:
    with transaction.atomic():
        return _transition(user, application, "withdraw")


def return_application(user, application: VoucherApplication, comment: str) -> VoucherApplication:
    with transaction.atomic():
        application = _transition(user, application, "return", comment)
        notify(_owners(application.organization_id), _("您的算力券申请被退回修改：%(c)s") % {"c": comment},
               _app_url(application))
    return application


def reject_application(user, application: VoucherApplication, comment: str) -> VoucherApplication:
    with transaction.atomic():
        application = _transition(user, application, "reject", comment)
        application.decided_at = timezone.now()
        application.save(update_fields=["decided_at"])
        notify(_owners(application.organization_id), _("您的算力券申请未予批准：%(c)s") % {"c": comment},
               _app_url(application))
    return application


def approve_application(user, application: VoucherApplication, amount: Decimal | None = None,
                        comment: str = "") -> Voucher:
    """Approve against the programme's remaining budget and issue the voucher. The programme row is locked, so
    concurrent approvals can never issue more than the budget."""
    require(user, "review", application)
    with transaction.atomic():
        application = VoucherApplication.objects.select_for_update().get(pk=application.pk)
        program = SubsidyProgram.objects.select_for_update().get(pk=application.program_id)
        amount = application.amount_requested if amount is None else Decimal(amount)
        if amount <= 0 or amount.as_tuple().exponent < -2:
            raise ValidationError({"approved_amount": _("批准金额须为大于 0 的金额，精确到分。")})
        if amount > application.amount_requested:
            raise ValidationError({"approved_amount": _("批准金额不能超过申请金额 %(r)s 元。")
                                                     % {"r": application.amount_requested}})
        today = timezone.localdate()
        if today > program.valid_to:
            raise ValidationError({"transition": _("补贴项目已于 %(d)s 到期，不能再发放算力券。") % {"d": program.valid_to}})
        remaining = ledger.program_unallocated(program)
        if amount > remaining:
            raise ValidationError({"approved_amount": _("项目剩余预算只有 %(r)s 元，不能批准 %(a)s 元；可调低批准金额。")
                                                     % {"r": remaining, "a": amount}})
        VOUCHER_APPLICATION.apply(application, "approve", user, comment)
        application.approved_amount = amount
        application.decided_at = timezone.now()
        application.save(update_fields=["approved_amount", "decided_at"])
        serial = Voucher.objects.filter(program=program).count() + 1
        voucher = Voucher.objects.create(
            number=f"CV-{today.year}-{program.pk:03d}-{serial:05d}", application=application,
            organization=application.organization, program=program, amount=amount, balance=amount,
            valid_from=today, expires_on=program.valid_to, issued_by=user)
        ledger.post(TransactionKind.VOUCHER_ISSUE, _("发放算力券 %(no)s") % {"no": voucher.number}, [
            ledger.Line(ledger.voucher_account(voucher), debit=amount),
            ledger.Line(ledger.program_account(program), credit=amount),
        ], actor=user)
        ledger.enterprise_payable(application.organization)
        audit.record(user, "compute.application.approve", application, {"voucher": voucher.number, "amount": amount})
        notify(_owners(application.organization_id),
               _("您的算力券申请已批准：券号 %(no)s，面额 %(a)s 元，%(d)s 到期。")
               % {"no": voucher.number, "a": amount, "d": voucher.expires_on},
               reverse("compute:voucher_detail", args=[voucher.pk]))
    return voucher


def lapse_expired_vouchers(today=None) -> int:
    """Return the unspent rest of vouchers expired for more than the grace period to their programmes."""
    today = today or timezone.localdate()
    grace = int(_setting("GAODI_COMPUTE_VOUCHER_GRACE_DAYS", 7))
    count = 0
    for pk in Voucher.objects.filter(lapsed_at__isnull=True, expires_on__lt=today - timedelta(days=grace),
                                      balance__gt=0).values_list("pk", flat=True):
        with transaction.atomic():
            voucher = Voucher.objects.select_for_update(of=("self",)).select_related("program").get(pk=pk)
            if voucher.lapsed_at is not None or voucher.balance <= 0:
                continue
            rest = voucher.balance
            ledger.post(TransactionKind.VOUCHER_LAPSE, _("算力券 %(no)s 到期，余额收回") % {"no": voucher.number}, [
                ledger.Line(ledger.program_account(voucher.program), debit=rest),
                ledger.Line(ledger.voucher_account(voucher), credit=rest),
            ])
            voucher.balance = ZERO
            voucher.lapsed_at = timezone.now()
            voucher.save(update_fields=["balance", "lapsed_at"])
            audit.record(None, "compute.voucher.lapse", voucher, {"returned": rest})
            count += 1
    return count


# ---- jobs ---------------------------------------------------------------------------------------

def _event(job: Job, message: str) -> None:
    JobEvent.objects.create(job=job, state=job.state, message=message[:500])


def _require_enterprise(user, organization: Organization) -> None:
    if organization.kind != OrgKind.ENTERPRISE or organization.pk not in enterprise_ids(user):
        raise PermissionDenied(_("您不是该企业的成员，不能为其使用算力。"))


def quote_job(user, organization: Organization, form) -> quoting.QuoteResult:
    """Price the request on every feasible pool with the firm's vouchers; nothing is saved."""
    _require_enterprise(user, organization)
    return quoting.make_quote(organization, _validated(form))


def submit_job(user, organization: Organization, form) -> Job:
    """Queue a batch job on the chosen pool (or the recommended one). A background task submits it to the
    pool's backend after this transaction commits."""
    _require_enterprise(user, organization)
    data = _validated(form)
    check_vouchers(organization, data.get("vouchers") or [])
    result = quoting.make_quote(organization, data)
    wanted = data.get("pool") or ""
    chosen = result.option_for(wanted) if wanted else result.choice
    if chosen is None:
        why = result.rejected.get(wanted, _("不存在或已停止对外提供"))
        raise ValidationError({"pool": _("资源池 %(p)s 不能运行此作业（%(why)s）：请选择报价中列出的资源池，或留空自动选择。")
                                       % {"p": wanted, "why": why}})
    quote, placement = quoting.snapshot(result, chosen)
    pool = result.pools[chosen["pool"]["code"]]
    with transaction.atomic():
        job = Job.objects.create(
            organization=organization, created_by=user, name=data["name"], script=data["script"],
            accelerators=data["accelerators"], accelerator_models=list(result.placement.request.accelerator_models),
            estimated_hours=data["estimated_hours"], deadline=data.get("deadline"), data_region=data["data_region"],
            data_may_leave=bool(data.get("data_may_leave")), data_grade=data.get("data_grade") or "general",
            data_size_gb=data.get("data_size_gb") or ZERO, data_location=data.get("data_location") or "",
            workload=data.get("workload") or "training", preference=data.get("preference") or "cheapest",
            budget_cap=data.get("budget_cap"), pool=pool, backend=pool.backend, quote=quote, placement=placement)
        job.vouchers.set(data.get("vouchers") or [])
        ledger.enterprise_payable(organization)
        ledger.provider_receivable(pool.site.provider)
        _event(job, _("已排队，将提交到资源池 %(pool)s（%(backend)s）。") % {"pool": pool.code,
                                                                  "backend": pool.get_backend_display()})
        audit.record(user, "compute.job.submit", job, {"pool": pool.code, "accelerators": job.accelerators,
                                                       "estimated_hours": job.estimated_hours,
                                                       "quote_pays": quote["pays"],
                                                       "vouchers": [v.number for v in data.get("vouchers") or []]})
        transaction.on_commit(lambda: _schedule("dispatch_job", job.pk))
    return job


def _schedule(task_name: str, job_id: int, delay_s: float = 0) -> None:
    from . import tasks

    tasks.schedule(getattr(tasks, task_name), job_id, delay_s=delay_s)


def _retry_delay(attempts: int) -> float:
    base = float(_setting("GAODI_COMPUTE_RETRY_BASE_S", 5))
    return min(300.0, base * 2 ** max(0, attempts - 1))


def _lease_s() -> float:
    """How long a dispatcher holds a queued job while it talks to the backend (others leave it alone)."""
    return float(_setting("GAODI_COMPUTE_DISPATCH_LEASE_S", 120))


def _failover_after_s() -> float | None:
    """After how long an outage of a pool's backend the job moves to the next feasible pool (None: never)."""
    value = _setting("GAODI_COMPUTE_FAILOVER_AFTER_S", 900)
    return None if value in (None, "") else float(value)


# Outcomes of one submission attempt (Job.pool_attempts).
SENDING, SUBMITTED, ADOPTED = "sending", "submitted", "adopted"
REFUSED, UNREACHABLE, UNAVAILABLE, UNKNOWN, FOUND_NONE = "refused", "unreachable", "unavailable", "unknown", "not_found"
_OPEN_OUTCOMES = (SENDING, UNKNOWN)  # the backend may hold the job: look its name up before anything else
_EXCLUDED_OUTCOMES = (REFUSED, UNREACHABLE)  # the job never goes back to such a pool


def _name_may_be_on_backend(job: Job) -> bool:
    """An earlier attempt under the job's current name may have reached the backend (its answer was lost, or
    the process stopped before recording it)."""
    return bool(job.backend_name) and any(a.get("name") == job.backend_name and a.get("outcome") in _OPEN_OUTCOMES
                                          for a in job.pool_attempts)


def _refusals(job: Job) -> dict[str, str]:
    """Pools that refused the job or cannot run it here, with what each said (the latest word per pool)."""
    out: dict[str, str] = {}
    for a in job.pool_attempts:
        if a.get("outcome") in _EXCLUDED_OUTCOMES:
            out[a["pool"]] = a.get("reason") or a.get("outcome")
    return out


def _outage_started(job: Job):
    """When the current pool's backend stopped answering this job (the first of the unbroken run of
    "unavailable" attempts on it), or None."""
    started = None
    for a in job.pool_attempts:
        if a.get("pool") != job.pool.code:
            started = None
        elif a.get("outcome") == UNAVAILABLE:
            started = started or a.get("at")
        elif a.get("outcome") != SENDING:
            started = None
    return datetime.fromisoformat(started) if started else None


def dispatch_job(job_id: int) -> Job:
    """Submit a queued job to its pool's backend, failing over as SkyPilot does.

    - Accepted: the job is on the backend (pending), and followed by polls.
    - Refused (the backend refuses this job for good), or the pool's backend cannot run here at all: the job
      moves to the next feasible pool of a fresh placement without the pools that refused it (the same
      rules: model, count, data residency, deadline, budget cap); when none is left it fails, with every
      pool's reason.
    - Down (an outage): the job stays queued and is retried with back-off, never lost, never failed for it;
      after GAODI_COMPUTE_FAILOVER_AFTER_S of outage it moves to the next feasible pool, if there is one.
    - Answer lost (maybe submitted): it stays queued; before anything is submitted again, the job's unique
      name is looked up on the backend, so it is never submitted twice.

    The backend is called outside the database transaction, under a lease (`next_attempt_at`) that keeps
    other dispatchers away; the attempt is recorded before the call, so a crash in between is looked up too.
    """
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update(of=("self",)).select_related("pool").get(pk=job_id)
        if job.state != JobState.QUEUED:
            return job
        if job.next_attempt_at is not None and job.next_attempt_at > now:
            return job  # not due yet, or another dispatcher holds the lease
        look_up = _name_may_be_on_backend(job)
        if job.cancel_requested and not look_up:
            job.state, job.finished_at, job.reason = JobState.CANCELLED, now, "cancelled by request"
            job.save()
            _event(job, _("已取消（尚未提交到后端）。"))
            return job
        if not job.backend_name:
            job.backend_name = runners.new_backend_name(job)
        job.attempts += 1
        job.pool_attempts = [*job.pool_attempts, {"pool": job.pool.code, "backend": job.pool.backend,
                                                  "name": job.backend_name, "outcome": SENDING, "reason": "",
                                                  "at": now.isoformat()}]
        job.next_attempt_at = now + timedelta(seconds=_lease_s())
        job.save(update_fields=["backend_name", "attempts", "pool_attempts", "next_attempt_at"])
        pool, cancel_only = job.pool, job.cancel_requested

    outcome, backend_id, message = _call_backend(job, pool, look_up, cancel_only)
    return _record_attempt(job.pk, outcome, backend_id, message)


def _call_backend(job: Job, pool: Pool, look_up: bool, cancel_only: bool) -> tuple[str, str, str]:
    """(outcome, backend job id, what the backend said) of one attempt. No database writes here."""
    try:
        spec = runners.job_spec(job)
    except JobSpecError as exc:
        return "spec", "", str(exc)
    try:
        backend = runners.backend_for_pool(pool)
        if cancel_only:  # the firm cancelled while the outcome of an earlier attempt was open
            found = backend.find(spec.name)
            return (ADOPTED, found[0], "") if found else (FOUND_NONE, "", "")
        backend_id, adopted = submit_once(backend, spec, look_first=look_up)
    except runners.BackendUnusable as exc:
        return UNREACHABLE, "", str(exc)
    except BackendUnavailable as exc:
        return (UNKNOWN if exc.maybe_submitted else UNAVAILABLE), "", str(exc)
    except (JobRejected, JobSpecError) as exc:
        return REFUSED, "", str(exc)
    except BackendError as exc:  # an answer we cannot read: as good as no answer
        return UNAVAILABLE, "", str(exc)
    return (ADOPTED if adopted else SUBMITTED), backend_id, ""


def _record_attempt(job_id: int, outcome: str, backend_id: str, message: str) -> Job:
    now = timezone.now()
    retry_in = None
    with transaction.atomic():
        job = Job.objects.select_for_update(of=("self",)).select_related("pool", "created_by").get(pk=job_id)
        attempts = list(job.pool_attempts)
        attempt = dict(attempts[-1]) if attempts else {"pool": job.pool.code, "backend": job.pool.backend,
                                                       "name": job.backend_name, "at": now.isoformat()}
        attempt.update(outcome=outcome if outcome != "spec" else REFUSED, reason=message[:1000],
                       answered_at=now.isoformat())
        if backend_id:
            attempt["backend_job_id"] = backend_id
        job.pool_attempts = [*attempts[:-1], attempt] if attempts else [attempt]
        job.next_attempt_at = None
        if job.state != JobState.QUEUED:  # cannot happen through the actions (they wait for the lease)
            job.save(update_fields=["pool_attempts", "next_attempt_at"])
            return job
        if outcome in (SUBMITTED, ADOPTED):
            _on_backend(job, backend_id, adopted=outcome == ADOPTED, now=now)
        elif outcome == FOUND_NONE:  # cancelled, and the earlier attempt never reached the backend
            job.state, job.finished_at, job.reason = JobState.CANCELLED, now, "cancelled by request"
            job.save()
            _event(job, _("已取消：确认作业未提交到后端。"))
        elif outcome == "spec":  # the job itself is invalid: no pool can take it
            _fail(job, now, message, message)
        elif outcome in (REFUSED, UNREACHABLE):
            code = "failover.refused" if outcome == REFUSED else "failover.unreachable"
            why = explain.coded(code, message, pool=job.pool.code, backend=job.pool.backend, reason=message)
            _event(job, explain.render(why))
            audit.record(None, "compute.job.refused", job, {"pool": job.pool.code, "outcome": outcome,
                                                            "error": message})
            _fail_over(job, now, why)
        elif outcome == UNKNOWN:
            retry_in = _retry_delay(job.attempts)
            job.last_error = message[:2000]
            job.next_attempt_at = now + timedelta(seconds=retry_in)
            job.save()
            _event(job, _("提交到资源池 %(pool)s 的结果未知（后端未回答），将先按作业名 %(name)s 查询后端，"
                          "确认未提交才会重新提交；约 %(s)d 秒后重试：%(e)s")
                   % {"pool": job.pool.code, "name": job.backend_name, "s": retry_in, "e": message})
        else:  # UNAVAILABLE
            started = _outage_started(job)
            limit = _failover_after_s()
            moved = False
            # Never while an earlier submission on this pool may have gone through: it could still run there.
            if started is not None and limit is not None and (now - started).total_seconds() >= limit \
                    and not _name_may_be_on_backend(job):
                why = explain.coded("failover.outage", message, pool=job.pool.code, reason=message,
                                    minutes=int((now - started).total_seconds() // 60))
                moved = _fail_over(job, now, why, outage=True)
            if not moved:
                retry_in = _retry_delay(job.attempts)
                job.last_error = message[:2000]
                job.next_attempt_at = now + timedelta(seconds=retry_in)
                job.save()
                _event(job, _("资源池 %(pool)s 的调度后端暂不可用，作业保持排队，约 %(s)d 秒后重试：%(e)s")
                       % {"pool": job.pool.code, "s": retry_in, "e": message})
    if retry_in is not None:
        _schedule("dispatch_job", job.pk, retry_in)
    return job


def _on_backend(job: Job, backend_id: str, adopted: bool, now) -> None:
    job.backend_job_id = backend_id
    job.state, job.submitted_at, job.last_error = JobState.PENDING, now, ""
    job.save()
    if adopted:
        _event(job, _("按作业名 %(name)s 在后端找到了此前已提交的作业 %(id)s，沿用它，不重复提交。")
               % {"name": job.backend_name, "id": backend_id})
    else:
        _event(job, _("已提交到资源池 %(pool)s 的调度后端，后端作业号 %(id)s。") % {"pool": job.pool.code, "id": backend_id})
    audit.record(None, "compute.job.dispatch", job, {"pool": job.pool.code, "backend": job.backend,
                                                     "backend_job_id": backend_id, "attempt": job.attempts,
                                                     "adopted": adopted})
    pk = job.pk
    if job.cancel_requested:
        transaction.on_commit(lambda: _send_cancel(pk))
    transaction.on_commit(lambda: _schedule("poll_job", pk, poll_interval()))


def _send_cancel(job_id: int) -> None:
    job = Job.objects.select_related("pool").get(pk=job_id)
    try:
        runners.backend_for_pool(job.pool).cancel(job.backend_job_id)
    except (JobNotFound, BackendUnavailable):
        pass  # reconcile_jobs sends pending cancellations when the backend answers


def _fail_over(job: Job, now, why: dict, outage: bool = False) -> bool:
    """Move the job to the next feasible pool (placed afresh without the pools that refused it, nor, after an
    outage, the pool that is down). Fails the job when no pool is left, unless the current pool is only down.
    Returns True when the job moved (or failed); the caller holds the job's row lock."""
    refused = _refusals(job)
    exclude = {**refused, **({job.pool.code: why["note"]} if outage else {})}
    try:
        result = quoting.make_quote(job.organization, quoting.job_data(job), now=now, failed=exclude)
        option = result.choice
    except ValidationError as exc:
        if outage:
            return False  # nowhere else to go: keep waiting for this pool's backend
        reasons = "；".join(error_messages(exc))
        _event(job, explain.render(explain.coded("failover.none_left", reasons, reason=reasons)))
        _fail(job, now, _("没有资源池能运行此作业：每个可行资源池都拒绝了它。"), _("；").join(
            [f"{code}：{msg}" for code, msg in refused.items()] + [reasons]))
        return True
    if outage:  # a refusal was announced by the caller; an outage only once it moves the job
        _event(job, explain.render(why))
    new_pool = result.pools[option["pool"]["code"]]
    old_code = job.pool.code
    placement = dict(job.placement or {})
    placement["failover"] = [*placement.get("failover", []), {
        "from": old_code, "to": new_pool.code, "at": now.isoformat(), "why": why,
        "rejected": result.rejected_codes}]
    placement["chosen"] = new_pool.code
    job.placement = placement
    job.pool, job.backend, job.quote = new_pool, new_pool.backend, option
    job.backend_name, job.last_error = "", str(why.get("note", ""))[:2000]
    job.next_attempt_at = None
    job.save()
    ledger.provider_receivable(new_pool.site.provider)
    _event(job, explain.render(explain.coded("failover.moved", "", to=new_pool.code, backend=new_pool.backend,
                                             pays=option["pays"])))
    audit.record(None, "compute.job.failover", job, {"from": old_code, "to": new_pool.code,
                                                     "why": why.get("note", ""), "pays": option["pays"]})
    pk = job.pk
    transaction.on_commit(lambda: _schedule("dispatch_job", pk))
    return True


def _fail(job: Job, now, reason: str, detail: str) -> None:
    job.state, job.finished_at = JobState.FAILED, now
    job.reason = reason[:300]
    job.last_error = detail[:2000]
    job.save()
    _event(job, _("作业无法运行：%(e)s") % {"e": reason})
    audit.record(None, "compute.job.rejected", job, {"error": detail})
    notify([job.created_by], _("作业 %(name)s 无法运行：%(e)s") % {"name": job.name, "e": reason},
           reverse("compute:job_detail", args=[job.pk]))


def attempt_rows(job: Job) -> list[dict]:
    """The job's submission attempts for its page and the API, with each outcome in the reader's language."""
    labels = {SENDING: _("提交中"), SUBMITTED: _("已提交"), ADOPTED: _("已找到此前提交的作业"), REFUSED: _("拒绝"),
              UNREACHABLE: _("后端不可用（未安装或配置有误）"), UNAVAILABLE: _("后端暂时无法连接"),
              UNKNOWN: _("结果未知，待查询"), FOUND_NONE: _("确认未提交")}
    return [{"pool": a.get("pool", ""), "backend": a.get("backend", ""), "name": a.get("name", ""),
             "outcome": a.get("outcome", ""), "outcome_label": str(labels.get(a.get("outcome"), a.get("outcome"))),
             "reason": a.get("reason", ""), "backend_job_id": a.get("backend_job_id", ""),
             "at": a.get("at", ""), "at_display": _local(a.get("at"))} for a in job.pool_attempts]


def failover_rows(job: Job) -> list[dict]:
    """Each move to another pool: from, to, why (rendered), and why the other pools did not qualify."""
    return [{"from": f.get("from", ""), "from_pool": f.get("from", ""), "to": f.get("to", ""), "why": explain.render(f.get("why")),
             "at_display": _local(f.get("at"))} for f in (job.placement or {}).get("failover", [])]


def _local(iso) -> str:
    try:
        return f"{timezone.localtime(datetime.fromisoformat(iso)):%Y-%m-%d %H:%M:%S}"
    except (TypeError, ValueError):
        return ""


def poll_interval() -> float:
    return float(_setting("GAODI_COMPUTE_POLL_S", 3))


def refresh_job(job_id: int, dispatch: bool = True) -> Job:
    """Ask the backend where the job is now and record what changed (start, end, usage, bill). A backend that
    cannot be reached changes nothing; the next poll or reconciliation asks again. A queued job whose retry
    time has come is submitted, unless dispatch=False (page views leave that to the worker)."""
    job = Job.objects.select_related("pool").get(pk=job_id)
    if job.state == JobState.QUEUED and dispatch:
        if job.next_attempt_at is None or job.next_attempt_at <= timezone.now():
            return dispatch_job(job.pk)
        return job
    if awaiting_usage(job):
        return collect_usage(job.pk)
    if not job.on_backend:
        return job
    try:
        backend = runners.backend_for_pool(job.pool)
        for change in reconcile({job.backend_job_id: BackendState(job.state)}, backend):
            apply_status(job.pk, change.after, backend)
    except BackendUnavailable as exc:
        Job.objects.filter(pk=job.pk).update(last_error=str(exc)[:2000])
    job = Job.objects.select_related("pool").get(pk=job.pk)
    return collect_usage(job.pk) if awaiting_usage(job) else job


def _dt(epoch_dt: datetime | None) -> datetime | None:
    return epoch_dt if epoch_dt is None or timezone.is_aware(epoch_dt) else timezone.make_aware(epoch_dt)


def apply_status(job_id: int, status: BackendStatus, backend) -> Job:
    """Record a backend status: running, or finished with its usage, logs and bill (in one transaction)."""
    with transaction.atomic():
        job = (Job.objects.select_for_update(of=("self",))
               .select_related("pool", "pool__site__provider", "organization").get(pk=job_id))
        if job.is_terminal or not job.on_backend:
            return job
        now = timezone.now()
        if status.state is BackendState.RUNNING and job.state != JobState.RUNNING:
            job.state = JobState.RUNNING
            job.started_at = job.started_at or now
            job.save(update_fields=["state", "started_at"])
            _event(job, _("作业开始运行。"))
        elif status.state.is_terminal:
            usage = None
            try:
                usage = backend.usage(job.backend_job_id)
            except JobNotFound:
                usage = None
            try:
                job.log_tail = backend.logs(job.backend_job_id, LOG_TAIL_BYTES)
            except BackendError:
                pass
            job.state = JobState(status.state.value)
            job.exit_code = status.exit_code
            job.reason = (status.reason or status.backend_state or "")[:300]
            job.finished_at = now
            if usage is not None and not usage.complete:
                usage = None  # the accounting has not recorded the end yet: collect_usage asks again
                job.usage_source = AWAITING_USAGE
            if usage is not None:
                job.started_at = _dt(usage.start) or job.started_at
                job.finished_at = _dt(usage.end) or now
                job.elapsed_s = usage.elapsed_s
                # What the job held: the backend's count, or (when it does not count accelerators) the request.
                job.accelerator_seconds = usage.accelerator_seconds or (job.accelerators * usage.elapsed_s)
                job.usage_source = (usage.source or "")[:200]
            job.save()
            _event(job, _("作业结束：%(state)s%(reason)s。") % {"state": job.get_state_display(),
                                                          "reason": f"（{job.reason}）" if job.reason else ""})
            audit.record(None, f"compute.job.{job.state}", job, {"exit_code": job.exit_code, "reason": job.reason,
                                                                 "elapsed_s": job.elapsed_s})
            bill = None
            if usage is not None and _billable(usage):
                bill = bill_usage(job, usage)
            message = _("作业 %(name)s 已结束：%(state)s。") % {"name": job.name, "state": job.get_state_display()}
            if bill is not None:
                message += _("挂牌价 %(l)s 元，算力券抵扣 %(s)s 元，应付 %(p)s 元。") % {
                    "l": bill.list_price, "s": bill.subsidy, "p": bill.payable}
            notify([job.created_by], message, reverse("compute:job_detail", args=[job.pk]))
    return job


AWAITING_USAGE = "waiting for the backend's accounting"


def awaiting_usage(job: Job) -> bool:
    return job.is_terminal and job.usage_source == AWAITING_USAGE


def collect_usage(job_id: int) -> Job:
    """Bill a finished job whose usage the backend's accounting had not recorded when it ended (Slurm's
    slurmdbd lags the controller). Asked by the polls and by reconciliation until the record is there, or
    for at most GAODI_COMPUTE_USAGE_WAIT_S (default a day) after the job ended."""
    job = Job.objects.select_related("pool").get(pk=job_id)
    if not awaiting_usage(job):
        return job
    try:
        backend = runners.backend_for_pool(job.pool)
        usage = backend.usage(job.backend_job_id)
    except JobNotFound:
        usage = None
    except BackendUnavailable:
        return job  # asked again at the next poll or reconciliation
    with transaction.atomic():
        job = (Job.objects.select_for_update(of=("self",))
               .select_related("pool", "pool__site__provider", "organization").get(pk=job_id))
        if not awaiting_usage(job):
            return job
        if usage is not None and not usage.complete:
            waited = (timezone.now() - (job.finished_at or timezone.now())).total_seconds()
            if waited < float(_setting("GAODI_COMPUTE_USAGE_WAIT_S", 86400)):
                return job
            usage = None
        if usage is None:
            job.usage_source = "no usage record from the backend"
            job.save(update_fields=["usage_source"])
            _event(job, _("调度后端没有此作业的用量记录，未产生费用。"))
            return job
        job.started_at = _dt(usage.start) or job.started_at
        job.finished_at = _dt(usage.end) or job.finished_at
        job.elapsed_s = usage.elapsed_s
        job.accelerator_seconds = usage.accelerator_seconds or (job.accelerators * usage.elapsed_s)
        job.usage_source = (usage.source or "")[:200]
        job.save()
        if _billable(usage):
            bill = bill_usage(job, usage)
            _event(job, _("已按调度后端记账的用量结算：挂牌价 %(l)s 元，算力券抵扣 %(s)s 元，应付 %(p)s 元。")
                   % {"l": bill.list_price, "s": bill.subsidy, "p": bill.payable})
    return job


def cancel_job(user, job: Job) -> Job:
    """Cancel a queued or running job. A backend that is down keeps the request; reconciliation sends it.
    A queued job whose earlier submission may have reached the backend is cancelled once its name has been
    looked up (and the job found there, if it is, cancelled on the backend)."""
    require(user, "cancel", job)
    with transaction.atomic():
        job = Job.objects.select_for_update(of=("self",)).select_related("pool").get(pk=job.pk)
        if job.is_terminal:
            raise ValidationError({"state": _("作业已结束（%(s)s），无需取消。") % {"s": job.get_state_display()}})
        if job.state == JobState.QUEUED:
            job.cancel_requested = True
            if _name_may_be_on_backend(job):
                job.save(update_fields=["cancel_requested"])
                _event(job, _("已请求取消：先确认作业是否已提交到后端，再取消。"))
                audit.record(user, "compute.job.cancel", job, {"on_backend": "unknown"})
                pk = job.pk
                transaction.on_commit(lambda: _schedule("dispatch_job", pk))
                return job
            job.state, job.finished_at, job.reason = JobState.CANCELLED, timezone.now(), "cancelled by request"
            job.save()
            _event(job, _("已取消（尚未提交到后端）。"))
            audit.record(user, "compute.job.cancel", job, {"on_backend": False})
            return job
        job.cancel_requested = True
        job.save(update_fields=["cancel_requested"])
        _event(job, _("已请求取消。"))
        audit.record(user, "compute.job.cancel", job, {"on_backend": True})
    try:
        runners.backend_for_pool(job.pool).cancel(job.backend_job_id)
    except JobNotFound:
        pass
    except BackendUnavailable:
        return job  # the request is kept; reconcile_jobs sends it when the backend answers
    return refresh_job(job.pk)


def job_logs(job: Job, tail_bytes: int = LOG_TAIL_BYTES) -> str:
    """The end of the job's output: live from the backend while it runs, the saved tail once it ended."""
    if job.is_terminal or not job.backend_job_id:
        return job.log_tail
    try:
        return runners.backend_for_pool(job.pool).logs(job.backend_job_id, tail_bytes)
    except BackendError:
        return job.log_tail


def reconcile_jobs() -> dict:
    """Repair the platform's view of its jobs (after a restart, and periodically): submit queued jobs whose
    retry time has come (looking up first any whose earlier submission may have gone through), ask every
    backend about the jobs it holds, send pending cancellations and return the rest of long-expired vouchers.
    Idempotent; a backend that is down is skipped and asked next time."""
    summary = {"dispatched": 0, "updated": 0, "unavailable": [], "cancel_sent": 0, "lapsed": 0}
    now = timezone.now()
    for pk in Job.objects.filter(state=JobState.QUEUED).values_list("pk", flat=True):
        job = Job.objects.get(pk=pk)
        if job.next_attempt_at is None or job.next_attempt_at <= now:
            if dispatch_job(pk).state != JobState.QUEUED:
                summary["dispatched"] += 1
    jobs = list(Job.objects.filter(state__in=[JobState.PENDING, JobState.RUNNING]).exclude(backend_job_id="")
                .select_related("pool"))
    for pool_id in sorted({j.pool_id for j in jobs}):
        group = [j for j in jobs if j.pool_id == pool_id]
        kind = group[0].pool.backend
        try:
            backend = runners.backend_for_pool(group[0].pool)
            for j in group:
                if j.cancel_requested:
                    try:
                        backend.cancel(j.backend_job_id)
                        summary["cancel_sent"] += 1
                    except JobNotFound:
                        pass
            by_id = {j.backend_job_id: j for j in group}
            for change in reconcile({j.backend_job_id: BackendState(j.state) for j in group}, backend):
                apply_status(by_id[change.job_id].pk, change.after, backend)
                summary["updated"] += 1
        except BackendUnavailable:
            if kind not in summary["unavailable"]:
                summary["unavailable"].append(kind)
    for pk in Job.objects.filter(usage_source=AWAITING_USAGE).values_list("pk", flat=True):
        if not awaiting_usage(collect_usage(pk)):
            summary["updated"] += 1
    summary["lapsed"] = lapse_expired_vouchers()
    return summary


# ---- billing ------------------------------------------------------------------------------------

def usage_key(job: Job, usage: Usage) -> str:
    def stamp(value):
        return value.strftime("%Y%m%dT%H%M%S") if value else "-"

    return f"job-{job.pk}:{stamp(usage.start)}/{stamp(usage.end)}"


def billed_seconds(elapsed_s: float, started: bool = False) -> int:
    """Usage is billed per started increment (default: a minute) of allocated accelerators. A job that started
    has started its first increment, even when the backend counts whole seconds and says 0 (Slurm)."""
    step = int(_setting("GAODI_COMPUTE_BILLING_INCREMENT_S", 60))
    if elapsed_s <= 0:
        return step if started else 0
    return int(math.ceil(elapsed_s / step) * step)


def _billable(usage: Usage) -> bool:
    return usage.elapsed_s > 0 or usage.start is not None


def bill_usage(job: Job, usage: Usage, key: str | None = None, actor=None) -> Redemption:
    """Bill one usage period of a job: list price, the subsidy of each voucher (the engine's quote, never more
    than a voucher's balance), and the rest payable by the firm, as one balanced ledger transaction.

    Idempotent: the same key (default: job and usage period) returns the first bill and writes nothing.
    The firm's row and the vouchers' rows are locked, so concurrent bills never overspend a voucher nor a cap.
    """
    key = key or usage_key(job, usage)
    existing = Redemption.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _bill(job, usage, key, actor)
    except IntegrityError:
        existing = Redemption.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return existing


def _bill(job: Job, usage: Usage, key: str, actor) -> Redemption:
    org = Organization.objects.select_for_update().get(pk=job.organization_id)
    vouchers = list(Voucher.objects.select_for_update(of=("self",)).select_related("program")
                    .filter(pk__in=job.vouchers.values_list("pk", flat=True)).order_by("pk"))
    existing = Redemption.objects.filter(idempotency_key=key).first()  # a concurrent bill got here first
    if existing is not None:
        return existing
    pool = Pool.objects.select_related("site__provider").get(pk=job.pool_id)
    provider = pool.site.provider
    seconds = billed_seconds(usage.elapsed_s, started=usage.start is not None)
    accelerators = usage.accelerators or job.accelerators
    acc_hours = (Decimal(accelerators * seconds) / Decimal(3600)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    list_price = (pool.price_per_hour * Decimal(accelerators * seconds) / Decimal(3600)).quantize(
        FEN, rounding=ROUND_HALF_UP)
    start = usage.start or usage.end or timezone.now()
    day = timezone.localdate(_dt(start))
    # Notes are stored as codes with their parameters and rendered in the reader's language (explain.py).
    notes: list[dict] = []
    usable = []
    for v in vouchers:
        if v.organization_id != org.pk:
            notes.append(explain.coded("bill.voucher_not_owned", f"voucher {v.number} is not the firm's",
                                       voucher=v.number))
        elif not v.is_valid_on(day) or v.lapsed_at is not None:
            notes.append(explain.coded("bill.voucher_not_valid", f"voucher {v.number} not valid on {day}",
                                       voucher=v.number, day=day.isoformat(), valid_from=v.valid_from.isoformat(),
                                       expires_on=v.expires_on.isoformat()))
        elif v.balance <= 0:
            notes.append(explain.coded("bill.voucher_used_up", f"voucher {v.number} is used up", voucher=v.number))
        else:
            usable.append(v)
    by_program = {v.program.code: v for v in usable}
    q = subsidy_quote(list_price, bridge.enterprise_facts(org), day, [bridge.voucher_program(v) for v in usable],
                      bridge.stacking_rules(), bridge.subsidy_ledger(org, day.year), provider=provider.code)
    charges: list[tuple[Voucher, object, Decimal]] = []
    for line in q.lines:
        voucher = by_program[line.program]
        amount = min(line.amount, voucher.balance)  # never beyond the balance read under the lock
        if amount > 0:
            charges.append((voucher, line, amount))
    for code, why in q.skipped_reasons:
        v = by_program.get(code)
        notes.append(explain.coded("bill.voucher_skipped", f"voucher {v.number if v else code}: {why.note}",
                                   voucher=v.number if v else code, program=code, reason=why.to_dict()))
    subsidy = sum((amount for _v, _l, amount in charges), ZERO)
    payable = list_price - subsidy
    memo = _("作业 #%(job)s 结算：挂牌价 %(l)s 元，算力券抵扣 %(s)s 元，企业应付 %(p)s 元") % {
        "job": job.pk, "l": list_price, "s": subsidy, "p": payable}
    tx = ledger.post(TransactionKind.REDEMPTION, memo, [
        ledger.Line(ledger.provider_receivable(provider), debit=list_price),
        *[ledger.Line(ledger.voucher_account(v), credit=amount) for v, _l, amount in charges],
        ledger.Line(ledger.enterprise_payable(org), credit=payable),
    ], actor=actor)
    for voucher, _line, amount in charges:
        voucher.balance -= amount
        if voucher.balance < 0:  # cannot happen: amount <= balance; the database also refuses it
            raise ValidationError({"vouchers": _("算力券余额不足。")})
        voucher.save(update_fields=["balance"])
    redemption = Redemption.objects.create(
        idempotency_key=key, job=job, organization=org, provider=provider, pool=pool,
        period_start=_dt(usage.start), period_end=_dt(usage.end), accelerators=accelerators,
        elapsed_s=usage.elapsed_s, billed_seconds=seconds, accelerator_hours=acc_hours,
        unit_price=pool.price_per_hour, list_price=list_price, subsidy=subsidy, payable=payable, notes=notes,
        transaction=tx)
    RedemptionLine.objects.bulk_create([
        RedemptionLine(redemption=redemption, voucher=v, program=v.program, rate=line.rate, amount=amount,
                       note=explain.render_all(line.reasons)[:300], reasons=explain.to_dicts(line.reasons))
        for v, line, amount in charges])
    audit.record(actor, "compute.redeem", redemption, {
        "key": key, "job": job.pk, "list_price": list_price, "subsidy": subsidy, "payable": payable,
        "vouchers": {v.number: amount for v, _l, amount in charges}})
    return redemption
