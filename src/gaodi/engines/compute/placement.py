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
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from gaodi.engines.compute.catalog import Catalog, Pool, Provider, Site
from gaodi.engines.compute.errors import NoFeasiblePool
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

    @property
    def choice(self) -> Option:
        return self.ranked[0]

    def alternatives(self, k: int = 3) -> tuple[Option, ...]:
        return self.ranked[1:1 + k]

    def explain(self, k: int = 3) -> str:
        """Why this pool, in plain words, with the cost breakdown and the next-best options."""
        c = self.choice
        r = self.request
        key = {Preference.CHEAPEST: "the lowest effective cost", Preference.SOONEST: "the earliest finish",
               Preference.GREENEST: "the lowest emissions"}[r.preference]
        lines = [
            f"Chosen: {c.describe()}.",
            f"Why: of {len(self.ranked)} feasible pool(s) it has {key} for {r.accelerators} × "
            f"{'/'.join(r.accelerator_models)} for {r.estimated_hours:g} h ({r.workload}).",
            f"Cost: list ¥{c.cost.list_price:,.2f} − subsidy ¥{c.cost.subsidy:,.2f} = ¥{c.cost.compute_after_subsidy:,.2f}"
            f"; data transfer ¥{c.cost.data_transfer:,.2f}; latency penalty ¥{c.cost.latency_penalty:,.2f}"
            f"; carbon ¥{c.cost.carbon:,.2f} ({c.cost.emissions_kg:,.0f} kg CO2)"
            f" → effective ¥{c.cost.effective:,.2f}; you pay ¥{c.cost.money:,.2f}.",
            (f"Starts in about {c.wait_hours:g} h" if c.wait_hours else "Starts now")
            + f", finishes by {c.finish:%Y-%m-%d %H:%M}.",
        ]
        if r.data_must_stay:
            lines.append(f"Your data stays in {r.data_region}: only pools there were considered.")
        for alt in self.alternatives(k):
            lines.append(f"Next: {alt.describe()} — effective ¥{alt.cost.effective:,.2f}, "
                         f"{alt.cost.emissions_kg:,.0f} kg CO2 ({_difference(c, alt)}).")
        if self.failed:
            lines.append(f"Skipped after failures: {', '.join(sorted(self.failed))}.")
        return "\n".join(lines)


def _difference(best: Option, other: Option) -> str:
    delta = other.cost.effective - best.cost.effective
    parts = [(name, other.cost.parts()[name] - value) for name, value in best.cost.parts().items()]
    name, diff = max(parts, key=lambda p: abs(p[1]))
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
    failed: Collection[str] = (),
) -> Placement:
    """Rank every feasible pool; raise NoFeasiblePool (with each pool's reason) when none is."""
    r = validate_request(request, catalog, now)
    failed_set = frozenset(failed)
    options: list[Option] = []
    rejected: dict[str, str] = {}
    for pool in catalog.pools.values():
        why = _infeasible(r, catalog, pool, failed_set)
        if why:
            rejected[pool.id] = why
            continue
        wait = 0.0
        if availability is not None and pool.id in availability:
            a = availability[pool.id]
            wait = 0.0 if a.free >= r.accelerators else max(0.0, a.wait_hours)
        finish = now + timedelta(hours=wait) + r.duration
        if r.deadline is not None and finish > r.deadline:
            rejected[pool.id] = (f"would finish {finish:%Y-%m-%d %H:%M}, after the deadline "
                                 f"{r.deadline:%Y-%m-%d %H:%M} (wait {wait:g} h)")
            continue
        cost, q = cost_of(r, catalog, pool, enterprise=enterprise, programs=programs, rules=rules, ledger=ledger,
                          on=now.date())
        if r.budget_cap is not None and cost.money > r.budget_cap:
            rejected[pool.id] = f"costs you ¥{cost.money:,.2f}, over the budget cap ¥{r.budget_cap:,.2f}"
            continue
        options.append(Option(pool, catalog.site_of(pool), catalog.provider_of(pool), cost, wait, finish, q))
    if not options:
        raise NoFeasiblePool("no pool can run this request", rejected)
    options.sort(key=lambda o: _rank_key(r.preference, o))
    return Placement(r, tuple(options), rejected, failed_set)


def failover(placement: Placement, failed_pool: str) -> Placement:
    """The same ranking without ``failed_pool`` (and earlier failures); NoFeasiblePool when none is left."""
    failed = placement.failed | {failed_pool}
    ranked = tuple(o for o in placement.ranked if o.pool.id not in failed)
    rejected = dict(placement.rejected)
    rejected[failed_pool] = "the backend failed"
    if not ranked:
        raise NoFeasiblePool("every feasible pool has failed", rejected)
    return replace(placement, ranked=ranked, rejected=rejected, failed=failed)


def _rank_key(preference: Preference, o: Option) -> tuple[object, ...]:
    if preference is Preference.SOONEST:
        return (o.finish, o.cost.effective, o.pool.id)
    if preference is Preference.GREENEST:
        return (o.cost.emissions_kg, o.cost.effective, o.pool.id)
    return (o.cost.effective, o.finish, o.pool.id)


def _infeasible(r: JobRequest, catalog: Catalog, pool: Pool, failed: frozenset[str]) -> str | None:
    site = catalog.site_of(pool)
    if pool.id in failed:
        return "the backend failed"
    if pool.accelerator not in r.accelerator_models:
        return f"has {pool.accelerator}, not {'/'.join(r.accelerator_models)}"
    if r.data_must_stay and site.region != r.data_region:
        return f"the data may not leave {r.data_region} and this site is in {site.region}"
    if pool.count < r.accelerators:
        return f"has {pool.count} accelerators, fewer than the {r.accelerators} asked for"
    if r.per_node is not None and r.per_node > pool.per_node:
        return f"has {pool.per_node} accelerators per node, fewer than the {r.per_node} asked per node"
    if r.nodes is not None and r.nodes > pool.nodes:
        return f"has {pool.nodes} nodes, fewer than the {r.nodes} asked for"
    if pool.memory_gb < r.min_memory_gb:
        return f"has {pool.memory_gb} GB per accelerator, less than the {r.min_memory_gb} GB asked for"
    return None
