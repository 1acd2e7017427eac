"""API of the public compute platform (Art. 12-13) at /api/v1/compute/.

The same rules as the web pages in views.py: reads go through the permission policies (an object the caller
may not see is a 404), writes are validated by the same forms and performed by the same actions. Money is
given as strings with two decimals (exact yuan and fen).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ConfigDict

from gaodi.apps.core import workflow
from gaodi.apps.core.api import ERRORS, PUBLIC_AUTH, PageParams, api, current_user, page, raise_form_errors
from gaodi.apps.core.models import Organization
from gaodi.apps.core.permissions import can, get_visible_or_404, require, visible

from . import actions, bridge, explain, ledger, stats
from .choices import (
    ApplicationState,
    BackendKind,
    DataGrade,
    Hub,
    JobState,
    Level,
    Preference,
    Region,
    Workload,
)
from .forms import ApplicationForm, DecisionForm, JobForm, PoolForm, ProgramForm, SiteForm, format_options
from .models import Job, Pool, Redemption, Site, SubsidyProgram, Voucher, VoucherApplication
from .policies import enterprise_ids, provider_ids, subsidy_department_ids
from .workflows import OWNER_TRANSITIONS, REVIEW_TRANSITIONS, VOUCHER_APPLICATION

router = Router(tags=["compute 公共算力"])


def _values(choices) -> str:
    return ", ".join(choices.values)


def _money(value) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


# ---- schemas ------------------------------------------------------------------------------------

class OrgRef(Schema):
    id: int
    name: str
    code: str


class SiteOut(Schema):
    id: int
    code: str = Field(..., description="站点编码 Site code")
    name: str = Field(..., description="站点名称 Site name")
    provider: OrgRef = Field(..., description="算力提供方 Provider")
    hub: str = Field(..., description=f"国家枢纽 National hub: {_values(Hub)}")
    hub_label: str
    region: str = Field(..., description=f"所在地区 Region: {_values(Region)}")
    region_label: str
    pue: str = Field(..., description="电能利用效率 PUE")
    green_share: str = Field(..., description="绿电占比 Share of green power (0-1)")
    latency_ms: str = Field(..., description="到上海的网络时延（毫秒）Round trip to Shanghai, ms")


class PoolOut(Schema):
    id: int
    code: str = Field(..., description="资源池编码 Pool code")
    site: SiteOut
    accelerator: str = Field(..., description="加速卡型号 Accelerator model")
    count: int = Field(..., description="加速卡数量 Accelerators")
    per_node: int = Field(..., description="每节点加速卡数 Accelerators per node")
    memory_gb: int = Field(..., description="单卡显存 Memory per accelerator, GB")
    price_per_hour: str = Field(..., description="挂牌价（元/卡时）List price per accelerator-hour, CNY")
    backend: str = Field(..., description=f"调度后端 Backend: {_values(BackendKind)}")
    active: bool = Field(..., description="对外提供 Offered")
    in_use: int = Field(..., description="运行中作业占用的卡数 Accelerators held by running jobs")
    free: int = Field(..., description="实时可用卡数 Free accelerators now")
    backend_options: dict | None = Field(
        None, description="后端参数（仅提供方可见）Backend options, e.g. Slurm partition (shown to the provider only)")


class PoolPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[PoolOut]


class HubOut(Schema):
    hub: str
    hub_label: str
    pools: int
    sites: int
    count: int = Field(..., description="加速卡总数 Accelerators")
    in_use: int
    free: int
    min_price: str | None = Field(None, description="最低挂牌价 Lowest list price")
    max_price: str | None = Field(None, description="最高挂牌价 Highest list price")
    accelerators: list[str]


class CapacityOut(Schema):
    total: int = Field(..., description="平台加速卡总数 Accelerators on the platform")
    free: int = Field(..., description="实时可用 Free now")
    hubs: list[HubOut] = Field(..., description="八大国家枢纽 The eight national hubs")


class ProgramOut(Schema):
    id: int
    code: str
    name: str
    department: OrgRef = Field(..., description="主管部门 Department")
    level: str = Field(..., description=f"层级 Level: {_values(Level)}")
    district: str = Field("", description="适用区 District (district programmes)")
    rate: str = Field(..., description="补贴比例 Rate (fraction of list price)")
    budget: str = Field(..., description="预算总额 Budget, CNY")
    unallocated: str = Field(..., description="尚未发放的预算 Budget not yet issued as vouchers")
    valid_from: date
    valid_to: date
    sme_only: bool
    max_startup_age_years: str | None = None
    large_model_developer_only: bool
    per_enterprise_annual_cap: str | None = None
    max_voucher_amount: str | None = None
    providers: list[OrgRef] = Field(default_factory=list, description="限定提供方（空为不限）Providers (empty: any)")
    description: str = ""


class ProgramPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ProgramOut]


class TransitionOut(Schema):
    name: str
    label: str
    comment_required: bool


class HistoryOut(Schema):
    transition: str
    from_state: str
    to_state: str
    actor: str = ""
    comment: str = ""
    deadline: date | None = None
    created_at: datetime


class VoucherOut(Schema):
    id: int
    number: str = Field(..., description="券号 Voucher number")
    organization: OrgRef
    program: str = Field(..., description="补贴项目编码 Programme code")
    program_name: str
    rate: str
    amount: str = Field(..., description="面额 Face value, CNY")
    balance: str = Field(..., description="余额 Balance, CNY")
    valid_from: date
    expires_on: date
    expired: bool
    lapsed: bool = Field(..., description="到期余额已收回 Expired rest returned to the programme")


class ApplicationOut(Schema):
    id: int
    organization: OrgRef
    program: str
    program_name: str
    amount_requested: str
    purpose: str
    state: str = Field(..., description=f"状态 State: {_values(ApplicationState)}")
    state_label: str
    deadline: date | None = Field(None, description="办理期限（工作日）Deadline, in working days")
    deadline_status: str = ""
    approved_amount: str | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    voucher: VoucherOut | None = None
    transitions: list[TransitionOut] = Field(default_factory=list, description="您可执行的操作 What you may do now")
    history: list[HistoryOut] = Field(default_factory=list)


class ApplicationPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ApplicationOut]


class ReasonOut(Schema):
    code: str = Field(..., description="原因代码 Reason code (see docs/compute-guide.md)")
    params: dict = Field(default_factory=dict, description="参数 Parameters")
    note: str = Field("", description="引擎的英文说明 The engine's note, in English")


class SubsidyLineOut(Schema):
    program: str
    program_name: str = ""
    level: str = ""
    voucher: str = ""
    rate: str
    amount: str
    note: str = Field("", description="受何限制（按请求语言）Which limit bound, in the request's language")
    reasons: list[ReasonOut] = Field(default_factory=list, description="同上，代码与参数 The same, as codes")


class SkippedOut(Schema):
    program: str
    why: str
    reason: ReasonOut | None = None


class QuotePoolOut(Schema):
    id: int
    code: str
    accelerator: str
    site: str
    site_code: str
    hub: str
    hub_label: str
    region: str
    region_label: str
    provider: str
    provider_id: int
    backend: str
    price_per_hour: str
    count: int
    free: int


class OptionOut(Schema):
    pool: QuotePoolOut
    list_price: str = Field(..., description="挂牌价金额 List price")
    subsidy: str = Field(..., description="算力券补贴 Subsidy")
    compute_after_subsidy: str
    data_transfer: str = Field(..., description="跨地区数据传输费 Data transfer")
    pays: str = Field(..., description="企业支付 What the firm pays")
    latency_penalty: str = Field(..., description="时延折算（影子价格）Latency penalty (shadow price)")
    carbon: str = Field(..., description="碳排放折算（影子价格）Carbon (shadow price)")
    effective: str = Field(..., description="综合成本，用于排序 Effective cost, the ranking key")
    energy_kwh: str
    emissions_kg: str
    lines: list[SubsidyLineOut] = Field(..., description="各项补贴 Each subsidy")
    skipped: list[SkippedOut] = Field(default_factory=list, description="未适用的补贴及原因 Subsidies not applied")
    wait_hours: float
    finish: str = Field(..., description="预计完成时间 Expected finish")


class QuoteOut(Schema):
    recommended: OptionOut = Field(..., description="推荐方案 The recommended pool")
    alternatives: list[OptionOut] = Field(..., description="其他可行方案，按排序 Other feasible pools, ranked")
    explanation: list[str] = Field(..., description="为什么选这个资源池（按请求语言）Why this pool, in the request's language")
    explanation_en: str = Field(..., description="Why this pool (English, from the engine)")
    explanation_codes: list[ReasonOut] = Field(..., description="同上，代码与参数 The same, as codes")
    rejected: dict[str, str] = Field(..., description="不可行的资源池及原因 Infeasible pools and why")
    rejected_codes: dict[str, ReasonOut] = Field(..., description="同上，代码与参数 The same, as codes")


class BillLineOut(Schema):
    voucher: str
    program: str
    rate: str
    amount: str
    note: str = ""
    reasons: list[ReasonOut] = Field(default_factory=list)


class BillOut(Schema):
    id: int
    idempotency_key: str
    job_id: int | None
    pool: str
    provider: str
    period_start: datetime | None
    period_end: datetime | None
    accelerators: int
    elapsed_s: float
    billed_seconds: int = Field(..., description="计费时长（按分钟向上取整）Billed seconds (per started minute)")
    accelerator_hours: str
    unit_price: str
    list_price: str
    subsidy: str = Field(..., description="算力券抵扣 Charged to vouchers")
    payable: str = Field(..., description="企业应付 Payable by the firm")
    lines: list[BillLineOut]
    notes: list[str] = Field(..., description="说明（按请求语言）Notes, in the request's language")
    note_codes: list[ReasonOut] = Field(default_factory=list, description="同上，代码与参数 The same, as codes")
    created_at: datetime


class JobEventOut(Schema):
    created_at: datetime
    state: str
    message: str


class PoolAttemptOut(Schema):
    pool: str = Field(..., description="资源池编码 Pool")
    backend: str
    name: str = Field("", description="后端作业名（唯一）The job's unique name on the backend")
    outcome: str = Field(..., description="sending, submitted, adopted, refused, unreachable, unavailable, unknown, "
                                          "not_found")
    outcome_label: str
    reason: str = Field("", description="后端的回答 What the backend said")
    backend_job_id: str = ""
    at: str = ""


class FailoverOut(Schema):
    from_pool: str = Field(..., description="原资源池 The pool it left")
    to: str
    why: str
    at_display: str = ""


class JobOut(Schema):
    id: int
    name: str
    organization: OrgRef
    state: str = Field(..., description=f"状态 State: {_values(JobState)}")
    state_label: str
    pool: str
    backend: str
    backend_job_id: str
    accelerators: int
    accelerator_models: list[str]
    estimated_hours: str
    deadline: datetime | None = None
    data_region: str
    data_may_leave: bool
    data_grade: str
    data_location: str
    workload: str
    preference: str
    vouchers: list[str]
    attempts: int = Field(..., description="提交到后端的尝试次数 Submission attempts")
    last_error: str = Field("", description="最近一次后端错误 Last backend error")
    created_at: datetime
    submitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    elapsed_s: float | None = None
    accelerator_seconds: float | None = None
    quote: dict = Field(..., description="运行资源池的报价（改投后为新资源池的）The quote of the pool it runs on")
    placement: dict = Field(..., description="调度说明与次优方案（代码与参数）Why this pool, the alternatives, as codes")
    explanation: list[str] = Field(default_factory=list, description="调度说明（按请求语言）Why this pool, rendered")
    rejected: dict[str, str] = Field(default_factory=dict, description="不可行的资源池及原因 Infeasible pools and why")
    pool_attempts: list[PoolAttemptOut] = Field(
        default_factory=list, description="每次提交的结果：哪个资源池、拒绝原因 Every submission: which pool, and why refused")
    failover: list[FailoverOut] = Field(default_factory=list, description="改投记录 Moves to another pool")
    events: list[JobEventOut] = Field(default_factory=list)
    bills: list[BillOut] = Field(default_factory=list)


class JobPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[JobOut]


class LogsOut(Schema):
    job_id: int
    state: str
    logs: str = Field(..., description="输出末尾 The end of stdout and stderr")


class SiteIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str | None = None
    name: str | None = None
    hub: str | None = Field(None, description=f"国家枢纽 {_values(Hub)}")
    region: str | None = Field(None, description=f"地区 {_values(Region)}")
    pue: Decimal | None = None
    green_share: Decimal | None = None
    latency_ms: Decimal | None = None
    provider: int | None = Field(None, description="提供方 ID（属于多个提供方时必填）Provider id if you belong to several")


class PoolIn(Schema):
    model_config = ConfigDict(extra="forbid")
    site: int | None = Field(None, description="站点 ID Site id")
    code: str | None = None
    accelerator: str | None = None
    count: int | None = None
    per_node: int | None = None
    memory_gb: int | None = None
    price_per_hour: Decimal | None = None
    backend: str | None = Field(None, description=f"{_values(BackendKind)}")
    backend_options: dict[str, str | int] | None = Field(
        None, description="slurm: partition, account, gres; local: accelerators")
    active: bool | None = None


class ProgramIn(Schema):
    model_config = ConfigDict(extra="forbid")
    code: str | None = None
    name: str | None = None
    level: str | None = Field(None, description=f"{_values(Level)}")
    district: str | None = None
    rate: Decimal | None = None
    budget: Decimal | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    sme_only: bool | None = None
    max_startup_age_years: Decimal | None = None
    large_model_developer_only: bool | None = None
    per_enterprise_annual_cap: Decimal | None = None
    max_voucher_amount: Decimal | None = None
    providers: list[int] | None = None
    description: str | None = None
    department: int | None = Field(None, description="主管部门 ID（在多个部门任职时必填）Department id")


class ApplicationIn(Schema):
    model_config = ConfigDict(extra="forbid")
    program: int = Field(..., description="补贴项目 ID Programme id")
    amount_requested: Decimal = Field(..., description="申请金额（元）Amount, CNY")
    purpose: str = Field(..., description="用途说明 Purpose")
    organization: int | None = Field(None, description="申请企业 ID（属于多个企业时必填）")


class ApplicationTransitionIn(Schema):
    model_config = ConfigDict(extra="forbid")
    comment: str = ""
    approved_amount: Decimal | None = Field(None, description="批准金额（仅 approve）Approved amount")


class JobIn(Schema):
    """作业请求。Quote and submit take the same body; submit queues the job."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field("quote", description="作业名称 Job name")
    script: str = Field("true\n", description="bash 作业脚本（有大小上限）Batch script (size-limited)")
    accelerators: int = Field(..., description="加速卡数 Accelerators")
    accelerator_models: list[str] = Field(..., description="可接受的型号 Acceptable accelerator models")
    estimated_hours: Decimal = Field(..., description="预计时长（小时）Estimated hours")
    deadline: datetime | None = Field(None, description="截止时间 Deadline")
    data_region: str = Field("shanghai", description=f"数据所在地区 {_values(Region)}")
    data_may_leave: bool = True
    data_grade: str = Field("general", description=f"{_values(DataGrade)}")
    data_size_gb: Decimal = Decimal("0")
    data_location: str = ""
    workload: str = Field("training", description=f"{_values(Workload)}")
    preference: str = Field("cheapest", description=f"{_values(Preference)}")
    budget_cap: Decimal | None = None
    vouchers: list[str] | None = Field(
        None, description="使用的算力券（券号或 ID）；省略则使用本企业全部有效券，[] 为不用券 Vouchers; omitted: all usable")
    pool: str = Field("", description="资源池编码；空为推荐方案 Pool code; empty: the recommended one")
    organization: int | None = None


