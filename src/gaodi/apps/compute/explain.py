"""The engine's coded reasons in the reader's language.

The compute engine explains itself with `Reason(code, params, note)` (gaodi.engines.compute.reasons): why a
subsidy line was cut or skipped, why a pool was not considered, why a pool was chosen. The platform stores
the codes and parameters (in a job's placement, a bill's lines) and renders them here, through gettext,
when a page or an API answer is made: the same stored job reads in Chinese or in English. A code this
module does not know is shown by the engine's English note, so nothing is ever hidden.

The platform adds codes of its own, for bills (`bill.*`) and failover (`failover.*`, see actions.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.engines.compute.reasons import Reason

from .choices import Hub, Preference, Region, Workload

Params = Mapping[str, Any]


def _region(code: Any) -> str:
    code = str(code or "")
    return str(Region(code).label) if code in Region.values else code


def _hub(code: Any) -> str:
    code = str(code or "")
    return str(Hub(code).label) if code in Hub.values else code


def _when(value: Any) -> str:
    """An ISO time from the engine, in local time: "2024-06-03 09:00"."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return f"{moment:%Y-%m-%d %H:%M}"


def _hours(value: Any) -> str:
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)


def _models(value: Any) -> str:
    return " / ".join(value) if isinstance(value, list | tuple) else str(value)


def _signed(value: Any) -> str:
    text = str(value)
    return text if text.startswith("-") else f"+{text}"


def _part(code: Any) -> str:
    return {"compute_after_subsidy": _("补贴后算力费"), "data_transfer": _("跨地区数据传输"),
            "latency_penalty": _("时延折算"), "carbon": _("碳排放折算")}.get(str(code), str(code))


def _preference(value: Any) -> str:
    value = str(value)
    return str(Preference(value).label) if value in Preference.values else value


def _preference_key(value: Any) -> str:
    return {"cheapest": _("综合成本最低"), "soonest": _("完成时间最早"),
            "greenest": _("碳排放最低")}.get(str(value), str(value))


def _workload(value: Any) -> str:
    value = str(value)
    return str(Workload(value).label) if value in Workload.values else value


def _start(p: Params) -> str:
    wait = float(p.get("wait_hours") or 0)
    first = (_("现在有足够的空闲加速卡，可以立即开始") if not wait
             else _("需等待约 %(h)s 小时才有足够的加速卡") % {"h": _hours(wait)})
    return first + _("，预计 %(t)s 前完成。") % {"t": _when(p.get("finish"))}


def _next(p: Params) -> str:
    delta = str(p.get("delta", "0"))
    higher = not delta.startswith("-")
    values = {"code": p.get("pool"), "site": p.get("site"), "hub": _hub(p.get("hub")), "pays": p.get("pays"),
              "eff": p.get("effective"), "dir": _("高") if higher else _("低"), "d": delta.lstrip("-")}
    if not p.get("part"):
        return _("次优：%(code)s（%(site)s，%(hub)s），您需支付 ¥%(pays)s，综合成本 ¥%(eff)s，比推荐方案%(dir)s ¥%(d)s。") % values
    part_delta = str(p.get("part_delta", "0"))
    return (_("次优：%(code)s（%(site)s，%(hub)s），您需支付 ¥%(pays)s，综合成本 ¥%(eff)s，比推荐方案%(dir)s ¥%(d)s，"
              "主要差在%(part)s（%(sign)s¥%(pd)s）。")
            % {**values, "part": _part(p.get("part")), "sign": "−" if part_delta.startswith("-") else "+",
               "pd": part_delta.lstrip("-")})


def _nested(p: Params) -> str:
    inner = p.get("reason")
    return render(inner) if inner else ""


