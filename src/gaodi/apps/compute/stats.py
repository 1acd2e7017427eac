"""Figures for the department's dashboard and the public page: capacity and utilization by hub and pool,
the SME share, queue times, subsidy spent against budget, and a timeline in Chinese working days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from gaodi.apps.core.choices import SizeClass
from gaodi.engines import workdays

from . import bridge, ledger
from .choices import ApplicationState, Hub, JobState
from .models import ZERO, Job, Pool, Redemption, RedemptionLine, SubsidyProgram, Voucher, VoucherApplication

SME_CLASSES = (SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO)
WINDOW_DAYS = 30
TIMELINE_WORKING_DAYS = 20


def _f(value) -> float:
    return round(float(value or 0), 2)


def capacity_by_pool(pools=None) -> list[dict]:
    pools = bridge.with_capacity(pools if pools is not None
                                 else Pool.objects.select_related("site", "site__provider").order_by("site__hub", "code"))
    return [{
        "id": p.pk, "code": p.code, "accelerator": p.accelerator, "hub": p.site.hub,
        "hub_label": str(Hub(p.site.hub).label), "site": p.site.name, "provider": p.site.provider.name,
        "region": p.site.region, "region_label": p.site.get_region_display(), "count": p.count, "in_use": p.in_use,
        "free": p.free if p.active else 0, "active": p.active, "price_per_hour": f"{p.price_per_hour:.2f}",
        "backend": p.backend, "memory_gb": p.memory_gb, "pue": f"{p.site.pue}", "green_share": f"{p.site.green_share}",
    } for p in pools]


def capacity_by_hub(pool_rows: list[dict]) -> list[dict]:
    hubs = []
    for hub in Hub:
        rows = [r for r in pool_rows if r["hub"] == hub.value and r["active"]]
        prices = [Decimal(r["price_per_hour"]) for r in rows]
        hubs.append({
            "hub": hub.value, "hub_label": str(hub.label), "pools": len(rows),
            "sites": len({r["site"] for r in rows}), "count": sum(r["count"] for r in rows),
            "in_use": sum(r["in_use"] for r in rows), "free": sum(r["free"] for r in rows),
            "min_price": f"{min(prices):.2f}" if prices else None, "max_price": f"{max(prices):.2f}" if prices else None,
            "accelerators": sorted({r["accelerator"] for r in rows}),
        })
    return hubs


def _used_hours_by_pool(since) -> dict[int, float]:
    """Accelerator-hours used since `since`: finished jobs' metered use, plus running jobs so far."""
    used: dict[int, float] = defaultdict(float)
    for row in (Job.objects.filter(finished_at__gte=since, accelerator_seconds__isnull=False)
                .values("pool_id").annotate(s=Sum("accelerator_seconds")).order_by()):
        used[row["pool_id"]] += (row["s"] or 0) / 3600
    now = timezone.now()
    for job in Job.objects.filter(state=JobState.RUNNING).only("pool_id", "accelerators", "started_at"):
        start = max(job.started_at or now, since)
        used[job.pool_id] += job.accelerators * max(0.0, (now - start).total_seconds()) / 3600
    return used


def utilization(pool_rows: list[dict], days: int = WINDOW_DAYS) -> dict:
    since = timezone.now() - timedelta(days=days)
    used = _used_hours_by_pool(since)
    window_hours = days * 24
    by_pool = []
    for r in pool_rows:
        hours = used.get(r["id"], 0.0)
        share = hours / (r["count"] * window_hours) if r["count"] else 0.0
        by_pool.append({**r, "used_hours": round(hours, 2), "utilization": round(share, 6),
                        "utilization_pct": round(100 * share, 3),
                        "in_use_share": round(r["in_use"] / r["count"], 4) if r["count"] else 0.0})
    by_hub = []
    for hub in Hub:
        rows = [r for r in by_pool if r["hub"] == hub.value]
        capacity = sum(r["count"] for r in rows)
        hours = sum(r["used_hours"] for r in rows)
        share = hours / (capacity * window_hours) if capacity else 0.0
        by_hub.append({"hub": hub.value, "hub_label": str(hub.label), "count": capacity,
                       "in_use": sum(r["in_use"] for r in rows), "used_hours": round(hours, 2),
                       "utilization": round(share, 6), "utilization_pct": round(100 * share, 3)})
    return {"days": days, "by_pool": by_pool, "by_hub": by_hub}


def sme_share() -> dict:
    """Share of SMEs in billed accelerator-hours, jobs, subsidy and payable (Art. 12: SMEs get access first)."""
    sme = Q(organization__size_class__in=SME_CLASSES)
    bills = Redemption.objects.aggregate(
        hours=Coalesce(Sum("accelerator_hours"), ZERO), sme_hours=Coalesce(Sum("accelerator_hours", filter=sme), ZERO),
        all_subsidy=Coalesce(Sum("subsidy"), ZERO), sme_subsidy=Coalesce(Sum("subsidy", filter=sme), ZERO))
    jobs = Job.objects.aggregate(n=Count("id"), sme_n=Count("id", filter=sme))

    def share(part, whole):
        return round(float(part) / float(whole), 4) if whole else None

    return {
        "accelerator_hours": _f(bills["hours"]), "sme_accelerator_hours": _f(bills["sme_hours"]),
        "hours_share": share(bills["sme_hours"], bills["hours"]),
        "subsidy": _f(bills["all_subsidy"]), "sme_subsidy": _f(bills["sme_subsidy"]),
        "subsidy_share": share(bills["sme_subsidy"], bills["all_subsidy"]),
        "jobs": jobs["n"], "sme_jobs": jobs["sme_n"], "jobs_share": share(jobs["sme_n"], jobs["n"]),
    }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(q * (len(values) - 1)))))
    return round(values[k], 2)


