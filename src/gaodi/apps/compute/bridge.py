"""From database rows to the compute engine's plain data (gaodi.engines.compute) and back.

The engine knows nothing of Django: this module builds its Catalog from the pools providers registered,
its Enterprise from an Organization, its SubsidyPrograms from the vouchers a firm holds, and the live
Availability of each pool from the jobs running on it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from gaodi.engines.compute import catalog as ec
from gaodi.engines.compute.placement import Availability
from gaodi.engines.compute.subsidies import (
    Eligibility,
    Enterprise,
    Level,
    StackingRules,
    SubsidyLedger,
    SubsidyProgram,
)

from .choices import JobState
from .models import Job, Pool, RedemptionLine, Voucher

SHIPPED_CATALOG = Path(__file__).resolve().parent / "data" / "catalog.toml"

# Used when the shipped catalog file cannot be read: the engine's figures for the accelerators it ships.
_FALLBACK_COSTS = ec.Costs(Decimal("0.30"), Decimal("0.04"), Decimal("90"), Decimal("0.5703"))
_DEFAULT_POWER_KW = Decimal("0.40")


@lru_cache(maxsize=1)
def shipped_catalog() -> ec.Catalog | None:
    """The catalog file shipped with the app (providers, sites and pools for the demo; accelerators and
    cost parameters for everyone), or None if it is missing or invalid."""
    try:
        return ec.load_catalog(SHIPPED_CATALOG)
    except (ec.CatalogError, OSError):
        return None


def known_accelerators() -> dict[str, ec.Accelerator]:
    """Accelerator models the platform knows (name -> facts), from the shipped catalog."""
    shipped = shipped_catalog()
    return dict(shipped.accelerators) if shipped else {}


def canonical_accelerator(name: str) -> str | None:
    """The catalog's spelling of an accelerator model ("ascend-910b" -> "Ascend 910B"), or None."""
    key = ec.normalize_model(name or "")
    for model in known_accelerators():
        if ec.normalize_model(model) == key:
            return model
    return None


def cost_parameters() -> ec.Costs:
    shipped = shipped_catalog()
    return shipped.costs if shipped else _FALLBACK_COSTS


def stacking_rules() -> StackingRules:
    """How subsidies stack (the city share cap, the combined cap, a firm's annual cap across programmes).
    Operators set GAODI_COMPUTE_CITY_RATE_CAP, GAODI_COMPUTE_MAX_COMBINED_RATE, GAODI_COMPUTE_ENTERPRISE_ANNUAL_CAP."""
    cap = getattr(settings, "GAODI_COMPUTE_ENTERPRISE_ANNUAL_CAP", None)
    return StackingRules(
        city_rate_cap=Decimal(str(getattr(settings, "GAODI_COMPUTE_CITY_RATE_CAP", "0.5"))),
        max_combined_rate=Decimal(str(getattr(settings, "GAODI_COMPUTE_MAX_COMBINED_RATE", "1"))),
        enterprise_annual_cap=None if cap in (None, "") else Decimal(str(cap)),
    )


def active_pools():
    return Pool.objects.filter(active=True).select_related("site", "site__provider")


def build_catalog(pools=None) -> ec.Catalog:
    """An engine Catalog of the given pools (default: every active pool on the platform)."""
    pools = list(active_pools() if pools is None else pools)
    accelerators = dict(known_accelerators())
    providers: dict[str, ec.Provider] = {}
    sites: dict[str, ec.Site] = {}
    engine_pools: dict[str, ec.Pool] = {}
    for pool in pools:
        site = pool.site
        org = site.provider
        providers.setdefault(org.code, ec.Provider(id=org.code, name=org.name))
        sites.setdefault(site.code, ec.Site(
            id=site.code, provider=org.code, name=site.name, hub=ec.Hub(site.hub), region=site.region,
            pue=site.pue, green_share=site.green_share, latency_ms=site.latency_ms))
        model = canonical_accelerator(pool.accelerator) or pool.accelerator
        if model not in accelerators:
            accelerators[model] = ec.Accelerator(model=model, vendor="", memory_gb=pool.memory_gb,
                                                 power_kw=_DEFAULT_POWER_KW)
        engine_pools[pool.code] = ec.Pool(
            id=pool.code, site=site.code, accelerator=model, count=pool.count, per_node=pool.per_node,
            memory_gb=pool.memory_gb, price_per_hour=pool.price_per_hour, backend=pool.backend)
    version = shipped_catalog().catalog_version if shipped_catalog() else "platform"
    return ec.Catalog(catalog_version=f"{version}+platform", costs=cost_parameters(), accelerators=accelerators,
                      providers=providers, sites=sites, pools=engine_pools, source="database")