class JobFilter(PageParams):
    state: str | None = Field(None, description=f"状态 {_values(JobState)}")


# ---- serialisation ------------------------------------------------------------------------------

def _org(org: Organization) -> dict:
    return {"id": org.pk, "name": org.name, "code": org.code}


def _site(s: Site) -> dict:
    return {"id": s.pk, "code": s.code, "name": s.name, "provider": _org(s.provider), "hub": s.hub,
            "hub_label": s.get_hub_display(), "region": s.region, "region_label": s.get_region_display(),
            "pue": f"{s.pue}", "green_share": f"{s.green_share}", "latency_ms": f"{s.latency_ms}"}


def _pool(p: Pool, user=None) -> dict:
    own = user is not None and can(user, "change", p)
    return {"id": p.pk, "code": p.code, "site": _site(p.site), "accelerator": p.accelerator, "count": p.count,
            "per_node": p.per_node, "memory_gb": p.memory_gb, "price_per_hour": _money(p.price_per_hour),
            "backend": p.backend, "active": p.active, "in_use": p.in_use, "free": p.free if p.active else 0,
            "backend_options": dict(p.backend_options or {}) if own else None}


def _program(p: SubsidyProgram) -> dict:
    return {"id": p.pk, "code": p.code, "name": p.name, "department": _org(p.department), "level": p.level,
            "district": p.district, "rate": f"{p.rate}", "budget": _money(p.budget),
            "unallocated": _money(ledger.program_unallocated(p)), "valid_from": p.valid_from, "valid_to": p.valid_to,
            "sme_only": p.sme_only,
            "max_startup_age_years": None if p.max_startup_age_years is None else f"{p.max_startup_age_years}",
            "large_model_developer_only": p.large_model_developer_only,
            "per_enterprise_annual_cap": _money(p.per_enterprise_annual_cap),
            "max_voucher_amount": _money(p.max_voucher_amount),
            "providers": [_org(o) for o in p.providers.all()], "description": p.description}


