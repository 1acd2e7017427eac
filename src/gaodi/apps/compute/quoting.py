"""Quotes: the engine's placement (which pool, why, the next-best options) with the subsidy quote of the
firm's vouchers, as plain dicts for the pages, the API and the job's stored snapshot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.engines.compute.errors import NoFeasiblePool, RequestError
from gaodi.engines.compute.placement import Option, Placement, place
from gaodi.engines.compute.request import DataGrade, JobRequest, Preference, Workload

from . import bridge
from .choices import Hub, Region
from .choices import Preference as PreferenceChoice
from .models import Pool, Voucher

# Engine request fields -> form fields (the rest are not tied to one field).
_FIELD = {"accelerators": "accelerators", "accelerator_models": "accelerator_models",
          "estimated_hours": "estimated_hours", "deadline": "deadline", "data_region": "data_region",
          "data_size_gb": "data_size_gb", "budget_cap": "budget_cap", "nodes": "accelerators",
          "min_memory_gb": "accelerator_models"}
_PARTS = {"compute after subsidy": "补贴后算力费", "data transfer": "跨地区数据传输", "latency penalty": "时延折算",
          "carbon": "碳排放折算"}


def _region(code: str) -> str:
    return str(Region(code).label) if code in Region.values else code


_NOTE_PATTERNS = [
    (re.compile(r"^rate cut from (\S+) by the stacking cap$"), lambda m: _("叠加上限使补贴比例由 %(r)s 下调") % {"r": m[1]}),
    (re.compile(r"^limited by the program budget nearly spent$"), lambda m: _("受算力券余额限制")),
    (re.compile(r"^limited by the nothing left to pay$"), lambda m: _("已无剩余应付金额")),
    (re.compile(r"^limited by the firm's annual cap in this program$"), lambda m: _("受本项目企业年度补贴上限限制")),
    (re.compile(r"^limited by the firm's annual cap across all programs$"), lambda m: _("受企业年度补贴总上限限制")),
    (re.compile(r"^valid (\S+) to (\S+)$"), lambda m: _("有效期为 %(a)s 至 %(b)s") % {"a": m[1], "b": m[2]}),
    (re.compile(r"^only for firms registered in (\S+)$"), lambda m: _("仅限注册在该区的企业")),
    (re.compile(r"^not for this provider$"), lambda m: _("不适用于该算力提供方")),
    (re.compile(r"^only for small and medium enterprises$"), lambda m: _("仅限中小企业")),
    (re.compile(r"^only for start-ups"), lambda m: _("仅限符合成立年限的初创企业")),
    (re.compile(r"^only for large-model developers$"), lambda m: _("仅限大模型研发企业")),
    (re.compile(r"^the stacking cap is already reached$"), lambda m: _("已达到补贴叠加上限")),
    (re.compile(r"^nothing to grant$"), lambda m: _("无可抵扣金额")),
    (re.compile(r"^has (.+), not (.+)$"), lambda m: _("型号为 %(has)s，不是所要求的 %(want)s") % {"has": m[1], "want": m[2]}),
    (re.compile(r"^the data may not leave (\S+) and this site is in (\S+)$"),
     lambda m: _("数据不能离开%(a)s，而该站点位于%(b)s") % {"a": _region(m[1]), "b": _region(m[2])}),
    (re.compile(r"^has (\d+) accelerators, fewer than the (\d+) asked for$"),
     lambda m: _("只有 %(n)s 张卡，少于所需的 %(m)s 张") % {"n": m[1], "m": m[2]}),
    (re.compile(r"^would finish (.+), after the deadline (.+) \(wait (.+) h\)$"),
     lambda m: _("预计 %(f)s 完成，晚于截止时间 %(d)s（需等待 %(w)s 小时）") % {"f": m[1], "d": m[2], "w": m[3]}),
    (re.compile(r"^costs you (\S+), over the budget cap (\S+)$"),
     lambda m: _("需支付 %(c)s，超过预算上限 %(b)s") % {"c": m[1], "b": m[2]}),
    (re.compile(r"^the backend failed$"), lambda m: _("调度后端故障")),
]


def zh_note(note: str) -> str:
    """The engine's notes and reasons (English, "; "-separated) in Chinese; unknown parts are kept as they are."""
    out = []
    for part in filter(None, (p.strip() for p in (note or "").split(";"))):
        for pattern, render in _NOTE_PATTERNS:
            m = pattern.match(part)
            if m:
                out.append(str(render(m)))
                break
        else:
            out.append(part)
    return "；".join(out)


@dataclass
class QuoteResult:
    placement: Placement
    pools: dict[str, Pool]
    vouchers: dict[str, Voucher]  # programme code -> the voucher that carries it
    options: list[dict]
    explanation: list[str]

    @property
    def rejected(self) -> dict[str, str]:
        """Why each other pool cannot run the request, in Chinese."""
        return {code: zh_note(why) for code, why in sorted(self.placement.rejected.items())}

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


