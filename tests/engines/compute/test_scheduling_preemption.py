"""Preemption in the platform policy and its cost in the simulator, on hand-made and random traces."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gaodi.engines.compute import (
    ClusterState,
    Plan,
    PlatformPolicy,
    PreemptionCost,
    illustrative_billing,
    load_trace,
    make_policy,
    make_workload,
    simulate,
)
from gaodi.engines.compute.simulator import SimResult, SimulationError
from gaodi.engines.compute.trace import Workload, trace_from_rows

SHIPPED = Path(__file__).resolve().parents[3] / "src" / "gaodi" / "apps" / "compute" / "data" / "traces"
COST = PreemptionCost()  # a checkpoint every 1800 s, 300 s to restart


def workload(jobs: list[tuple[float, float, int]], *, tenants: list[int] | None = None,
             sme: tuple[bool, ...] = (False,), est: list[float] | None = None) -> Workload:
    """Jobs as (submission, true duration, accelerators), in submission order; estimates default to exact."""
    trace = trace_from_rows([(f"j{i}", s, d, g) for i, (s, d, g) in enumerate(jobs)])
    return Workload(
        trace=trace,
        tenant=np.asarray(tenants if tenants is not None else [0] * len(jobs), dtype=np.int64),
        tenant_sme=np.asarray(sme, dtype=np.bool_),
        estimate=np.asarray(est if est is not None else [d for _, d, _ in jobs], dtype=np.float64),
        seed=0,
        n_tenants=len(sme),
    )


def peak(r: SimResult, gpus: np.ndarray) -> int:
    """The most accelerators held at any instant, swept over every run (ends before starts at a tie)."""
    events = sorted([(e, -int(gpus[j])) for j, _, e in r.intervals] + [(s, int(gpus[j])) for j, s, _ in r.intervals])
    used = top = 0
    for _, delta in events:
        used += delta
        top = max(top, used)
    return top


def check_run_accounting(r: SimResult, w: Workload, cost: PreemptionCost) -> None:
    """Rebuild every job's runs from the recorded intervals and check them against the cost model."""
    trace = w.trace
    runs: dict[int, list[tuple[float, float]]] = {}
    for job, s, e in r.intervals:
        runs.setdefault(job, []).append((s, e))
    for job in range(len(trace)):
        spans = sorted(runs[job])
        assert len(spans) == r.runs.preemptions[job] + 1
        saved = lost = restart = 0.0
        for k, (s, e) in enumerate(spans):
            ov = cost.restart_overhead if k else 0.0
            if k < len(spans) - 1:  # preempted: keeps what its last checkpoint saved
                worked = max(0.0, e - s - ov)
                kept = math.floor(worked / cost.checkpoint_interval) * cost.checkpoint_interval
                saved += kept
                lost += worked - kept
                restart += min(e - s, ov)
            else:  # the last run restarts, then runs exactly what is left
                assert e - s == pytest.approx(ov + trace.duration[job] - saved, abs=1e-6)
                restart += ov
        held = sum(e - s for s, e in spans)
        assert held == pytest.approx(r.runs.held[job], abs=1e-6)
        assert r.runs.lost[job] == pytest.approx(lost, abs=1e-6)
        assert r.runs.restart[job] == pytest.approx(restart, abs=1e-6)
        assert held == pytest.approx(trace.duration[job] + lost + restart, abs=1e-6)
        assert spans[0][0] == r.start[job] and spans[-1][1] == r.end[job]


# --- the cost model, worked out by hand -------------------------------------------------------------

def test_a_preempted_job_pays_its_lost_work_and_restart_in_jct_utilization_and_billing() -> None:
    # One accelerator. A 10,000 s job starts at 0; a 100 s job arrives at 4,000 s and would otherwise
    # wait 6,000 s, far more than the 100 s it needs plus the 400 s + 300 s the preemption wastes.
    w = workload([(0, 10_000, 1), (4_000, 100, 1)])
    r = simulate(w, PlatformPolicy(sme_floor=0.0), 1, record=True, billing=illustrative_billing(w))
    assert r.start.tolist() == [0, 4_000] and r.runs.preemptions.tolist() == [1, 0]
    # Worked 4,000 s: the checkpoint at 3,600 s is kept, 400 s are lost; it resumes when the short
    # job ends (4,100 s), restarts for 300 s and runs the 6,400 s left.
    assert r.end.tolist() == [4_100 + 300 + 6_400, 4_100]
    assert r.runs.lost.tolist() == [400, 0] and r.runs.restart.tolist() == [300, 0]
    assert r.runs.held.tolist() == [10_000 + 400 + 300, 100]
    m = r.metrics
    assert (m.preemptions, m.preempted_jobs) == (1, 1)
    assert m.lost_accelerator_hours == pytest.approx(700 / 3600)
    assert m.billed_accelerator_hours == pytest.approx((10_100 + 700) / 3600)
    assert m.avg_jct == pytest.approx((10_800 + 100) / 2)
    assert m.avg_wait == pytest.approx((100 + 0) / 2)  # the long job waited while the short one ran
    assert m.utilization == pytest.approx(10_100 / 10_800)  # useful work only
    assert m.busy_utilization == pytest.approx(1.0)  # the accelerator was never idle
    assert (m.checkpoint_interval, m.restart_overhead) == (1800, 300)
    check_run_accounting(r, w, COST)