def _voucher(v: Voucher) -> dict:
    return {"id": v.pk, "number": v.number, "organization": _org(v.organization), "program": v.program.code,
            "program_name": v.program.name, "rate": f"{v.program.rate}", "amount": _money(v.amount),
            "balance": _money(v.balance), "valid_from": v.valid_from, "expires_on": v.expires_on,
            "expired": v.is_expired, "lapsed": v.lapsed_at is not None}


def _application(user, a: VoucherApplication, full: bool = False) -> dict:
    data = {"id": a.pk, "organization": _org(a.organization), "program": a.program.code,
            "program_name": a.program.name, "amount_requested": _money(a.amount_requested), "purpose": a.purpose,
            "state": a.state, "state_label": a.get_state_display(), "deadline": a.deadline,
            "deadline_status": workflow.deadline_status(a.deadline), "approved_amount": _money(a.approved_amount),
            "submitted_at": a.submitted_at, "decided_at": a.decided_at,
            "voucher": _voucher(a.voucher) if hasattr(a, "voucher") else None}
    if full:
        own = a.organization_id in enterprise_ids(user)
        names = (OWNER_TRANSITIONS if own else ()) + (REVIEW_TRANSITIONS if can(user, "review", a) else ())
        data["transitions"] = [{"name": t.name, "label": str(t.label), "comment_required": t.comment_required}
                               for t in VOUCHER_APPLICATION.available(user, a) if t.name in names]
        data["history"] = [{"transition": h.transition, "from_state": h.from_state, "to_state": h.to_state,
                            "actor": str(h.actor) if h.actor else "", "comment": h.comment, "deadline": h.deadline,
                            "created_at": h.created_at} for h in workflow.history(a)]
    return data