def queue_times(days: int = WINDOW_DAYS) -> dict:
    """Seconds from queueing to start, overall and for SMEs vs. the others."""
    since = timezone.now() - timedelta(days=days)
    rows = (Job.objects.filter(started_at__isnull=False, created_at__gte=since)
            .values_list("created_at", "started_at", "organization__size_class"))
    all_w, sme_w, other_w = [], [], []
    for created, started, size in rows:
        wait = max(0.0, (started - created).total_seconds())
        all_w.append(wait)
        (sme_w if size in SME_CLASSES else other_w).append(wait)

    def summary(values):
        return {"jobs": len(values), "avg_s": round(sum(values) / len(values), 2) if values else None,
                "p95_s": _percentile(values, 0.95)}

    waiting = Job.objects.filter(state=JobState.QUEUED).count() + Job.objects.filter(state=JobState.PENDING).count()
    return {"days": days, "all": summary(all_w), "sme": summary(sme_w), "other": summary(other_w),
            "waiting_now": waiting}


def subsidy_by_program() -> list[dict]:
    """Budget, issued as vouchers, spent on compute, returned from lapsed vouchers, and what is left."""
    spent = dict(RedemptionLine.objects.values("program_id").annotate(s=Sum("amount")).values_list("program_id", "s")
                 .order_by())
    issued = dict(Voucher.objects.values("program_id").annotate(s=Sum("amount")).values_list("program_id", "s")
                  .order_by())
    balances = dict(Voucher.objects.values("program_id").annotate(s=Sum("balance")).values_list("program_id", "s")
                    .order_by())
    out = []
    for p in SubsidyProgram.objects.select_related("department").order_by("-valid_to", "code"):
        unallocated = ledger.program_unallocated(p)
        out.append({
            "id": p.pk, "code": p.code, "name": p.name, "department": p.department.name, "level": p.level,
            "rate": f"{p.rate}", "budget": _f(p.budget), "issued": _f(issued.get(p.pk)), "spent": _f(spent.get(p.pk)),
            "outstanding": _f(balances.get(p.pk)), "unallocated": _f(unallocated),
            "spent_share": round(float(spent.get(p.pk) or 0) / float(p.budget), 4) if p.budget else None,
            "valid_from": p.valid_from.isoformat(), "valid_to": p.valid_to.isoformat(),
        })
    return out


def working_days_back(today: date, n: int) -> list[date]:
    """The last n working days up to today (official calendar: holidays skipped, make-up days counted)."""
    days: list[date] = []
    day = today
    while len(days) < n:
        if workdays.is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    return list(reversed(days))


def _per_day(qs, field: str, since: date, value=None) -> dict[date, float]:
    rows = qs.filter(**{f"{field}__date__gte": since}).annotate(day=TruncDate(field)).values("day")
    rows = rows.annotate(v=value if value is not None else Count("id")).values_list("day", "v").order_by()
    out: dict[date, float] = defaultdict(float)
    for day, v in rows:
        out[day] += float(v or 0)
    return out


def timeline(today: date | None = None, n: int = TIMELINE_WORKING_DAYS) -> dict:
    """Activity per working day. Work on a rest day is counted on the next working day, so nothing is lost
    and the axis holds working days only."""
    today = today or timezone.localdate()
    days = working_days_back(today, n)
    since = days[0] - timedelta(days=10)
    series = {
        "jobs_submitted": _per_day(Job.objects.all(), "created_at", since),
        "jobs_finished": _per_day(Job.objects.filter(finished_at__isnull=False), "finished_at", since),
        "applications": _per_day(VoucherApplication.objects.filter(submitted_at__isnull=False), "submitted_at", since),
        "subsidy_spent": _per_day(Redemption.objects.all(), "created_at", since, Sum("subsidy")),
    }

    def bucket(day: date) -> date:
        return workdays.add_working_days(day, 0)  # a rest day rolls forward to the next working day

    out = {name: [0.0] * len(days) for name in series}
    index = {d: i for i, d in enumerate(days)}
    for name, values in series.items():
        for day, v in values.items():
            i = index.get(bucket(day))
            if i is not None:
                out[name][i] += v
    pending = []
    for a in (VoucherApplication.objects.filter(state=ApplicationState.SUBMITTED, deadline__isnull=False)
              .select_related("organization").order_by("deadline")[:20]):
        pending.append({"id": a.pk, "organization": a.organization.name, "deadline": a.deadline.isoformat(),
                        "working_days_left": (left := workdays.working_days_between(today, a.deadline)),
                        "overdue_days": max(0, -left)})
    return {"days": [d.isoformat() for d in days], **{k: [round(x, 2) for x in v] for k, v in out.items()},
            "rest_days_skipped": (days[-1] - days[0]).days + 1 - len(days), "deadlines": pending}


def dashboard(today: date | None = None) -> dict:
    pools = capacity_by_pool()
    return {
        "generated_at": timezone.localtime().isoformat(timespec="seconds"),
        "generated_display": f"{timezone.localtime():%Y-%m-%d %H:%M}",
        "capacity": {"by_hub": capacity_by_hub(pools)},
        "utilization": utilization(pools),
        "sme": sme_share(),
        "queue": queue_times(),
        "subsidy": subsidy_by_program(),
        "timeline": timeline(today),
    }


def public_summary() -> dict:
    pools = capacity_by_pool(Pool.objects.filter(active=True).select_related("site", "site__provider")
                             .order_by("site__hub", "price_per_hour", "code"))
    hubs = capacity_by_hub(pools)
    return {"pools": pools, "hubs": hubs, "total": sum(h["count"] for h in hubs),
            "free": sum(h["free"] for h in hubs)}
