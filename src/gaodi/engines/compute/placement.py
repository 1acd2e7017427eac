"""Placement: rank the feasible pools for a request by effective cost, explain the choice, fail over.

Effective cost of running the request on a pool, in CNY (each part shown in the breakdown):

- **compute after subsidy**: list price (accelerators × hours × price per accelerator-hour) minus
  the compute vouchers the firm gets for that provider (:mod:`.subsidies`);
- **data transfer**: data size × the catalog's cross-region price, when the site is outside the
  data's region;
- **latency penalty**: for inference only, round-trip latency to Shanghai (ms) × the catalog's price
  per ms × accelerator-hours;
- **carbon**: energy (accelerators × hours × board power × the site's PUE) × the share not covered by
  green power × the grid emission factor × the carbon price.

The firm's *money* is compute after subsidy plus transfer; the budget cap is checked against that.
Latency and carbon are shadow prices that steer the choice. The preference picks the ranking key:
``cheapest`` (effective cost), ``soonest`` (estimated finish, then cost) or ``greenest`` (emissions,
then cost). Feasibility: an acceptable accelerator model, enough accelerators in the pool and per node,
enough memory, the data residency rule, the deadline (using the pool's current wait, if known) and the
budget cap. A pool that failed (a backend error) is skipped, and :func:`failover` moves on to the next
feasible pool of the same ranking, as SkyPilot does.

Every reason (why a pool was rejected, why the choice) is also a :class:`~.reasons.Reason` with a code
and parameters, so an application can show it in its own language: ``Placement.reasons`` and
:meth:`Placement.explanation`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from gaodi.engines.compute.catalog import Catalog, Pool, Provider, Site
from gaodi.engines.compute.errors import NoFeasiblePool
from gaodi.engines.compute.reasons import Reason
from gaodi.engines.compute.request import JobRequest, Preference, Workload, validate_request
from gaodi.engines.compute.subsidies import (
    Enterprise,
    Quote,
    StackingRules,
    SubsidyLedger,
    SubsidyProgram,
    money,
    quote,
)

ZERO = Decimal("0")


@dataclass(frozen=True)
class Availability:
    """Live state of a pool: accelerators free now, and the expected wait when not enough are free."""

    free: int
    wait_hours: float = 0.0


@dataclass(frozen=True)
class CostBreakdown:
    list_price: Decimal
    subsidy: Decimal
    data_transfer: Decimal
    latency_penalty: Decimal
    carbon: Decimal
    energy_kwh: Decimal
    emissions_kg: Decimal

    @property
    def compute_after_subsidy(self) -> Decimal:
        return self.list_price - self.subsidy

    @property
    def money(self) -> Decimal:
        """What the firm pays: compute after subsidy plus data transfer."""
        return self.compute_after_subsidy + self.data_transfer

    @property
    def effective(self) -> Decimal:
        return self.money + self.latency_penalty + self.carbon

    def parts(self) -> dict[str, Decimal]:
        return {
            "compute after subsidy": self.compute_after_subsidy,
            "data transfer": self.data_transfer,
            "latency penalty": self.latency_penalty,
            "carbon": self.carbon,
        }


PART_CODES = {"compute after subsidy": "compute_after_subsidy", "data transfer": "data_transfer",
              "latency penalty": "latency_penalty", "carbon": "carbon"}


@dataclass(frozen=True)
class Option:
    pool: Pool
    site: Site
    provider: Provider
    cost: CostBreakdown
    wait_hours: float
    finish: datetime
    quote: Quote | None

    def describe(self) -> str:
        return (f"{self.pool.id}: {self.pool.accelerator} at {self.site.name} "
                f"({self.site.hub.label} hub, region {self.site.region}, {self.provider.name}, "
                f"backend {self.pool.backend})")


@dataclass(frozen=True)
class Placement:
    request: JobRequest
    ranked: tuple[Option, ...]  # feasible options, best first
    rejected: Mapping[str, str]  # pool id -> why not
    failed: frozenset[str] = field(default_factory=frozenset)
    reasons: Mapping[str, Reason] = field(default_factory=dict, hash=False)  # pool id -> why not, with a code

    @property
    def choice(self) -> Option:
        return self.ranked[0]

    def alternatives(self, k: int = 3) -> tuple[Option, ...]:
        return self.ranked[1:1 + k]

    def reason(self, pool_id: str) -> Reason | None:
        """Why a pool was not considered, with its code (None for a feasible pool)."""
        if pool_id in self.reasons:
            return self.reasons[pool_id]
        note = self.rejected.get(pool_id)
        return None if note is None else Reason("placement.other", {}, note)

    def explanation(self, k: int = 3) -> tuple[Reason, ...]:
        """Why this pool, as coded reasons (see :mod:`.reasons`): the choice, the key, the cost, the start,
        data residency, the next-best options and the pools skipped after failures."""
        c = self.choice
        r = self.request
        key = {Preference.CHEAPEST: "the lowest effective cost", Preference.SOONEST: "the earliest finish",
               Preference.GREENEST: "the lowest emissions"}[r.preference]
        out = [
            Reason("explain.chosen", _pool_params(c), f"Chosen: {c.describe()}."),
            Reason("explain.why", {"feasible": len(self.ranked), "preference": r.preference.value,
                                   "accelerators": r.accelerators, "models": list(r.accelerator_models),
                                   "hours": r.estimated_hours, "workload": r.workload.value},
                   f"Why: of {len(self.ranked)} feasible pool(s) it has {key} for {r.accelerators} × "
                   f"{'/'.join(r.accelerator_models)} for {r.estimated_hours:g} h ({r.workload})."),
            Reason("explain.cost", {
                "list_price": _yuan(c.cost.list_price), "subsidy": _yuan(c.cost.subsidy),
                "after_subsidy": _yuan(c.cost.compute_after_subsidy), "data_transfer": _yuan(c.cost.data_transfer),
                "latency_penalty": _yuan(c.cost.latency_penalty), "carbon": _yuan(c.cost.carbon),
                "emissions_kg": f"{c.cost.emissions_kg:.0f}", "effective": _yuan(c.cost.effective),
                "pays": _yuan(c.cost.money)},
                f"Cost: list ¥{c.cost.list_price:,.2f} − subsidy ¥{c.cost.subsidy:,.2f} = "
                f"¥{c.cost.compute_after_subsidy:,.2f}; data transfer ¥{c.cost.data_transfer:,.2f}; latency penalty "
                f"¥{c.cost.latency_penalty:,.2f}; carbon ¥{c.cost.carbon:,.2f} ({c.cost.emissions_kg:,.0f} kg CO2)"
                f" → effective ¥{c.cost.effective:,.2f}; you pay ¥{c.cost.money:,.2f}."),
            Reason("explain.start", {"wait_hours": c.wait_hours, "finish": c.finish.isoformat(timespec="minutes")},
                   (f"Starts in about {c.wait_hours:g} h" if c.wait_hours else "Starts now")
                   + f", finishes by {c.finish:%Y-%m-%d %H:%M}."),
        ]
        if r.data_must_stay:
            out.append(Reason("explain.data_stays", {"data_region": r.data_region},
                              f"Your data stays in {r.data_region}: only pools there were considered."))
        for alt in self.alternatives(k):
            delta = alt.cost.effective - c.cost.effective
            name, diff = _main_difference(c, alt)
            out.append(Reason("explain.next", {
                **_pool_params(alt), "effective": _yuan(alt.cost.effective), "pays": _yuan(alt.cost.money),
                "emissions_kg": f"{alt.cost.emissions_kg:.0f}", "delta": _yuan(delta),
                "part": PART_CODES[name] if diff else "", "part_delta": _yuan(diff),
                "finish": alt.finish.isoformat(timespec="minutes")},
                f"Next: {alt.describe()} — effective ¥{alt.cost.effective:,.2f}, "
                f"{alt.cost.emissions_kg:,.0f} kg CO2 ({_difference(c, alt)})."))
        if self.failed:
            out.append(Reason("explain.failed", {"pools": sorted(self.failed)},
                              f"Skipped after failures: {', '.join(sorted(self.failed))}."))
        return tuple(out)

    def explain(self, k: int = 3) -> str:
        """Why this pool, in plain words, with the cost breakdown and the next-best options."""
        return "\n".join(reason.note for reason in self.explanation(k))


def _yuan(value: Decimal) -> str:
    return f"{value:.2f}"


def _pool_params(o: Option) -> dict[str, str | int | float | bool | list[str]]:
    return {"pool": o.pool.id, "accelerator": o.pool.accelerator, "site": o.site.name, "hub": o.site.hub.value,
            "region": o.site.region, "provider": o.provider.name, "backend": o.pool.backend}


def _main_difference(best: Option, other: Option) -> tuple[str, Decimal]:
    parts = [(name, other.cost.parts()[name] - value) for name, value in best.cost.parts().items()]
    return max(parts, key=lambda p: abs(p[1]))


def _difference(best: Option, other: Option) -> str:
    delta = other.cost.effective - best.cost.effective
    name, diff = _main_difference(best, other)
    sign = "more" if delta >= 0 else "less"
    why = f"mostly {name} {'+' if diff >= 0 else '−'}¥{abs(diff):,.2f}" if diff else "same cost parts"
    return f"¥{abs(delta):,.2f} {sign}; {why}; finishes {other.finish:%Y-%m-%d %H:%M}"


def cost_of(request: JobRequest, catalog: Catalog, pool: Pool, *, enterprise: Enterprise | None = None,
            programs: Sequence[SubsidyProgram] = (), rules: StackingRules | None = None,
            ledger: SubsidyLedger | None = None, on: date | None = None) -> tuple[CostBreakdown, Quote | None]:
    site = catalog.site_of(pool)
    acc = catalog.accelerators[pool.accelerator]
    costs = catalog.costs
    hours = Decimal(repr(request.estimated_hours))
    acc_hours = hours * request.accelerators
    list_price = money(pool.price_per_hour * acc_hours)
    q: Quote | None = None
    subsidy = ZERO
    if enterprise is not None and programs and on is not None:
        q = quote(list_price, enterprise, on, programs, rules, ledger, provider=site.provider)
        subsidy = q.subsidy
    transfer = ZERO
    if site.region != request.data_region:
        transfer = money(Decimal(repr(request.data_size_gb)) * costs.cross_region_transfer_per_gb)
    latency = ZERO
    if request.workload is Workload.INFERENCE:
        latency = money(site.latency_ms * costs.inference_latency_per_ms_hour * acc_hours)
    energy_kwh = acc_hours * acc.power_kw * site.pue
    emissions_t = energy_kwh / 1000 * (1 - site.green_share) * costs.grid_emission_factor
    carbon = money(emissions_t * costs.carbon_price_per_tonne)
    return CostBreakdown(list_price, subsidy, transfer, latency, carbon, energy_kwh.quantize(Decimal("0.1")),
                         (emissions_t * 1000).quantize(Decimal("0.1"))), q


def place(
    request: JobRequest,
    catalog: Catalog,
    *,
    now: datetime,
    availability: Mapping[str, Availability] | None = None,
    enterprise: Enterprise | None = None,
    programs: Sequence[SubsidyProgram] = (),
    rules: StackingRules | None = None,
    ledger: SubsidyLedger | None = None,
    failed: Collection[str] | Mapping[str, Reason | str] = (),
) -> Placement:
    """Rank every feasible pool; raise NoFeasiblePool (with each pool's reason) when none is.

    ``failed``: pools whose backend failed or refused this job, skipped; as a mapping, with what each
    backend said (shown as the reason)."""
    r = validate_request(request, catalog, now)
    failures = _failures(failed)
    failed_set = frozenset(failures)
    options: list[Option] = []
    reasons: dict[str, Reason] = {}
    for pool in catalog.pools.values():
        why = failures.get(pool.id) or _infeasible(r, catalog, pool)
        if why:
            reasons[pool.id] = why
            continue
        wait = 0.0
        if availability is not None and pool.id in availability:
            a = availability[pool.id]
            wait = 0.0 if a.free >= r.accelerators else max(0.0, a.wait_hours)
        finish = now + timedelta(hours=wait) + r.duration
        if r.deadline is not None and finish > r.deadline:
            reasons[pool.id] = Reason(
                "placement.after_deadline",
                {"finish": finish.isoformat(timespec="minutes"), "deadline": r.deadline.isoformat(timespec="minutes"),
                 "wait_hours": wait},
                f"would finish {finish:%Y-%m-%d %H:%M}, after the deadline {r.deadline:%Y-%m-%d %H:%M} (wait {wait:g} h)")
            continue
        cost, q = cost_of(r, catalog, pool, enterprise=enterprise, programs=programs, rules=rules, ledger=ledger,
                          on=now.date())
        if r.budget_cap is not None and cost.money > r.budget_cap:
            reasons[pool.id] = Reason(
                "placement.over_budget", {"cost": _yuan(cost.money), "budget_cap": _yuan(r.budget_cap)},
                f"costs you ¥{cost.money:,.2f}, over the budget cap ¥{r.budget_cap:,.2f}")
            continue
        options.append(Option(pool, catalog.site_of(pool), catalog.provider_of(pool), cost, wait, finish, q))
    rejected = {pool_id: why.note for pool_id, why in reasons.items()}
    if not options:
        raise NoFeasiblePool("no pool can run this request", rejected, reasons)
    options.sort(key=lambda o: _rank_key(r.preference, o))
    return Placement(r, tuple(options), rejected, failed_set, reasons)


def failover(placement: Placement, failed_pool: str, reason: Reason | str | None = None) -> Placement:
    """The same ranking without ``failed_pool`` (and earlier failures); NoFeasiblePool when none is left.

    ``reason``: what the pool's backend said (its refusal, or why it could not be reached)."""
    failed = placement.failed | {failed_pool}
    ranked = tuple(o for o in placement.ranked if o.pool.id not in failed)
    why = _failure_reason(reason)
    reasons = dict(placement.reasons)
    reasons[failed_pool] = why
    rejected = dict(placement.rejected)
    rejected[failed_pool] = why.note
    if not ranked:
        raise NoFeasiblePool("every feasible pool has failed", rejected, reasons)
    return replace(placement, ranked=ranked, rejected=rejected, failed=failed, reasons=reasons)


def _failure_reason(reason: Reason | str | None) -> Reason:
    if isinstance(reason, Reason):
        return reason
    text = (reason or "").strip()
    return Reason("placement.backend_failed", {"reason": text},
                  f"the backend failed: {text}" if text else "the backend failed")


def _failures(failed: Collection[str] | Mapping[str, Reason | str]) -> dict[str, Reason]:
    if isinstance(failed, Mapping):
        return {pool: _failure_reason(why) for pool, why in failed.items()}
    return {pool: _failure_reason(None) for pool in failed}


def _rank_key(preference: Preference, o: Option) -> tuple[object, ...]:
    if preference is Preference.SOONEST:
        return (o.finish, o.cost.effective, o.pool.id)
    if preference is Preference.GREENEST:
        return (o.cost.emissions_kg, o.cost.effective, o.pool.id)
    return (o.cost.effective, o.finish, o.pool.id)


def _infeasible(r: JobRequest, catalog: Catalog, pool: Pool) -> Reason | None:
    site = catalog.site_of(pool)
    if pool.accelerator not in r.accelerator_models:
        return Reason("placement.wrong_model", {"has": pool.accelerator, "wanted": list(r.accelerator_models)},
                      f"has {pool.accelerator}, not {'/'.join(r.accelerator_models)}")
    if r.data_must_stay and site.region != r.data_region:
        return Reason("placement.data_residency", {"data_region": r.data_region, "site_region": site.region},
                      f"the data may not leave {r.data_region} and this site is in {site.region}")
    if pool.count < r.accelerators:
        return Reason("placement.too_few_accelerators", {"has": pool.count, "asked": r.accelerators},
                      f"has {pool.count} accelerators, fewer than the {r.accelerators} asked for")
    if r.per_node is not None and r.per_node > pool.per_node:
        return Reason("placement.too_few_per_node", {"has": pool.per_node, "asked": r.per_node},
                      f"has {pool.per_node} accelerators per node, fewer than the {r.per_node} asked per node")
    if r.nodes is not None and r.nodes > pool.nodes:
        return Reason("placement.too_few_nodes", {"has": pool.nodes, "asked": r.nodes},
                      f"has {pool.nodes} nodes, fewer than the {r.nodes} asked for")
    if pool.memory_gb < r.min_memory_gb:
        return Reason("placement.too_little_memory", {"has": pool.memory_gb, "asked": r.min_memory_gb},
                      f"has {pool.memory_gb} GB per accelerator, less than the {r.min_memory_gb} GB asked for")
    return None