def _bill(b: Redemption) -> dict:
    return {"id": b.pk, "idempotency_key": b.idempotency_key, "job_id": b.job_id,
            "pool": b.pool.code if b.pool_id else "", "provider": b.provider.name, "period_start": b.period_start,
            "period_end": b.period_end, "accelerators": b.accelerators, "elapsed_s": b.elapsed_s,
            "billed_seconds": b.billed_seconds, "accelerator_hours": f"{b.accelerator_hours}",
            "unit_price": _money(b.unit_price), "list_price": _money(b.list_price), "subsidy": _money(b.subsidy),
            "payable": _money(b.payable),
            "lines": [{"voucher": line.voucher.number, "program": line.program.code, "rate": f"{line.rate}",
                       "amount": _money(line.amount), "note": line.note_text, "reasons": list(line.reasons or [])}
                      for line in b.lines.all()],
            "notes": b.note_texts, "note_codes": [n for n in b.notes if isinstance(n, dict)],
            "created_at": b.created_at}


def _job(j: Job, full: bool = False) -> dict:
    data = {"id": j.pk, "name": j.name, "organization": _org(j.organization), "state": j.state,
            "state_label": j.get_state_display(), "pool": j.pool.code, "backend": j.backend,
            "backend_job_id": j.backend_job_id, "accelerators": j.accelerators,
            "accelerator_models": list(j.accelerator_models), "estimated_hours": f"{j.estimated_hours}",
            "deadline": j.deadline, "data_region": j.data_region, "data_may_leave": j.data_may_leave,
            "data_grade": j.data_grade, "data_location": j.data_location, "workload": j.workload,
            "preference": j.preference, "vouchers": [v.number for v in j.vouchers.all()], "attempts": j.attempts,
            "last_error": j.last_error, "created_at": j.created_at, "submitted_at": j.submitted_at,
            "started_at": j.started_at, "finished_at": j.finished_at, "exit_code": j.exit_code, "reason": j.reason,
            "elapsed_s": j.elapsed_s, "accelerator_seconds": j.accelerator_seconds, "quote": j.quote,
            "placement": j.placement}
    if full:
        placement = j.placement or {}
        data["explanation"] = [explain.render(line) for line in placement.get("explanation", [])]
        data["rejected"] = {code: explain.render(why) for code, why in sorted(placement.get("rejected", {}).items())}
        data["pool_attempts"] = actions.attempt_rows(j)
        data["failover"] = actions.failover_rows(j)
        data["events"] = [{"created_at": e.created_at, "state": e.state, "message": e.message} for e in j.events.all()]
        data["bills"] = [_bill(b) for b in j.redemptions.select_related("pool", "provider")
                         .prefetch_related("lines__voucher", "lines__program")]
    return data


