"""Quotes: the engine's placement (which pool, why, the next-best options) with the subsidy quote of the
firm's vouchers, as plain dicts for the pages, the API and the job's stored snapshot.

Reasons (why a pool was not considered, why a subsidy line was cut, why the choice) are kept as the
engine's codes and parameters and rendered by `explain.render` in the reader's language."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.engines.compute.errors import NoFeasiblePool, RequestError
from gaodi.engines.compute.placement import Option, Placement, place
from gaodi.engines.compute.request import DataGrade, JobRequest, Preference, Workload

from . import bridge, explain
from .choices import Hub, Region
from .models import Pool, Voucher

# Engine request fields -> form fields (the rest are not tied to one field).
_FIELD = {"accelerators": "accelerators", "accelerator_models": "accelerator_models",
          "estimated_hours": "estimated_hours", "deadline": "deadline", "data_region": "data_region",
          "data_size_gb": "data_size_gb", "budget_cap": "budget_cap", "nodes": "accelerators",
          "min_memory_gb": "accelerator_models"}


@dataclass
class QuoteResult:
    placement: Placement
    pools: dict[str, Pool]
    vouchers: dict[str, Voucher]  # programme code -> the voucher that carries it
    options: list[dict]

    @property
    def explanation(self) -> list[str]:
        """Why this pool, line by line, in the reader's language."""
        return [explain.render(r) for r in self.explanation_codes]

    @property
    def rejected(self) -> dict[str, str]:
        """Why each other pool cannot run the request, in the reader's language."""
        return {code: explain.render(self.placement.reason(code)) for code in sorted(self.placement.rejected)}

    @property
    def rejected_codes(self) -> dict[str, dict]:
        """The same, as the engine's codes and parameters."""
        return {code: self.placement.reason(code).to_dict() for code in sorted(self.placement.rejected)}

    @property
    def explanation_codes(self) -> list[dict]:
        return explanation_codes(self.placement)

    @property
    def choice(self) -> dict:
        return self.options[0]

    def option_for(self, pool_code: str) -> dict | None:
        return next((o for o in self.options if o["pool"]["code"] == pool_code), None)


def job_request(data: dict) -> JobRequest:
    """The engine's request from a cleaned JobForm."""
    return JobRequest(
        accelerators=int(data["accelerators"]),
        accelerator_models=tuple(data["accelerator_models"]),
        estimated_hours=float(data["estimated_hours"]),
        data_region=data["data_region"],
        deadline=data.get("deadline"),
        data_may_leave=bool(data.get("data_may_leave")),
        data_grade=DataGrade(data.get("data_grade") or "general"),
        data_size_gb=float(data.get("data_size_gb") or 0),
        workload=Workload(data.get("workload") or "training"),
        budget_cap=data.get("budget_cap"),
        preference=Preference(data.get("preference") or "cheapest"),
    )


