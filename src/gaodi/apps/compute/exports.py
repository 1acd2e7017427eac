"""CSV, Excel and JSON exports of the compute platform's lists (DESIGN: every published list is exportable).

- the public capacity page: pools with live capacity and list prices, and the hubs (Art. 12-13);
- an enterprise's jobs and bills (its own rows only);
- a subsidy department's voucher applications (those to its own programmes, drafts excluded).

Each builder takes the queryset the view already narrowed to what the viewer may see, so an export never
holds a row the page would not show. Column headers are bilingual, as in the other exports.
"""

from __future__ import annotations

from django.utils import timezone

from gaodi.apps.core.exports import FORMATS, export

__all__ = ["FORMATS", "export", "pool_rows", "hub_rows", "job_row", "bill_row", "application_row",
           "POOL_COLUMNS", "HUB_COLUMNS", "JOB_COLUMNS", "BILL_COLUMNS", "APPLICATION_COLUMNS"]

POOL_COLUMNS = [
    ("code", "资源池编码 Pool"), ("provider", "算力提供方 Provider"), ("site", "站点 Site"),
    ("hub_label", "国家枢纽 National hub"), ("region_label", "所在地区 Region"), ("accelerator", "型号 Accelerator"),
    ("memory_gb", "单卡显存GB Memory per accelerator (GB)"), ("count", "加速卡 Accelerators"),
    ("in_use", "运行中占用 In use"), ("free", "实时可用 Free now"),
    ("price_per_hour", "挂牌价元每卡时 List price (CNY per accelerator-hour)"), ("pue", "PUE"),
    ("green_share", "绿电占比 Green power share"), ("backend", "调度后端 Backend"),
]
HUB_COLUMNS = [
    ("hub", "枢纽代码 Hub code"), ("hub_label", "国家枢纽 National hub"), ("sites", "站点 Sites"),
    ("pools", "资源池 Pools"), ("count", "加速卡 Accelerators"), ("in_use", "运行中占用 In use"),
    ("free", "实时可用 Free now"), ("min_price", "最低挂牌价 Lowest list price"),
    ("max_price", "最高挂牌价 Highest list price"), ("accelerators", "型号 Accelerators"),
]
JOB_COLUMNS = [
    ("id", "作业号 Job"), ("name", "作业名称 Name"), ("organization", "企业 Enterprise"), ("state", "状态 State"),
    ("pool", "资源池 Pool"), ("backend", "调度后端 Backend"), ("backend_job_id", "后端作业号 Backend job id"),
    ("pools_tried", "提交过的资源池 Pools tried"), ("accelerators", "加速卡数 Accelerators"),
    ("accelerator_models", "可接受型号 Accepted models"), ("estimated_hours", "预计时长小时 Estimated hours"),
    ("data_region", "数据所在地区 Data region"), ("data_grade", "数据分级 Data grade"),
    ("created_at", "排队时间 Queued at"), ("started_at", "开始时间 Started at"),
    ("finished_at", "结束时间 Finished at"), ("exit_code", "退出码 Exit code"), ("reason", "结束原因 Reason"),
    ("accelerator_hours", "卡时 Accelerator-hours"), ("quoted_pays", "报价应付 Quoted payable"),
    ("list_price", "挂牌价金额 List price"), ("subsidy", "算力券抵扣 Subsidy"), ("payable", "企业应付 Payable"),
]
BILL_COLUMNS = [
    ("id", "账单号 Bill"), ("job", "作业号 Job"), ("job_name", "作业名称 Job name"),
    ("organization", "企业 Enterprise"), ("pool", "资源池 Pool"), ("provider", "算力提供方 Provider"),
    ("period_start", "计费起 Period start"), ("period_end", "计费止 Period end"),
    ("accelerators", "加速卡数 Accelerators"), ("billed_seconds", "计费时长秒 Billed seconds"),
    ("accelerator_hours", "计费卡时 Accelerator-hours"), ("unit_price", "单价 Unit price"),
    ("list_price", "挂牌价金额 List price"), ("subsidy", "算力券抵扣 Subsidy"), ("payable", "企业应付 Payable"),
    ("vouchers", "抵扣明细 Vouchers charged"), ("notes", "说明 Notes"), ("created_at", "结算时间 Billed at"),
]
APPLICATION_COLUMNS = [
    ("id", "申请号 Application"), ("organization", "申请企业 Enterprise"),
    ("credit_code", "统一社会信用代码 Unified social credit code"), ("sme", "中小企业 SME"),
    ("program", "项目编码 Programme"),
    ("program_name", "补贴项目 Programme name"), ("department", "主管部门 Department"),
    ("amount_requested", "申请金额 Amount requested"), ("approved_amount", "批准金额 Amount approved"),
    ("state", "状态 State"), ("submitted_at", "提交时间 Submitted at"), ("deadline", "办理期限 Deadline"),
    ("decided_at", "办结时间 Decided at"), ("voucher", "券号 Voucher"), ("voucher_balance", "余额 Balance"),
]