# ---- helpers ------------------------------------------------------------------------------------

def _one_of(ids: set[int], wanted: int | None, field: str, none_message: str, several_message: str) -> Organization:
    if not ids:
        raise PermissionDenied(none_message)
    if wanted is None:
        if len(ids) > 1:
            raise ValidationError({field: several_message})
        return Organization.objects.get(pk=next(iter(ids)))
    if wanted not in ids:
        raise PermissionDenied(none_message)
    return Organization.objects.get(pk=wanted)


def _enterprise(user, wanted: int | None) -> Organization:
    return _one_of(enterprise_ids(user), wanted, "organization", _("只有企业成员可以申请算力券和提交算力作业。"),
                   _("您属于多个企业，请用 organization 指定企业的 ID。"))


def _form_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _form_data(values: dict, skip=()) -> dict:
    return {k: _form_value(v) for k, v in values.items() if k not in skip}


def _current(instance, fields) -> dict:
    data = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            data[name] = [str(pk) for pk in getattr(instance, name).values_list("pk", flat=True)]
        elif field.is_relation:
            data[name] = str(getattr(instance, f"{name}_id") or "")
        else:
            data[name] = _form_value(getattr(instance, name))
    return data


def _pools_qs():
    return Pool.objects.select_related("site", "site__provider").order_by("site__hub", "code")


# ---- public: capacity, sites, pools, programmes ----------------------------------------------------

@router.get("/capacity", response=CapacityOut, auth=PUBLIC_AUTH, summary="算力资源概况 Capacity by hub")
def capacity(request):
    """八大国家枢纽的加速卡总数、实时可用数和价格区间。Accelerators, free now and prices per national hub."""
    summary = stats.public_summary()
    return {"total": summary["total"], "free": summary["free"], "hubs": summary["hubs"]}


@router.get("/pools", response={200: PoolPage, 422: ERRORS[422]}, auth=PUBLIC_AUTH, summary="资源池 Pools")
def list_pools(request, params: Query[PageParams]):
    """全部资源池：型号、数量、实时可用、挂牌价。All pools with live free capacity and list price."""
    qs = visible(current_user(request), Pool, _pools_qs())
    result = page(qs, params, lambda p: p)
    result["items"] = [_pool(p, current_user(request)) for p in bridge.with_capacity(result["items"])]
    return result


