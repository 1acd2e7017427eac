"""Discrete-event replay of a job trace through a queue policy, and the metrics it reports.

Events are job arrivals (the trace, in submission order) and completions (a heap keyed by end time).
At one instant, completions are handled first, then arrivals, then the policy is asked once which
jobs to start. A started job holds its accelerators for its *true* duration; the policy only ever saw
the estimate. The simulator checks that a policy never starts more than is free.

Metrics (:class:`Metrics`), all times in seconds:

- job completion time (JCT) = end − submission; queueing delay = start − submission; average and p95
  (NumPy's linear-interpolation percentile);
- utilization = accelerator-seconds of all jobs / (capacity × (last end − first submission));
- SME share of accelerator-hours (fixed by the trace once every job completes) and SME share of
  all waiting time (policy-dependent), next to the SME share of jobs for reference;
- SME floor violations: scheduling passes that started a non-SME job while an SME job within the
  floor waited and would have fitted (see :func:`_floor_violation`); a policy that honours the floor
  has none, whatever the trace;
- SME floor attainment: at every instant the SMEs are *entitled* to min(their demand, floor ×
  capacity), where demand counts the accelerators of their queued and running jobs; attainment is
  ∫ min(SME allocation, entitlement) dt / ∫ entitlement dt. 1.0 means that whenever SMEs asked,
  they held at least the floor (or all they asked for);
- Jain's fairness index over tenants of their *normalised service*, x_t = Σ g·d / Σ g·(end −
  submission) over the tenant's jobs (the share of their accelerator-weighted time in the system
  that was spent running; 1 = never waited). J = (Σx)² / (n Σx²), 1 = all tenants treated alike;
- subsidy spent: with a :class:`Billing`, every job is billed at completion (list price =
  accelerators × hours × price) and quoted and redeemed against the subsidy programs in completion
  order, so budgets and annual caps run out as they would in operation.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, insort
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np

from gaodi.engines.compute.policies import ClusterState, QueuePolicy
from gaodi.engines.compute.subsidies import (
    Eligibility,
    Enterprise,
    Level,
    StackingRules,
    SubsidyLedger,
    SubsidyProgram,
    money,
    quote,
    redeem,
)
from gaodi.engines.compute.trace import FloatArray, Workload, size_capacity


class SimulationError(RuntimeError):
    """A policy broke an invariant (started a job that does not fit, twice, or before it arrived)."""


@dataclass
class Billing:
    """Prices and subsidy programs for the replay; one :class:`Enterprise` per tenant."""

    price_per_accelerator_hour: Decimal
    programs: Sequence[SubsidyProgram]
    enterprises: Sequence[Enterprise]
    rules: StackingRules = field(default_factory=StackingRules)
    epoch: date = date(2024, 1, 1)
    ledger: SubsidyLedger = field(default_factory=SubsidyLedger)

    def bill(self, tenant: int, gpus: int, seconds: float, end: float) -> Decimal:
        list_price = money(self.price_per_accelerator_hour * gpus * Decimal(repr(seconds)) / 3600)
        if list_price <= 0:
            return Decimal("0")
        on = self.epoch + timedelta(seconds=end)
        q = quote(list_price, self.enterprises[tenant], on, self.programs, self.rules, self.ledger)
        redeem(q, self.programs, self.rules, self.ledger)
        return q.subsidy


def illustrative_billing(workload: Workload, price_per_accelerator_hour: Decimal = Decimal("10.00"),
                         epoch: date = date(2024, 1, 1)) -> Billing:
    """Billing with illustrative vouchers (not real programs' figures), for replays and benchmarks.

    Programs, valid through 2024: a city SME voucher (30%, budget ¥3M, ¥300k per firm per year), a city
    large-model programme (20%, budget ¥2M, ¥500k per firm per year) and a Xuhui district SME top-up
    (10%, budget ¥0.5M). Stacking: the city covers at most 40%, all programs at most 100%, ¥600k per
    firm per year in total. Tenants: ``tenant-NN``, SME as the workload says, every fourth tenant
    (0, 4, 8, ...) a large-model developer, every third (0, 3, 6, ...) registered in Xuhui, the rest in
    Pudong.
    """
    start, stop = date(2024, 1, 1), date(2024, 12, 31)
    programs = (
        SubsidyProgram("city-sme-voucher", "上海市算力券 city SME voucher (illustrative)", Level.CITY,
                       Decimal("0.30"), Decimal("3000000"), start, stop, Eligibility(sme=True),
                       per_enterprise_annual_cap=Decimal("300000")),
        SubsidyProgram("city-llm", "大模型算力补贴 city large-model programme (illustrative)", Level.CITY,
                       Decimal("0.20"), Decimal("2000000"), start, stop, Eligibility(large_model_developer=True),
                       per_enterprise_annual_cap=Decimal("500000")),
        SubsidyProgram("xuhui-topup", "徐汇区加码 Xuhui SME top-up (illustrative)", Level.DISTRICT,
                       Decimal("0.10"), Decimal("500000"), start, stop, Eligibility(sme=True), district="xuhui"),
    )
    enterprises = tuple(
        Enterprise(id=f"tenant-{t:02d}", is_sme=bool(workload.tenant_sme[t]), large_model_developer=t % 4 == 0,
                   district="xuhui" if t % 3 == 0 else "pudong")
        for t in range(workload.n_tenants)
    )
    rules = StackingRules(city_rate_cap=Decimal("0.40"), max_combined_rate=Decimal("1"),
                          enterprise_annual_cap=Decimal("600000"))
    return Billing(price_per_accelerator_hour, programs, enterprises, rules, epoch)


@dataclass(frozen=True)
class Metrics:
    policy: str
    trace: str
    jobs: int
    capacity: int
    offered_load: float
    avg_jct: float
    p95_jct: float
    avg_wait: float
    p95_wait: float
    max_wait: float
    utilization: float
    sme_job_share: float
    sme_gpu_hour_share: float
    sme_wait_share: float | None
    sme_floor: float
    sme_floor_attainment: float | None
    sme_floor_violations: int
    jain_service: float
    subsidy_spent: Decimal | None
    makespan: float

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["subsidy_spent"] = None if self.subsidy_spent is None else str(self.subsidy_spent)
        return d


@dataclass(frozen=True)
class SimResult:
    metrics: Metrics
    start: FloatArray
    end: FloatArray
    timeline: tuple[tuple[float, int], ...]  # (time, accelerators in use after the events at that time)


def jain(x: Sequence[float] | FloatArray) -> float:
    """Jain's fairness index (Σx)² / (n Σx²); 1.0 for an empty or all-zero input."""
    a = np.asarray(x, dtype=np.float64)
    sq = float(np.dot(a, a))
    if len(a) == 0 or sq == 0:
        return 1.0
    return float(a.sum() ** 2 / (len(a) * sq))


def simulate(
    workload: Workload,
    policy: QueuePolicy,
    capacity: int | None = None,
    *,
    sme_floor: float = 0.3,
    billing: Billing | None = None,
    record: bool = False,
) -> SimResult:
    """Replay ``workload`` through ``policy`` on ``capacity`` accelerators (default: sized to 90% load)."""
    trace = workload.trace
    cap = size_capacity(trace) if capacity is None else capacity
    if cap < int(trace.gpus.max()):
        raise ValueError(f"capacity {cap} is below the largest job ({int(trace.gpus.max())} accelerators); "
                         "give a larger --capacity")
    state = ClusterState(capacity=cap, submit=trace.submit, estimate=workload.estimate, gpus=trace.gpus,
                         tenant=workload.tenant, tenant_sme=workload.tenant_sme)
    policy.attach(state)
    n = len(trace)
    submit = state.submit_l
    duration: list[float] = trace.duration.tolist()
    gpus = state.gpus_l
    est = state.est_l
    tenant = state.tenant_l
    sme = state.sme_l
    start = [math.nan] * n
    end = [math.nan] * n
    running = state.running
    tenant_alloc = state.tenant_alloc
    heap: list[tuple[float, int]] = []
    timeline: list[tuple[float, int]] = []
    floor_gpus = sme_floor * cap
    sme_demand = 0
    entitled = 0.0
    attained = 0.0
    subsidy = Decimal("0") if billing is not None else None
    sme_queued: dict[int, set[int]] = {}  # accelerator count -> queued SME jobs of that size
    violations = 0
    i = 0
    t_prev = submit[0]
    inf = math.inf
    timer = inf  # a pass the policy asked for (QueuePolicy.wakeup)
    while i < n or heap or timer < inf:
        t = min(submit[i] if i < n else inf, heap[0][0] if heap else inf, timer)
        if t >= timer:
            timer = inf
        dt = t - t_prev
        if dt > 0 and sme_demand:
            ent = min(sme_demand, floor_gpus)
            entitled += ent * dt
            attained += min(state.sme_alloc, ent) * dt
        t_prev = t
        while heap and heap[0][0] <= t:
            _, job = heapq.heappop(heap)
            g = gpus[job]
            state.free += g
            tenant_alloc[tenant[job]] -= g
            if sme[job]:
                state.sme_alloc -= g
                sme_demand -= g
            key = (start[job] + est[job], job)
            del running[bisect_left(running, key)]
            end[job] = t
            policy.finish(job, t)
            if subsidy is not None and billing is not None:
                subsidy += billing.bill(tenant[job], g, duration[job], t)
        while i < n and submit[i] <= t:
            if sme[i]:
                sme_demand += gpus[i]
                sme_queued.setdefault(gpus[i], set()).add(i)
            policy.submit(i, t)
            i += 1
        if state.free > 0 and policy.pending():
            non_sme_started: list[int] = []
            free_before = state.free
            for job in policy.schedule(t):
                g = gpus[job]
                if g > state.free:
                    raise SimulationError(f"policy {policy.name} started job {job} needing {g} accelerators "
                                          f"with {state.free} free at t={t}")
                if not math.isnan(start[job]) or submit[job] > t:
                    raise SimulationError(f"policy {policy.name} started job {job} twice or before it arrived")
                state.free -= g
                tenant_alloc[tenant[job]] += g
                if sme[job]:
                    state.sme_alloc += g
                    bucket = sme_queued[g]
                    bucket.discard(job)
                    if not bucket:
                        del sme_queued[g]
                else:
                    non_sme_started.append(job)
                start[job] = t
                insort(running, (t + est[job], job))
                heapq.heappush(heap, (t + duration[job], job))
            if non_sme_started and sme_queued and state.sme_alloc < floor_gpus:
                violations += _floor_violation(non_sme_started, free_before, sme_queued, state, floor_gpus)
        if policy.pending():
            wake = policy.wakeup(t)
            if t < wake < timer:
                timer = wake
        if record:
            timeline.append((t, cap - state.free))
    if policy.pending():
        raise SimulationError(f"policy {policy.name} left {policy.pending()} jobs queued at the end")
    start_a = np.asarray(start, dtype=np.float64)
    end_a = np.asarray(end, dtype=np.float64)
    metrics = _metrics(workload, policy.name, cap, start_a, end_a, sme_floor,
                       attained / entitled if entitled > 0 else None, violations, subsidy)
    return SimResult(metrics, start_a, end_a, tuple(timeline))


def _floor_violation(non_sme_started: list[int], free_before: int, sme_queued: dict[int, set[int]],
                     state: ClusterState, floor_gpus: float) -> int:
    """1 if this scheduling pass passed the SMEs over, else 0.

    A pass *passes the SMEs over* when, after it, the SMEs hold less than their floor, an SME job
    that would keep them within the floor is still waiting and would have fitted in what the pass gave
    to non-SME jobs plus what is still free, and no SME job within the floor is waiting for more
    accelerators than were free (such a job holds the reservation: the small SME jobs then rightly
    wait for it, and others' short backfill around it is harmless).
    """
    room = floor_gpus - state.sme_alloc
    entitled = [size for size in sme_queued if size <= room]
    if not entitled or any(size > free_before for size in entitled):
        return 0
    given_away = sum(state.gpus_l[job] for job in non_sme_started)
    return int(min(entitled) <= state.free + given_away)


def _metrics(workload: Workload, name: str, cap: int, start: FloatArray, end: FloatArray, sme_floor: float,
             attainment: float | None, violations: int, subsidy: Decimal | None) -> Metrics:
    trace = workload.trace
    jct = end - trace.submit
    wait = start - trace.submit
    g = trace.gpus.astype(np.float64)
    work = trace.duration * g
    makespan = float(end.max() - trace.submit.min())
    sme = workload.sme
    total_wait = float(wait.sum())
    resident = g * jct
    per_work = np.bincount(workload.tenant, weights=work, minlength=workload.n_tenants)
    per_resident = np.bincount(workload.tenant, weights=resident, minlength=workload.n_tenants)
    active = np.bincount(workload.tenant, minlength=workload.n_tenants) > 0
    service = np.where(per_resident[active] > 0, per_work[active] / np.maximum(per_resident[active], 1e-12), 1.0)
    return Metrics(
        policy=name,
        trace=trace.name,
        jobs=len(trace),
        capacity=cap,
        offered_load=trace.work / trace.window / cap,
        avg_jct=float(jct.mean()),
        p95_jct=float(np.percentile(jct, 95)),
        avg_wait=float(wait.mean()),
        p95_wait=float(np.percentile(wait, 95)),
        max_wait=float(wait.max()),
        utilization=float(work.sum() / (cap * makespan)) if makespan > 0 else 0.0,
        sme_job_share=float(sme.mean()),
        sme_gpu_hour_share=float(work[sme].sum() / work.sum()) if work.sum() > 0 else 0.0,
        sme_wait_share=float(wait[sme].sum() / total_wait) if total_wait > 0 else None,
        sme_floor=sme_floor,
        sme_floor_attainment=attainment,
        sme_floor_violations=violations,
        jain_service=jain(service),
        subsidy_spent=subsidy,
        makespan=makespan,
    )