def make_quote(organization, data: dict, now: datetime | None = None,
               failed: dict[str, str] | None = None) -> QuoteResult:
    """Rank every feasible pool for the request with the firm's chosen vouchers applied.
    `failed`: pools that refused or could not run this job (code -> what the backend said), skipped.
    Raises ValidationError (keyed by form field) when the request is refused or nothing can run it."""
    now = now or timezone.now()
    pools = bridge.with_capacity(bridge.active_pools())
    if not pools:
        raise ValidationError({"pool": _("平台上暂无对外提供的资源池。")})
    by_code = {p.code: p for p in pools}
    vouchers = list(data.get("vouchers") or [])
    catalog = bridge.build_catalog(pools)
    try:
        placement = place(
            job_request(data), catalog, now=now,
            availability=bridge.availability(pools, int(data["accelerators"]), now),
            enterprise=bridge.enterprise_facts(organization),
            programs=[bridge.voucher_program(v) for v in vouchers],
            rules=bridge.stacking_rules(),
            ledger=bridge.subsidy_ledger(organization, timezone.localdate(now).year),
            failed={code: why for code, why in (failed or {}).items() if code in by_code},
        )
    except RequestError as exc:
        field = _FIELD.get(exc.field, "__all__")
        raise ValidationError({field: _("请求不符合调度要求：%(e)s") % {"e": exc}}) from None
    except NoFeasiblePool as exc:
        reasons = _("；").join(f"{pool}：{explain.render(exc.codes.get(pool) or why)}"
                              for pool, why in sorted(exc.reasons.items()))
        raise ValidationError({"__all__": _("没有资源池能运行此作业。各资源池的原因：%(r)s") % {"r": reasons}}) from None
    by_program = {v.program.code: v for v in vouchers}
    options = [option_dict(o, by_code[o.pool.id], by_program) for o in placement.ranked]
    return QuoteResult(placement, by_code, by_program, options)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def option_dict(option: Option, pool: Pool, vouchers: dict[str, Voucher]) -> dict:
    """One feasible pool's quote. Subsidy notes are given rendered (`note`, `why`) and as the engine's codes
    (`reasons`, `reason`), so a stored quote can be shown again in another language."""
    cost = option.cost
    q = option.quote
    lines = []
    skipped = []
    if q is not None:
        for line in q.lines:
            voucher = vouchers.get(line.program)
            lines.append({"program": line.program, "program_name": line.name, "level": str(line.level),
                          "voucher": voucher.number if voucher else "", "rate": f"{line.rate:.4f}",
                          "amount": _money(line.amount), "note": explain.render_all(line.reasons),
                          "reasons": explain.to_dicts(line.reasons)})
        skipped = [{"program": code, "why": explain.render(why), "reason": why.to_dict()}
                   for code, why in q.skipped_reasons]
    return {
        "pool": {
            "id": pool.pk, "code": pool.code, "accelerator": pool.accelerator, "site": pool.site.name,
            "site_code": pool.site.code, "hub": pool.site.hub, "hub_label": str(Hub(pool.site.hub).label),
            "region": pool.site.region, "region_label": str(Region(pool.site.region).label),
            "provider": pool.site.provider.name, "provider_id": pool.site.provider_id, "backend": pool.backend,
            "price_per_hour": _money(pool.price_per_hour), "count": pool.count, "free": pool.free,
        },
        "list_price": _money(cost.list_price),
        "subsidy": _money(cost.subsidy),
        "compute_after_subsidy": _money(cost.compute_after_subsidy),
        "data_transfer": _money(cost.data_transfer),
        "pays": _money(cost.money),
        "latency_penalty": _money(cost.latency_penalty),
        "carbon": _money(cost.carbon),
        "effective": _money(cost.effective),
        "energy_kwh": f"{cost.energy_kwh}",
        "emissions_kg": f"{cost.emissions_kg}",
        "lines": lines,
        "skipped": skipped,
        "wait_hours": option.wait_hours,
        "finish": timezone.localtime(option.finish).isoformat(timespec="minutes"),
        "finish_display": f"{timezone.localtime(option.finish):%Y-%m-%d %H:%M}",
    }


def explanation_codes(placement: Placement) -> list[dict]:
    """"Why this pool" as codes: the engine's explanation (the choice, the key, the cost, the start, data
    residency, the next-best options, pools skipped after failures) and how many pools were not feasible."""
    out = [r.to_dict() for r in placement.explanation()]
    others = {code for code in placement.rejected if code not in placement.failed}
    if others:
        out.append(explain.coded("explain.rejected_count", f"{len(others)} other pool(s) do not qualify",
                                 n=len(others)))
    return out


def snapshot(result: QuoteResult, chosen: dict) -> tuple[dict, dict]:
    """What a job stores: the quote of its chosen pool, and the placement explanation with alternatives, as
    codes (rendered when shown, in the reader's language)."""
    alternatives = [o for o in result.options if o["pool"]["code"] != chosen["pool"]["code"]][:3]
    placement = {
        "recommended": result.choice["pool"]["code"],
        "chosen": chosen["pool"]["code"],
        "explanation": result.explanation_codes,
        "explanation_en": result.placement.explain(),
        "alternatives": alternatives,
        "rejected": result.rejected_codes,
        "failover": [],
    }
    return chosen, placement


def job_data(job) -> dict:
    """A stored job's request as a cleaned JobForm's data (for placing it again on failover)."""
    return {
        "accelerators": job.accelerators, "accelerator_models": list(job.accelerator_models),
        "estimated_hours": job.estimated_hours, "data_region": job.data_region, "deadline": job.deadline,
        "data_may_leave": job.data_may_leave, "data_grade": job.data_grade, "data_size_gb": job.data_size_gb,
        "workload": job.workload, "budget_cap": job.budget_cap, "preference": job.preference,
        "vouchers": list(job.vouchers.select_related("program")),
    }