RENDERERS: dict[str, Callable[[Params], str]] = {
    # subsidies: why a line was cut, why a programme did not apply
    "subsidy.rate_cut": lambda p: _("叠加上限使补贴比例由 %(r)s 下调") % {"r": p.get("rate")},
    "subsidy.limited.budget": lambda p: _("受算力券余额限制"),
    "subsidy.limited.nothing_left": lambda p: _("已无剩余应付金额"),
    "subsidy.limited.firm_program_cap": lambda p: _("受本项目企业年度补贴上限限制"),
    "subsidy.limited.firm_annual_cap": lambda p: _("受企业年度补贴总上限限制"),
    "subsidy.not_valid": lambda p: _("有效期为 %(a)s 至 %(b)s") % {"a": p.get("valid_from"), "b": p.get("valid_to")},
    "subsidy.wrong_district": lambda p: _("仅限注册在该区的企业"),
    "subsidy.wrong_provider": lambda p: _("不适用于该算力提供方"),
    "subsidy.sme_only": lambda p: _("仅限中小企业"),
    "subsidy.startup_age_unknown": lambda p: _("仅限成立 %(n)s 年内的初创企业，而企业未填写成立日期")
    % {"n": p.get("max_years")},
    "subsidy.startup_too_old": lambda p: _("仅限成立 %(n)s 年内的初创企业") % {"n": p.get("max_years")},
    "subsidy.large_model_only": lambda p: _("仅限大模型研发企业"),
    "subsidy.stacking_cap_reached": lambda p: _("已达到补贴叠加上限"),
    "subsidy.nothing_to_grant": lambda p: _("无可抵扣金额"),
    # placement: why a pool was not considered
    "placement.backend_failed": lambda p: (_("调度后端拒绝或无法运行：%(r)s") % {"r": p["reason"]} if p.get("reason")
                                           else _("调度后端故障")),
    "placement.wrong_model": lambda p: _("型号为 %(has)s，不是所要求的 %(want)s")
    % {"has": p.get("has"), "want": _models(p.get("wanted"))},
    "placement.data_residency": lambda p: _("数据不能离开%(a)s，而该站点位于%(b)s")
    % {"a": _region(p.get("data_region")), "b": _region(p.get("site_region"))},
    "placement.too_few_accelerators": lambda p: _("只有 %(n)s 张卡，少于所需的 %(m)s 张")
    % {"n": p.get("has"), "m": p.get("asked")},
    "placement.too_few_per_node": lambda p: _("每节点只有 %(n)s 张卡，少于所需的每节点 %(m)s 张")
    % {"n": p.get("has"), "m": p.get("asked")},
    "placement.too_few_nodes": lambda p: _("只有 %(n)s 个节点，少于所需的 %(m)s 个")
    % {"n": p.get("has"), "m": p.get("asked")},
    "placement.too_little_memory": lambda p: _("单卡显存 %(n)s GB，少于所需的 %(m)s GB")
    % {"n": p.get("has"), "m": p.get("asked")},
    "placement.after_deadline": lambda p: _("预计 %(f)s 完成，晚于截止时间 %(d)s（需等待 %(w)s 小时）")
    % {"f": _when(p.get("finish")), "d": _when(p.get("deadline")), "w": _hours(p.get("wait_hours"))},
    "placement.over_budget": lambda p: _("需支付 %(c)s，超过预算上限 %(b)s")
    % {"c": f"¥{p.get('cost')}", "b": f"¥{p.get('budget_cap')}"},
    # placement: why this pool
    "explain.chosen": lambda p: _("推荐资源池 %(code)s：%(provider)s · %(site)s（%(hub)s，%(region)s），%(acc)s。")
    % {"code": p.get("pool"), "provider": p.get("provider"), "site": p.get("site"), "hub": _hub(p.get("hub")),
       "region": _region(p.get("region")), "acc": p.get("accelerator")},
    "explain.why": lambda p: _("理由：在 %(n)d 个可行资源池中，它%(key)s（您选择的偏好是“%(pref)s”）。")
    % {"n": int(p.get("feasible") or 0), "key": _preference_key(p.get("preference")),
       "pref": _preference(p.get("preference"))},
    "explain.cost": lambda p: _("费用：挂牌价 ¥%(list)s，算力券补贴 ¥%(sub)s，跨地区数据传输 ¥%(tr)s，您需支付 ¥%(pays)s；"
                                "综合成本另计时延折算 ¥%(lat)s 和碳排放折算 ¥%(carbon)s（约 %(kg)s 千克二氧化碳），合计 ¥%(eff)s。")
    % {"list": p.get("list_price"), "sub": p.get("subsidy"), "tr": p.get("data_transfer"), "pays": p.get("pays"),
       "lat": p.get("latency_penalty"), "carbon": p.get("carbon"), "kg": p.get("emissions_kg"),
       "eff": p.get("effective")},
    "explain.start": _start,
    "explain.data_stays": lambda p: _("您的数据不能离开%(region)s，只考虑了该地区的资源池。")
    % {"region": _region(p.get("data_region"))},
    "explain.next": _next,
    "explain.failed": lambda p: _("已跳过拒绝或无法运行此作业的资源池：%(pools)s。") % {"pools": "、".join(p.get("pools") or [])},
    "explain.rejected_count": lambda p: _("另有 %(n)d 个资源池不满足条件（型号、数量、数据驻留、截止时间或预算上限）。")
    % {"n": int(p.get("n") or 0)},
    # bills (actions.bill_usage)
    "bill.voucher_not_owned": lambda p: _("算力券 %(no)s 不属于本企业，未抵扣。") % {"no": p.get("voucher")},
    "bill.voucher_not_valid": lambda p: _("算力券 %(no)s 在 %(d)s 不在有效期内（%(a)s 至 %(b)s），未抵扣。")
    % {"no": p.get("voucher"), "d": p.get("day"), "a": p.get("valid_from"), "b": p.get("expires_on")},
    "bill.voucher_used_up": lambda p: _("算力券 %(no)s 余额已用完，未抵扣。") % {"no": p.get("voucher")},
    "bill.voucher_skipped": lambda p: _("算力券 %(no)s（%(p)s）本次未抵扣：%(why)s")
    % {"no": p.get("voucher"), "p": p.get("program"), "why": _nested(p)},
    # failover (actions.dispatch_job)
    "failover.refused": lambda p: _("资源池 %(pool)s（%(backend)s）拒绝了此作业：%(why)s")
    % {"pool": p.get("pool"), "backend": p.get("backend"), "why": p.get("reason") or "—"},
    "failover.unreachable": lambda p: _("资源池 %(pool)s 的调度后端（%(backend)s）在本平台不可用：%(why)s")
    % {"pool": p.get("pool"), "backend": p.get("backend"), "why": p.get("reason") or "—"},
    "failover.outage": lambda p: _("资源池 %(pool)s 的调度后端已连续 %(m)s 分钟无法连接：%(why)s")
    % {"pool": p.get("pool"), "m": p.get("minutes"), "why": p.get("reason") or "—"},
    "failover.moved": lambda p: _("改投下一个可行资源池 %(to)s（%(backend)s），您需支付约 ¥%(pays)s。")
    % {"to": p.get("to"), "backend": p.get("backend"), "pays": p.get("pays")},
    "failover.none_left": lambda p: _("没有其他可行的资源池：%(why)s") % {"why": p.get("reason") or "—"},
}


def render(reason: Any) -> str:
    """One reason (a Reason, its dict, or an old plain string) in the active language."""
    if reason is None or reason == "":
        return ""
    if isinstance(reason, str):
        return reason
    if isinstance(reason, Reason):
        code, params, note = reason.code, reason.params, reason.note
    elif isinstance(reason, Mapping):
        code, params, note = str(reason.get("code", "")), reason.get("params") or {}, str(reason.get("note", ""))
    else:
        return str(reason)
    renderer = RENDERERS.get(code)
    if renderer is None:
        return note or code
    try:
        return str(renderer(params))
    except (KeyError, TypeError, ValueError):
        return note or code


def render_all(reasons: Any, sep: str | None = None) -> str:
    """Several reasons joined (by "；" in Chinese, "; " in English)."""
    sep = sep if sep is not None else _("；")
    return sep.join(filter(None, (render(r) for r in reasons or ())))


def to_dicts(reasons) -> list[dict]:
    return [r.to_dict() if isinstance(r, Reason) else dict(r) for r in reasons]


def coded(code: str, note: str = "", **params) -> dict:
    """A reason of the platform's own (not the engine's), as stored."""
    return {"code": code, "params": params, "note": note}