def test_the_cost_model_is_a_parameter() -> None:
    w = workload([(0, 10_000, 1), (4_000, 100, 1)])
    cost = PreemptionCost(checkpoint_interval=600, restart_overhead=60)
    r = simulate(w, PlatformPolicy(sme_floor=0.0), 1, cost=cost, record=True)
    # Worked 4,000 s: checkpoints every 600 s keep 3,600 s again, so 400 s are lost; 60 s to restart.
    assert r.end[0] == 4_100 + 60 + 6_400 and r.metrics.restart_overhead == 60
    check_run_accounting(r, w, cost)
    with pytest.raises(ValueError, match="checkpoint_interval"):
        PreemptionCost(checkpoint_interval=0)
    with pytest.raises(ValueError, match="restart_overhead"):
        PreemptionCost(restart_overhead=-1)


def test_no_preemption_when_waiting_costs_less() -> None:
    # The long job ends 50 s after the short one arrives: waiting beats wasting 300 s of restart.
    w = workload([(0, 10_000, 1), (9_950, 100, 1)])
    r = simulate(w, PlatformPolicy(sme_floor=0.0), 1)
    assert r.metrics.preemptions == 0 and r.start[1] == 10_000
    # Nor when the running job's remaining estimate is not twice the newcomer's.
    w = workload([(0, 10_000, 1), (1_000, 5_000, 1)])
    assert simulate(w, PlatformPolicy(sme_floor=0.0), 1).metrics.preemptions == 0


def test_without_preemption_the_policy_is_the_non_preemptive_one() -> None:
    w = workload([(0, 10_000, 1), (4_000, 100, 1)])
    r = simulate(w, PlatformPolicy(sme_floor=0.0, preempt=False), 1)
    assert r.start.tolist() == [0, 10_000] and r.metrics.preemptions == 0 and r.metrics.lost_accelerator_hours == 0


# --- guarantees ----------------------------------------------------------------------------------------

def test_sme_floor_is_reclaimed_by_preempting_non_sme_jobs() -> None:
    # Floor 50% of 4 = 2. A non-SME tenant fills the cluster with long jobs; an SME job arrives.
    jobs = [(0, 20_000, 1)] * 4 + [(100, 20_000, 2)]
    w = workload(jobs, tenants=[0, 0, 0, 0, 1], sme=(False, True))
    r = simulate(w, PlatformPolicy(sme_floor=0.5), 4, sme_floor=0.5, record=True)
    assert r.start[4] == 100  # at once, not after 20,000 s
    assert r.metrics.preemptions == 2 and r.runs.preemptions[4] == 0
    assert r.metrics.sme_floor_attainment == pytest.approx(1.0)
    assert r.metrics.sme_floor_violations == 0
    waits = simulate(w, PlatformPolicy(sme_floor=0.5, preempt=False), 4, sme_floor=0.5)
    assert waits.start[4] == 20_000
    assert waits.metrics.sme_floor_attainment == pytest.approx(20_000 / 39_900)  # entitled from 100 to 40,000
    check_run_accounting(r, w, COST)


def test_an_sme_job_in_the_floor_is_never_preempted_for_a_non_sme_job() -> None:
    # Floor 50% of 4 = 2. The SME tenant holds exactly its floor with two long jobs, a non-SME tenant
    # the other two. A stream of very short non-SME jobs arrives, with preemption as eager as it gets.
    jobs = [(0, 50_000, 1), (0, 50_000, 1), (0, 40_000, 1), (0, 40_000, 1)]
    jobs += [(1_000 + 500 * k, 10, 1) for k in range(20)]
    w = workload(jobs, tenants=[1, 1, 0, 0] + [0] * 20, sme=(False, True))
    eager = PlatformPolicy(sme_floor=0.5, preempt_ratio=1.0, preempt_gain=False, max_preemptions=50)
    r = simulate(w, eager, 4, sme_floor=0.5, record=True)
    assert r.runs.preemptions[:2].tolist() == [0, 0]  # the SME jobs were never touched
    assert r.runs.preemptions[2:4].sum() > 0  # the non-SME ones were
    assert r.metrics.sme_floor_violations == r.metrics.sme_floor_preemptions == 0
    assert peak(r, w.trace.gpus) <= 4
    check_run_accounting(r, w, COST)