def in_use_by_pool() -> dict[int, int]:
    """Accelerators held by running jobs, per pool id."""
    rows = (Job.objects.filter(state=JobState.RUNNING).values("pool_id").annotate(n=Sum("accelerators"))
            .order_by())
    return {r["pool_id"]: int(r["n"] or 0) for r in rows}


def with_capacity(pools) -> list[Pool]:
    """The pools with their live `in_use` and `free` counts attached (one query for all)."""
    used = in_use_by_pool()
    pools = list(pools)
    for pool in pools:
        pool._in_use = used.get(pool.pk, 0)
    return pools


def availability(pools, accelerators: int, now: datetime | None = None) -> dict[str, Availability]:
    """Free accelerators per pool now, and for a request of `accelerators` the expected wait: the time
    until enough running jobs end, judged by their own estimates."""
    now = now or timezone.now()
    pools = list(pools)
    running: dict[int, list[tuple[datetime, int]]] = {}
    for job in Job.objects.filter(state=JobState.RUNNING, pool__in=pools).only(
            "pool_id", "accelerators", "started_at", "created_at", "estimated_hours"):
        start = job.started_at or job.created_at
        end = start + timedelta(hours=float(job.estimated_hours))
        running.setdefault(job.pool_id, []).append((end, job.accelerators))
    out: dict[str, Availability] = {}
    for pool in pools:
        jobs = sorted(running.get(pool.pk, []))
        free = pool.count - sum(n for _end, n in jobs)
        wait = 0.0
        if free < accelerators:
            freed = free
            for end, n in jobs:
                freed += n
                if freed >= accelerators:
                    wait = max(0.0, (end - now).total_seconds() / 3600)
                    break
        out[pool.code] = Availability(free=max(0, free), wait_hours=round(wait, 2))
    return out


def is_large_model_developer(org) -> bool:
    """A firm counts as a large-model developer when it has a public filing of a generative algorithm."""
    from gaodi.apps.algorithms.models import PUBLIC_STATES, AlgorithmFiling, Category

    return AlgorithmFiling.objects.filter(organization=org, category=Category.GENERATION,
                                          state__in=PUBLIC_STATES).exists()


def enterprise_facts(org) -> Enterprise:
    return Enterprise(id=str(org.pk), is_sme=org.is_sme, founded=org.founded_on,
                      large_model_developer=is_large_model_developer(org), district=org.district or None)


def eligibility(program) -> Eligibility:
    age = program.max_startup_age_years
    return Eligibility(sme=program.sme_only, max_startup_age_years=float(age) if age is not None else None,
                       large_model_developer=program.large_model_developer_only)


def provider_codes(program) -> frozenset[str] | None:
    codes = frozenset(program.providers.values_list("code", flat=True))
    return codes or None


def voucher_program(voucher: Voucher, balance: Decimal | None = None) -> SubsidyProgram:
    """The engine's view of one voucher: its programme's rate, rules and eligibility, with the voucher's own
    balance as the budget and the voucher's validity, so a quote never grants more than the voucher holds."""
    program = voucher.program
    valid_from = max(program.valid_from, voucher.valid_from)
    valid_to = max(valid_from, min(program.valid_to, voucher.expires_on))
    return SubsidyProgram(
        code=program.code, name=program.name, level=Level(program.level), rate=program.rate,
        budget=voucher.balance if balance is None else balance, valid_from=valid_from, valid_to=valid_to,
        eligibility=eligibility(program), district=program.district or None,
        per_enterprise_annual_cap=program.per_enterprise_annual_cap, providers=provider_codes(program),
    )


def subsidy_ledger(org, year: int) -> SubsidyLedger:
    """What the firm already got this year, per programme and in all (for the annual caps)."""
    ledger = SubsidyLedger()
    rows = (RedemptionLine.objects.filter(redemption__organization=org, redemption__created_at__year=year)
            .values("program__code").annotate(total=Sum("amount")).order_by())
    for row in rows:
        amount = row["total"] or Decimal("0")
        ledger.firm_program_year[(str(org.pk), row["program__code"], year)] += amount
        ledger.firm_year[(str(org.pk), year)] += amount
    return ledger


def usable_vouchers(org, on: date | None = None):
    """The firm's vouchers that are valid today and have a balance."""
    on = on or timezone.localdate()
    return (Voucher.objects.filter(organization=org, lapsed_at__isnull=True, valid_from__lte=on,
                                   expires_on__gte=on, balance__gt=0)
            .select_related("program").order_by("expires_on", "pk"))