def _time(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def pool_rows(summary: dict) -> list[dict]:
    return [{**row, "memory_gb": row.get("memory_gb")} for row in summary["pools"]]


def hub_rows(summary: dict) -> list[dict]:
    return [{**row, "accelerators": "、".join(row["accelerators"])} for row in summary["hubs"]]


def job_row(job) -> dict:
    bills = list(job.redemptions.all())
    tried = []
    for attempt in job.pool_attempts or []:
        if attempt.get("pool") and attempt["pool"] not in tried:
            tried.append(attempt["pool"])
    return {
        "id": job.pk, "name": job.name, "organization": job.organization.name, "state": job.get_state_display(),
        "pool": job.pool.code, "backend": job.backend, "backend_job_id": job.backend_job_id,
        "pools_tried": " → ".join(tried), "accelerators": job.accelerators,
        "accelerator_models": " / ".join(job.accelerator_models), "estimated_hours": f"{job.estimated_hours}",
        "data_region": job.get_data_region_display(), "data_grade": job.get_data_grade_display(),
        "created_at": _time(job.created_at), "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at), "exit_code": job.exit_code, "reason": job.reason,
        "accelerator_hours": (f"{job.accelerator_seconds / 3600:.4f}" if job.accelerator_seconds is not None else ""),
        "quoted_pays": (job.quote or {}).get("pays", ""),
        "list_price": f"{sum(b.list_price for b in bills):.2f}" if bills else "",
        "subsidy": f"{sum(b.subsidy for b in bills):.2f}" if bills else "",
        "payable": f"{sum(b.payable for b in bills):.2f}" if bills else "",
    }


def bill_row(bill) -> dict:
    lines = "; ".join(f"{line.voucher.number} {line.program.code} −{line.amount:.2f}" for line in bill.lines.all())
    return {
        "id": bill.pk, "job": bill.job_id, "job_name": bill.job.name if bill.job_id else "",
        "organization": bill.organization.name, "pool": bill.pool.code if bill.pool_id else "",
        "provider": bill.provider.name, "period_start": _time(bill.period_start), "period_end": _time(bill.period_end),
        "accelerators": bill.accelerators, "billed_seconds": bill.billed_seconds,
        "accelerator_hours": f"{bill.accelerator_hours}", "unit_price": f"{bill.unit_price:.2f}",
        "list_price": f"{bill.list_price:.2f}", "subsidy": f"{bill.subsidy:.2f}", "payable": f"{bill.payable:.2f}",
        "vouchers": lines, "notes": " ".join(bill.note_texts), "created_at": _time(bill.created_at),
    }


def application_row(application) -> dict:
    voucher = getattr(application, "voucher", None)
    return {
        "id": application.pk, "organization": application.organization.name,
        "credit_code": application.organization.credit_code, "sme": "是 yes" if application.organization.is_sme
        else "否 no", "program": application.program.code,
        "program_name": application.program.name, "department": application.program.department.name,
        "amount_requested": f"{application.amount_requested:.2f}",
        "approved_amount": f"{application.approved_amount:.2f}" if application.approved_amount is not None else "",
        "state": application.get_state_display(), "submitted_at": _time(application.submitted_at),
        "deadline": application.deadline.isoformat() if application.deadline else "",
        "decided_at": _time(application.decided_at), "voucher": voucher.number if voucher else "",
        "voucher_balance": f"{voucher.balance:.2f}" if voucher else "",
    }