@dataclass
class GreedyPolicy:
    """A bad policy for the simulator's checks: evicts whatever runs for whatever waits."""

    preempt_sme: bool = True
    restart_victim: bool = False
    preempt_idle: bool = False
    name: str = "greedy"
    queue: list[int] = field(default_factory=list)

    @property
    def preemptive(self) -> bool:
        return True

    def attach(self, state: ClusterState) -> None:
        self.state = state
        self.queue = []

    def submit(self, job: int, now: float) -> None:
        self.queue.append(job)

    def finish(self, job: int, now: float) -> None:
        pass

    def pending(self) -> int:
        return len(self.queue)

    def wakeup(self, now: float) -> float:
        return math.inf

    def schedule(self, now: float) -> Plan:
        s = self.state
        if self.preempt_idle and self.queue:
            return Plan([], [self.queue[0]])
        if self.restart_victim and s.running:
            return Plan([s.running[0][1]], [s.running[0][1]])
        victims = [j for _, j in s.running if self.preempt_sme or not s.sme_l[j]]
        free = s.free + sum(s.gpus_l[v] for v in victims)
        start: list[int] = []
        for job in list(self.queue):
            if s.gpus_l[job] <= free:
                free -= s.gpus_l[job]
                start.append(job)
                self.queue.remove(job)
        self.queue += victims
        return Plan(start, victims)


def test_the_simulator_notices_a_policy_that_preempts_the_sme_floor() -> None:
    jobs = [(0, 10_000, 2), (10, 100, 2)]
    w = workload(jobs, tenants=[1, 0], sme=(False, True))
    m = simulate(w, GreedyPolicy(), 2, sme_floor=0.5).metrics
    assert m.sme_floor_preemptions >= 1 and m.sme_floor_violations >= m.sme_floor_preemptions
    with pytest.raises(SimulationError, match="preempted and restarted"):
        simulate(w, GreedyPolicy(restart_victim=True), 2)
    with pytest.raises(SimulationError, match="not running"):
        simulate(w, GreedyPolicy(preempt_idle=True), 2)


def test_quota_is_reclaimed_from_borrowers_at_once() -> None:
    # Two tenants with a nominal quota of 4 each on 8 accelerators. Tenant 0 borrows all of tenant 1's.
    first = [(0, 50_000, 1)] * 8
    later = [(10_000, 30_000, 1)] * 4  # tenant 1's jobs, within its quota, not half as long as the borrowers
    w = workload(first + later, tenants=[0] * 8 + [1] * 4, sme=(False, False))
    r = simulate(w, PlatformPolicy(sme_floor=0.0, quotas=[4.0, 4.0]), 8, record=True)
    assert r.start[8:].tolist() == [10_000] * 4  # Kueue reclaim: not after the borrowers end
    assert r.runs.preemptions[:8].sum() == 4
    kept = simulate(w, PlatformPolicy(sme_floor=0.0, quotas=[4.0, 4.0], reclaim_quota=False), 8)
    assert kept.start[8:].tolist() == [50_000] * 4  # the owner's long jobs cannot evict by priority
    check_run_accounting(r, w, COST)


# --- starvation --------------------------------------------------------------------------------------

def test_a_job_is_preempted_at_most_max_preemptions_times() -> None:
    # One accelerator, a long job and then a short job every 2 hours, each of which would evict it.
    jobs = [(0, 40_000, 1)] + [(3_600 + 7_200 * k, 60, 1) for k in range(10)]
    w = workload(jobs)
    eager = PlatformPolicy(sme_floor=0.0, preempt_ratio=1.0, preempt_gain=False, max_preemptions=2)
    r = simulate(w, eager, 1, record=True)
    assert r.runs.preemptions[0] == 2
    # After its second preemption it runs to the end: its wait is bounded by the short jobs that
    # passed it before then and those queued when it resumed, not by the length of the stream.
    assert r.end[0] <= 40_000 + r.runs.lost[0] + r.runs.restart[0] + 10 * 60
    check_run_accounting(r, w, COST)