@router.get("/pools/{pool_id}", response={200: PoolOut, 404: ERRORS[404]}, auth=PUBLIC_AUTH,
            summary="一个资源池 One pool")
def get_pool(request, pool_id: int):
    user = current_user(request)
    pool = get_visible_or_404(user, Pool, pk=pool_id)
    return _pool(bridge.with_capacity([pool])[0], user)


@router.get("/sites", response=list[SiteOut], auth=PUBLIC_AUTH, summary="算力站点 Sites")
def list_sites(request):
    return [_site(s) for s in visible(current_user(request), Site, Site.objects.select_related("provider"))]


@router.get("/sites/{site_id}", response={200: SiteOut, 404: ERRORS[404]}, auth=PUBLIC_AUTH, summary="一个站点 One site")
def get_site(request, site_id: int):
    return _site(get_visible_or_404(current_user(request), Site, pk=site_id))


@router.get("/programs", response={200: ProgramPage, 422: ERRORS[422]}, auth=PUBLIC_AUTH,
            summary="算力补贴项目 Subsidy programmes")
def list_programs(request, params: Query[PageParams]):
    qs = visible(current_user(request), SubsidyProgram).select_related("department").prefetch_related("providers")
    return page(qs, params, _program)


@router.get("/programs/{program_id}", response={200: ProgramOut, 404: ERRORS[404]}, auth=PUBLIC_AUTH,
            summary="一个补贴项目 One programme")
def get_program(request, program_id: int):
    return _program(get_visible_or_404(current_user(request), SubsidyProgram, pk=program_id))


# ---- providers ----------------------------------------------------------------------------------

_SITE_FIELDS = ("code", "name", "hub", "region", "pue", "green_share", "latency_ms")
_POOL_FIELDS = ("site", "code", "accelerator", "count", "per_node", "memory_gb", "price_per_hour", "backend", "active")


@router.post("/sites", response={201: SiteOut, **ERRORS}, summary="登记站点 Register a site")
def create_site(request, payload: SiteIn):
    user = current_user(request)
    provider = _one_of(provider_ids(user), payload.provider, "provider", _("只有算力提供方的成员可以登记站点和资源池。"),
                       _("您属于多个算力提供方，请用 provider 指定。"))
    form = SiteForm(data=_form_data(payload.model_dump(exclude_unset=True), skip=("provider",)))
    site = actions.create_site(user, provider, form)
    return Status(201, _site(site))


@router.patch("/sites/{site_id}", response={200: SiteOut, **ERRORS}, summary="修改站点 Update a site")
def update_site(request, site_id: int, payload: SiteIn):
    user = current_user(request)
    site = get_visible_or_404(user, Site, pk=site_id)
    require(user, "change", site)
    data = {**_current(site, _SITE_FIELDS), **_form_data(payload.model_dump(exclude_unset=True), skip=("provider",))}
    return _site(actions.update_site(user, site, SiteForm(data=data, instance=site)))


@router.post("/pools", response={201: PoolOut, **ERRORS}, summary="登记资源池 Register a pool")
def create_pool(request, payload: PoolIn):
    user = current_user(request)
    ids = provider_ids(user)
    if not ids:
        raise PermissionDenied(_("只有算力提供方的成员可以登记站点和资源池。"))
    data = _pool_form_data(payload)
    data.setdefault("active", True)
    pool = actions.create_pool(user, PoolForm(data=data, provider_ids=ids))
    return Status(201, _pool(bridge.with_capacity([Pool.objects.select_related("site__provider").get(pk=pool.pk)])[0],
                             user))


@router.patch("/pools/{pool_id}", response={200: PoolOut, **ERRORS}, summary="修改资源池 Update a pool")
def update_pool(request, pool_id: int, payload: PoolIn):
    user = current_user(request)
    pool = get_visible_or_404(user, Pool, pk=pool_id)
    require(user, "change", pool)
    data = {**_current(pool, _POOL_FIELDS), "backend_options": format_options(pool.backend_options),
            **_pool_form_data(payload)}
    pool = actions.update_pool(user, pool, PoolForm(data=data, instance=pool, provider_ids=provider_ids(user)))
    return _pool(bridge.with_capacity([Pool.objects.select_related("site__provider").get(pk=pool.pk)])[0], user)


def _pool_form_data(payload: PoolIn) -> dict:
    values = payload.model_dump(exclude_unset=True)
    options = values.pop("backend_options", None)
    data = _form_data(values)
    if options is not None:
        data["backend_options"] = format_options(options)
    return data


# ---- department: programmes, review, dashboard ----------------------------------------------------

_PROGRAM_FIELDS = ("code", "name", "level", "district", "rate", "budget", "valid_from", "valid_to", "sme_only",
                   "max_startup_age_years", "large_model_developer_only", "per_enterprise_annual_cap",
                   "max_voucher_amount", "providers", "description")


