"""Discrete-event replay of a job trace through a queue policy, and the metrics it reports.

Events are job arrivals (the trace, in submission order) and completions (a heap keyed by end time).
At one instant, completions are handled first, then arrivals, then the policy is asked once what to
do (:class:`~gaodi.engines.compute.policies.Plan`): its preemptions are applied first, then its
starts. A run holds its accelerators for the job's *true* remaining duration; the policy only ever saw
the estimate. The simulator checks that a policy never starts more than is free, never starts a job
that runs or has ended, never preempts a job that is not running and never preempts and restarts a
job in the same pass.

**Preemption and its cost** (:class:`~gaodi.engines.compute.policies.PreemptionCost`, default a
checkpoint every 1800 s of progress and 300 s to restart). A run that starts with ``done`` seconds of
saved progress holds its accelerators for ``overhead + (duration − done)``, where ``overhead`` is the
restart overhead if the job was preempted before and 0 on its first start. Preempted after ``ran``
seconds, it has worked ``w = max(0, ran − overhead)``; its last checkpoint saved
``⌊w / interval⌋ × interval`` of that, which is added to ``done``; the rest is *lost* and will be run
again. So every job ends having held its accelerators for exactly
``duration + lost + restart`` seconds (:class:`RunAccount`), and that is what it is billed for.

Metrics (:class:`Metrics`), all times in seconds:

- job completion time (JCT) = end − submission; queueing delay = time in the system not holding
  accelerators, i.e. JCT − held (= first start − submission for a job never preempted); average and
  p95 (NumPy's linear-interpolation percentile);
- utilization = *useful* accelerator-seconds (the trace's) / (capacity × (last end − first
  submission)); busy utilization counts everything held, lost work and restarts included;
- preemptions, jobs preempted at least once, lost accelerator-hours (Σ accelerators × (lost work +
  restart overhead)) and billed accelerator-hours (Σ accelerators × held = the trace's
  accelerator-hours + the lost ones);
- SME share of accelerator-hours (fixed by the trace once every job completes) and SME share of
  all waiting time (policy-dependent), next to the SME share of jobs for reference;
- SME floor violations: scheduling passes that started a non-SME job while an SME job within the
  floor waited and would have fitted (see :func:`_floor_violation`), plus passes that preempted an SME
  job, started a non-SME job and left the SMEs below their floor (``sme_floor_preemptions``); a policy
  that honours the floor has none, whatever the trace;
- SME floor attainment: at every instant the SMEs are *entitled* to min(their demand, floor ×
  capacity), where demand counts the accelerators of their queued and running jobs; attainment is
  ∫ min(SME allocation, entitlement) dt / ∫ entitlement dt. 1.0 means that whenever SMEs asked,
  they held at least the floor (or all they asked for);
- Jain's fairness index over tenants of their *normalised service*, x_t = Σ g·d / Σ g·(end −
  submission) over the tenant's jobs (the share of their accelerator-weighted time in the system
  that was spent doing useful work; 1 = never waited, never preempted). J = (Σx)² / (n Σx²), 1 = all
  tenants treated alike;
- subsidy spent: with a :class:`Billing`, every job is billed at completion (list price =
  accelerators × hours held × price) and quoted and redeemed against the subsidy programs in
  completion order, so budgets and annual caps run out as they would in operation.
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

from gaodi.engines.compute.policies import ClusterState, PreemptionCost, QueuePolicy
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
from gaodi.engines.compute.trace import FloatArray, IntArray, Workload, size_capacity


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
    busy_utilization: float
    preemptions: int
    preempted_jobs: int
    lost_accelerator_hours: float
    billed_accelerator_hours: float
    sme_floor_preemptions: int
    checkpoint_interval: float
    restart_overhead: float

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["subsidy_spent"] = None if self.subsidy_spent is None else str(self.subsidy_spent)
        return d


@dataclass(frozen=True)
class RunAccount:
    """Per job, how its accelerator time was spent: ``held`` = duration + ``lost`` + ``restart``.

    ``held``: seconds it held accelerators over all its runs; ``lost``: seconds of work it ran twice
    because a preemption came after its last checkpoint; ``restart``: seconds spent restarting after
    preemptions; ``preemptions``: how often it was preempted.
    """

    held: FloatArray
    lost: FloatArray
    restart: FloatArray
    preemptions: IntArray


@dataclass(frozen=True)
class SimResult:
    metrics: Metrics
    start: FloatArray  # first start of each job
    end: FloatArray
    runs: RunAccount
    timeline: tuple[tuple[float, int], ...]  # (time, accelerators in use after the events at that time)
    intervals: tuple[tuple[int, float, float], ...] = ()  # with record=True: (job, start, end) of every run


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
    cost: PreemptionCost | None = None,
) -> SimResult:
    """Replay ``workload`` through ``policy`` on ``capacity`` accelerators (default: sized to 90% load).

    ``cost``: what a preemption costs (default :class:`PreemptionCost`: a checkpoint every 30 minutes,
    5 minutes to restart); it only matters to a policy that preempts.
    """
    trace = workload.trace
    cap = size_capacity(trace) if capacity is None else capacity
    if cap < int(trace.gpus.max()):
        raise ValueError(f"capacity {cap} is below the largest job ({int(trace.gpus.max())} accelerators); "
                         "give a larger --capacity")
    cost = PreemptionCost() if cost is None else cost
    state = ClusterState(capacity=cap, submit=trace.submit, estimate=workload.estimate, gpus=trace.gpus,
                         tenant=workload.tenant, tenant_sme=workload.tenant_sme, cost=cost)
    policy.attach(state)
    preemptive = policy.preemptive
    n = len(trace)
    submit = state.submit_l
    duration: list[float] = trace.duration.tolist()
    gpus = state.gpus_l
    est = state.est_l
    tenant = state.tenant_l
    sme = state.sme_l
    run_start = state.run_start_l
    done = state.done_l
    preempted = state.preempted_l
    rem_est = state.rem_est_l
    held = [0.0] * n  # seconds each job held accelerators, all runs
    lost = [0.0] * n  # seconds of work redone because a preemption lost it
    restart = [0.0] * n  # seconds spent restarting after preemptions
    first = [math.nan] * n
    end = [math.nan] * n
    end_at = [math.nan] * n  # true end of the current run (heap entries of earlier runs are stale)
    run_key: list[tuple[float, int]] = [(0.0, 0)] * n  # the job's entry in state.running
    interval = cost.checkpoint_interval
    overhead = cost.restart_overhead
    running = state.running
    tenant_alloc = state.tenant_alloc
    heap: list[tuple[float, int]] = []
    timeline: list[tuple[float, int]] = []
    intervals: list[tuple[int, float, float]] = []
    floor_gpus = sme_floor * cap
    sme_demand = 0
    entitled = 0.0
    attained = 0.0
    subsidy = Decimal("0") if billing is not None else None
    sme_queued: dict[int, set[int]] = {}  # accelerator count -> queued SME jobs of that size
    violations = 0
    preempt_violations = 0
    i = 0
    t_prev = submit[0]
    inf = math.inf
    timer = inf  # a pass the policy asked for (QueuePolicy.wakeup)

    def queue_sme(job: int) -> None:
        sme_queued.setdefault(gpus[job], set()).add(job)

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
            e, job = heapq.heappop(heap)
            if e != end_at[job]:
                continue  # the run this entry was for was preempted
            g = gpus[job]
            state.free += g
            tenant_alloc[tenant[job]] -= g
            if sme[job]:
                state.sme_alloc -= g
                sme_demand -= g
            del running[bisect_left(running, run_key[job])]
            held[job] += t - run_start[job]
            if preempted[job]:
                restart[job] += overhead  # the last run restarted in full before it finished
            if record:
                intervals.append((job, run_start[job], t))
            run_start[job] = math.nan
            end[job] = t
            policy.finish(job, t)
            if subsidy is not None and billing is not None:
                subsidy += billing.bill(tenant[job], g, held[job], t)
        while i < n and submit[i] <= t:
            if sme[i]:
                sme_demand += gpus[i]
                queue_sme(i)
            policy.submit(i, t)
            i += 1
        if policy.pending() and (state.free > 0 or preemptive):
            plan = policy.schedule(t)
            sme_preempted = False
            for job in plan.preempt:
                if math.isnan(run_start[job]):
                    raise SimulationError(f"policy {policy.name} preempted job {job}, which is not running, at t={t}")
                g = gpus[job]
                ran = t - run_start[job]
                ov = overhead if preempted[job] else 0.0
                worked = max(0.0, ran - ov)
                saved = math.floor(worked / interval) * interval
                done[job] += saved
                lost[job] += worked - saved
                restart[job] += min(ran, ov)
                held[job] += ran
                state.held[job] = held[job]
                preempted[job] += 1
                left = max(est[job] - done[job], 0.0)
                rem_est[job] = overhead + left
                state.rem_est[job] = rem_est[job]
                if record:
                    intervals.append((job, run_start[job], t))
                run_start[job] = math.nan
                end_at[job] = math.nan
                del running[bisect_left(running, run_key[job])]
                state.free += g
                tenant_alloc[tenant[job]] -= g
                if sme[job]:
                    state.sme_alloc -= g
                    sme_preempted = True
                    queue_sme(job)
            non_sme_started: list[int] = []
            free_before = state.free
            sme_before = state.sme_alloc
            for job in plan.start:
                g = gpus[job]
                if g > state.free:
                    raise SimulationError(f"policy {policy.name} started job {job} needing {g} accelerators "
                                          f"with {state.free} free at t={t}")
                if not math.isnan(run_start[job]) or not math.isnan(end[job]) or submit[job] > t:
                    raise SimulationError(f"policy {policy.name} started job {job} while it runs, after it "
                                          "ended, or before it arrived")
                if plan.preempt and job in plan.preempt:
                    raise SimulationError(f"policy {policy.name} preempted and restarted job {job} at t={t}")
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
                if math.isnan(first[job]):
                    first[job] = t
                run_start[job] = t
                run_key[job] = (t + rem_est[job], job)
                insort(running, run_key[job])
                ov = overhead if preempted[job] else 0.0
                end_at[job] = t + ov + (duration[job] - done[job])
                heapq.heappush(heap, (end_at[job], job))
            if non_sme_started and sme_queued and state.sme_alloc < floor_gpus:
                violations += _floor_violation(non_sme_started, free_before, sme_before, sme_queued, state,
                                               floor_gpus)
                if sme_preempted:
                    preempt_violations += 1
        if policy.pending():
            wake = policy.wakeup(t)
            if t < wake < timer:
                timer = wake
        if record:
            timeline.append((t, cap - state.free))
    if policy.pending():
        raise SimulationError(f"policy {policy.name} left {policy.pending()} jobs queued at the end")
    runs = RunAccount(
        held=np.asarray(held, dtype=np.float64),
        lost=np.asarray(lost, dtype=np.float64),
        restart=np.asarray(restart, dtype=np.float64),
        preemptions=np.asarray(preempted, dtype=np.int64),
    )
    start_a = np.asarray(first, dtype=np.float64)
    end_a = np.asarray(end, dtype=np.float64)
    metrics = _metrics(workload, policy.name, cap, start_a, end_a, runs, sme_floor,
                       attained / entitled if entitled > 0 else None, violations + preempt_violations,
                       preempt_violations, subsidy, cost)
    return SimResult(metrics, start_a, end_a, runs, tuple(timeline), tuple(intervals))


def _floor_violation(non_sme_started: list[int], free_before: int, sme_before: int,
                     sme_queued: dict[int, set[int]], state: ClusterState, floor_gpus: float) -> int:
    """1 if this scheduling pass passed the SMEs over, else 0.

    A pass *passes the SMEs over* when, after it, the SMEs hold less than their floor, an SME job
    that would keep them within the floor is still waiting and would have fitted in what the pass gave
    to non-SME jobs plus what is still free, and no SME job that was within the floor when the pass
    began is waiting for more accelerators than were free (such a job holds the reservation: the small
    SME jobs then rightly wait for it, and others' short backfill around it is harmless). ``free_before``
    and ``sme_before``: free accelerators and the SMEs' allocation when the pass began (after its
    preemptions).
    """
    room = floor_gpus - state.sme_alloc
    entitled = [size for size in sme_queued if size <= room]
    if not entitled:
        return 0
    room_before = floor_gpus - sme_before
    if any(free_before < size <= room_before for size in sme_queued):
        return 0
    given_away = sum(state.gpus_l[job] for job in non_sme_started)
    return int(min(entitled) <= state.free + given_away)


def _metrics(workload: Workload, name: str, cap: int, start: FloatArray, end: FloatArray, runs: RunAccount,
             sme_floor: float, attainment: float | None, violations: int, preempt_violations: int,
             subsidy: Decimal | None, cost: PreemptionCost) -> Metrics:
    trace = workload.trace
    jct = end - trace.submit
    # Queueing delay: time in the system not holding accelerators (start - submission when never preempted).
    wait = np.where(runs.preemptions > 0, np.maximum(jct - runs.held, 0.0), start - trace.submit)
    g = trace.gpus.astype(np.float64)
    work = trace.duration * g
    held = runs.held * g
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
        busy_utilization=float(held.sum() / (cap * makespan)) if makespan > 0 else 0.0,
        preemptions=int(runs.preemptions.sum()),
        preempted_jobs=int((runs.preemptions > 0).sum()),
        lost_accelerator_hours=float(np.dot(runs.lost + runs.restart, g) / 3600),
        billed_accelerator_hours=float(held.sum() / 3600),
        sme_floor_preemptions=preempt_violations,
        checkpoint_interval=cost.checkpoint_interval,
        restart_overhead=cost.restart_overhead,
    )