def test_bounded_wait_for_a_wide_job_under_a_stream_of_short_ones() -> None:
    # A 2-accelerator job behind an endless stream of 1-accelerator jobs that are each shorter.
    stream = [(2 + 5 * k, 6, 1) for k in range(200)]
    jobs = [(0, 10, 1), (1, 10, 2), *stream]
    w = workload(jobs)
    guarded = simulate(w, PlatformPolicy(sme_floor=0.0, starve_after=30), 2, record=True)
    assert guarded.start[1] <= 1 + 30 + 6 + 1  # starving after 30 s: it then evicts or waits for one short job
    assert guarded.runs.preemptions[1] == 0  # a job that starts starving is never preempted
    unguarded = simulate(w, PlatformPolicy(sme_floor=0.0, starve_after=math.inf), 2)
    assert unguarded.start[1] > 900  # only once the stream has passed
    check_run_accounting(guarded, w, COST)


# --- random traces -----------------------------------------------------------------------------------

jobs_strategy = st.lists(
    st.tuples(st.integers(0, 20_000), st.integers(0, 15_000), st.sampled_from([1, 1, 1, 2, 4, 8])),
    min_size=1, max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(jobs=jobs_strategy, extra=st.integers(0, 6), seed=st.integers(0, 5), eager=st.booleans(),
       interval=st.sampled_from([60.0, 1800.0]), overhead=st.sampled_from([0.0, 300.0]))
def test_preemption_invariants_on_random_traces(jobs, extra, seed, eager, interval, overhead) -> None:
    trace = trace_from_rows([(f"j{i}", float(s), float(d), g) for i, (s, d, g) in enumerate(sorted(jobs))])
    w = make_workload(trace, seed=seed, tenants=4)
    cap = int(trace.gpus.max()) + extra
    cost = PreemptionCost(interval, overhead)
    kw = {"preempt_ratio": 1.0, "preempt_gain": False, "max_preemptions": 4} if eager else {}
    r = simulate(w, PlatformPolicy(sme_floor=0.3, **kw), cap, record=True, cost=cost, sme_floor=0.3)
    assert not np.isnan(r.end).any()
    assert peak(r, trace.gpus) <= cap  # capacity is never exceeded at any instant
    assert all(0 <= used <= cap for _, used in r.timeline)
    check_run_accounting(r, w, cost)
    assert (r.runs.preemptions <= (4 if eager else 2)).all()
    m = r.metrics
    assert m.sme_floor_violations == 0 and m.sme_floor_preemptions == 0
    assert m.preemptions == int(r.runs.preemptions.sum())
    assert m.billed_accelerator_hours == pytest.approx(
        float(np.dot(trace.duration, trace.gpus)) / 3600 + m.lost_accelerator_hours, abs=1e-9)
    again = simulate(w, PlatformPolicy(sme_floor=0.3, **kw), cap, record=True, cost=cost, sme_floor=0.3)
    assert again.metrics == m and again.intervals == r.intervals  # deterministic


def test_metrics_add_up_on_a_real_trace() -> None:
    trace = load_trace(SHIPPED / "elasticflow" / "cluster05.csv")
    w = make_workload(trace, seed=1)
    billing = illustrative_billing(w)
    r = simulate(w, make_policy("platform"), billing=billing)
    m = r.metrics
    g = trace.gpus.astype(float)
    assert m.preemptions > 0 and 0 < m.preempted_jobs <= m.preemptions <= 2 * m.jobs
    assert m.sme_floor_violations == 0
    jct = r.end - trace.submit
    assert m.avg_jct == pytest.approx(float(jct.mean()))
    assert m.avg_wait == pytest.approx(float((jct - r.runs.held).mean()))
    lost = float(np.dot(r.runs.lost + r.runs.restart, g)) / 3600
    assert m.lost_accelerator_hours == pytest.approx(lost)
    assert m.billed_accelerator_hours == pytest.approx(float(np.dot(trace.duration, g)) / 3600 + lost)
    assert m.busy_utilization - m.utilization == pytest.approx(lost * 3600 / (m.capacity * m.makespan))
    assert m.subsidy_spent == billing.ledger.total  # billed on what was held, restarts and lost work included
    assert m.utilization < m.busy_utilization <= 1
    assert r.runs.restart.sum() <= 300 * m.preemptions + 1e-6  # a restart may itself be cut short
    assert (r.runs.lost <= 1800 * r.runs.preemptions + 1e-9).all()
    for other in ("fifo", "slurm"):
        o = simulate(w, make_policy(other)).metrics
        assert o.preemptions == 0 and o.lost_accelerator_hours == 0
        assert o.billed_accelerator_hours == pytest.approx(float(np.dot(trace.duration, g)) / 3600)


def test_policy_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="preempt_ratio"):
        PlatformPolicy(preempt_ratio=0.5)
    with pytest.raises(ValueError, match="max_preemptions"):
        PlatformPolicy(max_preemptions=-1)
    assert not PlatformPolicy(max_preemptions=0).preemptive
    assert not make_policy("slurm").preemptive and not make_policy("fifo").preemptive