@router.post("/programs", response={201: ProgramOut, **ERRORS}, summary="设立补贴项目 Create a programme")
def create_program(request, payload: ProgramIn):
    user = current_user(request)
    department = _one_of(subsidy_department_ids(user), payload.department, "department",
                         _("只有主管算力补贴的部门审核员或管理员可以设立补贴项目。"),
                         _("您在多个部门任职，请用 department 指定主管部门。"))
    form = ProgramForm(data=_form_data(payload.model_dump(exclude_unset=True), skip=("department",)))
    return Status(201, _program(actions.create_program(user, department, form)))


@router.patch("/programs/{program_id}", response={200: ProgramOut, **ERRORS}, summary="修改补贴项目 Update a programme")
def update_program(request, program_id: int, payload: ProgramIn):
    user = current_user(request)
    program = get_visible_or_404(user, SubsidyProgram, pk=program_id)
    require(user, "change", program)
    data = {**_current(program, _PROGRAM_FIELDS),
            **_form_data(payload.model_dump(exclude_unset=True), skip=("department",))}
    return _program(actions.update_program(user, program, ProgramForm(data=data, instance=program)))


@router.get("/review/applications", response={200: list[ApplicationOut], **ERRORS},
            summary="算力券审核队列 Voucher applications to review")
def review_queue(request):
    user = current_user(request)
    departments = subsidy_department_ids(user)
    if not departments:
        raise PermissionDenied(_("只有主管算力补贴的部门审核员或管理员可以查看审核队列。"))
    qs = (VoucherApplication.objects.filter(program__department_id__in=departments, state=ApplicationState.SUBMITTED)
          .select_related("organization", "program").order_by("deadline", "submitted_at", "id"))
    return [_application(user, a) for a in qs]


@router.get("/dashboard", response={200: dict, **ERRORS}, summary="算力看板 Department dashboard")
def dashboard(request):
    """利用率（按枢纽、资源池）、中小企业占比、排队时间、补贴预算执行、工作日时间线。
    Utilization by hub and pool, SME share, queue times, subsidy against budget, a working-day timeline."""
    user = current_user(request)
    if not subsidy_department_ids(user) and not user.is_superuser:
        raise PermissionDenied(_("只有主管算力补贴的部门可以查看算力看板。"))
    return stats.dashboard()


# ---- applications and vouchers --------------------------------------------------------------------

@router.get("/applications", response={200: ApplicationPage, **ERRORS}, summary="算力券申请 Voucher applications")
def list_applications(request, params: Query[PageParams]):
    """本企业的申请，或本部门受理的申请。Your enterprise's applications, or those your department reviews."""
    user = current_user(request)
    qs = visible(user, VoucherApplication).select_related("organization", "program")
    return page(qs, params, lambda a: _application(user, a))


@router.post("/applications", response={201: ApplicationOut, **ERRORS}, summary="申请算力券 Apply for a voucher")
def create_application(request, payload: ApplicationIn):
    user = current_user(request)
    organization = _enterprise(user, payload.organization)
    form = ApplicationForm(data=_form_data(payload.model_dump(), skip=("organization",)))
    application = actions.create_application(user, organization, form, submit=True)
    return Status(201, _application(user, application, full=True))


@router.get("/applications/{application_id}", response={200: ApplicationOut, **ERRORS},
            summary="一项算力券申请 One application")
def get_application(request, application_id: int):
    user = current_user(request)
    return _application(user, get_visible_or_404(user, VoucherApplication, pk=application_id), full=True)


@router.post("/applications/{application_id}/transitions/{name}", response={200: ApplicationOut, **ERRORS},
             summary="流转操作 Workflow transition")
def application_transition(request, application_id: int,
                           name: str = Path(..., description="submit, withdraw（企业）; approve, return, reject（部门）"),  # noqa: B008
                           payload: ApplicationTransitionIn | None = None):
    """企业：submit（退回后重新提交）、withdraw；主管部门：approve（可填 approved_amount）、return、reject（须填意见）。"""
    user = current_user(request)
    if name not in OWNER_TRANSITIONS and name not in REVIEW_TRANSITIONS:
        raise Http404
    application = get_visible_or_404(user, VoucherApplication, pk=application_id)
    payload = payload or ApplicationTransitionIn()
    form = DecisionForm(data={"comment": payload.comment, "approved_amount": _form_value(payload.approved_amount)})
    if not form.is_valid():
        raise_form_errors(form)
    comment = form.cleaned_data["comment"].strip()
    if name in REVIEW_TRANSITIONS:
        require(user, "review", application)
        if name == "approve":
            actions.approve_application(user, application, form.cleaned_data["approved_amount"], comment)
        elif name == "return":
            actions.return_application(user, application, comment)
        else:
            actions.reject_application(user, application, comment)
    elif name == "withdraw":
        actions.withdraw_application(user, application)
    else:
        actions.submit_application(user, application)
    return _application(user, get_visible_or_404(user, VoucherApplication, pk=application_id), full=True)