def make_quote(organization, data: dict, now: datetime | None = None) -> QuoteResult:
    """Rank every feasible pool for the request with the firm's chosen vouchers applied.
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
        )
    except RequestError as exc:
        field = _FIELD.get(exc.field, "__all__")
        raise ValidationError({field: _("请求不符合调度要求：%(e)s") % {"e": exc}}) from None
    except NoFeasiblePool as exc:
        reasons = "；".join(f"{pool}：{zh_note(why)}" for pool, why in sorted(exc.reasons.items()))
        raise ValidationError({"__all__": _("没有资源池能运行此作业。各资源池的原因：%(r)s") % {"r": reasons}}) from None
    by_program = {v.program.code: v for v in vouchers}
    options = [option_dict(o, by_code[o.pool.id], by_program) for o in placement.ranked]
    return QuoteResult(placement, by_code, by_program, options, explain(placement, options))


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def option_dict(option: Option, pool: Pool, vouchers: dict[str, Voucher]) -> dict:
    cost = option.cost
    q = option.quote
    lines = []
    skipped = []
    if q is not None:
        for line in q.lines:
            voucher = vouchers.get(line.program)
            lines.append({"program": line.program, "program_name": line.name, "level": str(line.level),
                          "voucher": voucher.number if voucher else "", "rate": f"{line.rate:.4f}",
                          "amount": _money(line.amount), "note": zh_note(line.note)})
        skipped = [{"program": code, "why": zh_note(why)} for code, why in q.skipped]
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


def explain(placement: Placement, options: list[dict]) -> list[str]:
    """"Why this pool", in plain Chinese, with the next-best options and what sets them apart."""
    r = placement.request
    best, c = options[0], placement.choice
    key = {Preference.CHEAPEST: _("综合成本最低"), Preference.SOONEST: _("完成时间最早"),
           Preference.GREENEST: _("碳排放最低")}[r.preference]
    pool = best["pool"]
    out = [
        _("推荐资源池 %(code)s：%(provider)s · %(site)s（%(hub)s，%(region)s），%(acc)s。")
        % {"code": pool["code"], "provider": pool["provider"], "site": pool["site"], "hub": pool["hub_label"],
           "region": pool["region_label"], "acc": pool["accelerator"]},
        _("理由：在 %(n)d 个可行资源池中，它%(key)s（您选择的偏好是“%(pref)s”）。")
        % {"n": len(options), "key": key, "pref": PreferenceChoice(r.preference.value).label},
        _("费用：挂牌价 ¥%(list)s，算力券补贴 ¥%(sub)s，跨地区数据传输 ¥%(tr)s，您需支付 ¥%(pays)s；"
          "综合成本另计时延折算 ¥%(lat)s 和碳排放折算 ¥%(carbon)s（约 %(kg)s 千克二氧化碳），合计 ¥%(eff)s。")
        % {"list": best["list_price"], "sub": best["subsidy"], "tr": best["data_transfer"], "pays": best["pays"],
           "lat": best["latency_penalty"], "carbon": best["carbon"], "kg": best["emissions_kg"],
           "eff": best["effective"]},
        (_("现在有足够的空闲加速卡，可以立即开始") if not c.wait_hours
         else _("需等待约 %(h)s 小时才有足够的加速卡") % {"h": f"{c.wait_hours:g}"})
        + _("，预计 %(t)s 前完成。") % {"t": best["finish"].replace("T", " ")[:16]},
    ]
    if r.data_must_stay:
        out.append(_("您的数据不能离开%(region)s，只考虑了该地区的资源池。")
                   % {"region": Region(r.data_region).label if r.data_region in Region.values else r.data_region})
    for alt_option, alt in list(zip(placement.ranked, options, strict=True))[1:4]:
        delta = alt_option.cost.effective - c.cost.effective
        parts = [(name, alt_option.cost.parts()[name] - value) for name, value in c.cost.parts().items()]
        name, diff = max(parts, key=lambda p: abs(p[1]))
        out.append(
            _("次优：%(code)s（%(site)s，%(hub)s），您需支付 ¥%(pays)s，综合成本 ¥%(eff)s，比推荐方案%(dir)s ¥%(d)s，"
              "主要差在%(part)s（%(sign)s¥%(pd)s）。")
            % {"code": alt["pool"]["code"], "site": alt["pool"]["site"], "hub": alt["pool"]["hub_label"],
               "pays": alt["pays"], "eff": alt["effective"], "dir": _("高") if delta >= 0 else _("低"),
               "d": f"{abs(delta):.2f}", "part": _PARTS.get(name, name), "sign": "+" if diff >= 0 else "−",
               "pd": f"{abs(diff):.2f}"})
    if placement.rejected:
        out.append(_("另有 %(n)d 个资源池不满足条件（型号、数量、数据驻留、截止时间或预算上限）。")
                   % {"n": len(placement.rejected)})
    return out


def snapshot(result: QuoteResult, chosen: dict) -> tuple[dict, dict]:
    """What a job stores: the quote of its chosen pool, and the placement explanation with alternatives."""
    alternatives = [o for o in result.options if o["pool"]["code"] != chosen["pool"]["code"]][:3]
    placement = {
        "recommended": result.choice["pool"]["code"],
        "chosen": chosen["pool"]["code"],
        "explanation": result.explanation,
        "explanation_en": result.placement.explain(),
        "alternatives": alternatives,
        "rejected": result.rejected,
    }
    return chosen, placement