@router.get("/vouchers", response={200: list[VoucherOut], **ERRORS}, summary="算力券 Vouchers")
def list_vouchers(request):
    """本企业持有的算力券及余额（主管部门可见其项目发放的券）。Your vouchers and balances."""
    user = current_user(request)
    return [_voucher(v) for v in visible(user, Voucher).select_related("organization", "program")]


@router.get("/vouchers/{voucher_id}", response={200: VoucherOut, **ERRORS}, summary="一张算力券 One voucher")
def get_voucher(request, voucher_id: int):
    return _voucher(get_visible_or_404(current_user(request), Voucher, pk=voucher_id))


# ---- quotes and jobs ----------------------------------------------------------------------------

def _job_form(user, payload: JobIn) -> tuple[Organization, JobForm]:
    organization = _enterprise(user, payload.organization)
    values = payload.model_dump(exclude={"organization"})
    if values["vouchers"] is None:
        values["vouchers"] = [str(v.pk) for v in bridge.usable_vouchers(organization)]
    return organization, JobForm(data=_form_data(values), organization=organization)


@router.post("/quote", response={200: QuoteOut, **ERRORS}, summary="报价与调度建议 Quote and placement")
def quote(request, payload: JobIn):
    """各可行资源池的挂牌价、每项补贴、企业支付金额，推荐方案的理由和次优方案。不保存任何内容。
    List price, each subsidy and what the firm pays on every feasible pool, why the first, and the next best."""
    user = current_user(request)
    organization, form = _job_form(user, payload)
    result = actions.quote_job(user, organization, form)
    return {"recommended": result.options[0], "alternatives": result.options[1:],
            "explanation": result.explanation, "explanation_en": result.placement.explain(),
            "explanation_codes": result.explanation_codes, "rejected": result.rejected,
            "rejected_codes": result.rejected_codes}


def _jobs():
    return Job.objects.select_related("organization", "pool").prefetch_related("vouchers")


@router.get("/jobs", response={200: JobPage, **ERRORS}, summary="本企业的作业 Your jobs")
def list_jobs(request, filters: Query[JobFilter]):
    user = current_user(request)
    if not enterprise_ids(user) and not user.is_superuser:
        raise PermissionDenied(_("只有企业成员可以提交算力作业。"))
    qs = visible(user, Job, _jobs())
    if filters.state:
        if filters.state not in JobState.values:
            raise ValidationError({"state": _("未知状态：%(s)s") % {"s": filters.state}})
        qs = qs.filter(state=filters.state)
    return page(qs, filters, _job)


@router.post("/jobs", response={201: JobOut, **ERRORS}, summary="提交作业 Submit a batch job")
def submit_job(request, payload: JobIn):
    """排队后由后台任务提交到资源池的调度后端；状态、日志、用量和账单见 GET /jobs/{id}。
    Queued, then submitted to the pool's backend by a background task; follow it at GET /jobs/{id}."""
    user = current_user(request)
    organization, form = _job_form(user, payload)
    job = actions.submit_job(user, organization, form)
    return Status(201, _job(_jobs().get(pk=job.pk), full=True))


@router.get("/jobs/{job_id}", response={200: JobOut, **ERRORS}, summary="作业状态、用量与账单 Job status, usage, bill")
def get_job(request, job_id: int, refresh: bool = Query(False, description="先向后端查询最新状态 Ask the backend first")):  # noqa: B008
    user = current_user(request)
    job = get_visible_or_404(user, Job, pk=job_id)
    if refresh and not job.is_terminal:
        actions.refresh_job(job.pk, dispatch=False)
    return _job(_jobs().get(pk=job.pk), full=True)


@router.get("/jobs/{job_id}/logs", response={200: LogsOut, **ERRORS}, summary="作业日志 Job logs")
def job_logs(request, job_id: int, tail_bytes: int = Query(65536, ge=1, le=1048576)):  # noqa: B008
    job = get_visible_or_404(current_user(request), Job, pk=job_id)
    return {"job_id": job.pk, "state": job.state, "logs": actions.job_logs(job, tail_bytes)}


@router.post("/jobs/{job_id}/cancel", response={200: JobOut, **ERRORS}, summary="取消作业 Cancel a job")
def cancel_job(request, job_id: int):
    user = current_user(request)
    job = get_visible_or_404(user, Job, pk=job_id)
    actions.cancel_job(user, job)
    return _job(_jobs().get(pk=job.pk), full=True)


@router.get("/jobs/{job_id}/bills", response={200: list[BillOut], **ERRORS}, summary="作业账单 Job bills")
def job_bills(request, job_id: int):
    job = get_visible_or_404(current_user(request), Job, pk=job_id)
    return [_bill(b) for b in job.redemptions.select_related("pool", "provider")
            .prefetch_related("lines__voucher", "lines__program")]


api.add_router("/compute", router)
