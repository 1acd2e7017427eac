"""Queue policies on small hand-made traces whose outcome can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaodi.engines.compute import FifoPolicy, PlatformPolicy, SlurmPolicy, make_policy, simulate
from gaodi.engines.compute.trace import Workload, trace_from_rows


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


def starts(w: Workload, policy, capacity: int, **kw) -> list[float]:
    return simulate(w, policy, capacity, **kw).start.tolist()


# A 3-accelerator job runs 0-10 on a 4-accelerator cluster; a 4-accelerator job queues behind it.
HOLE = [(0, 10, 3), (1, 5, 4), (2, 5, 1), (8, 20, 1)]


@pytest.mark.parametrize("policy", [SlurmPolicy(), PlatformPolicy(sme_floor=0.0, quotas=[0.0])])
def test_easy_backfill_fills_the_hole_without_delaying_the_head_reservation(policy) -> None:
    s = starts(workload(HOLE), policy, 4)
    assert s[1] == 10  # the head starts exactly when the 3-accelerator job ends: not delayed
    assert s[2] == 2  # a short job fills the idle accelerator: it ends (7) before the reservation (10)
    assert s[3] == 15  # a long one would run past the reservation: it waits


def test_fifo_never_backfills() -> None:
    assert starts(workload(HOLE), FifoPolicy(), 4) == [0, 10, 15, 15]


def test_backfill_may_use_only_the_spare_accelerators_of_the_reservation() -> None:
    # The head needs 3 of the 4; at its reservation 1 is spare, so one long 1-accelerator job may run past it.
    jobs = [(0, 10, 2), (1, 5, 3), (2, 100, 1), (3, 100, 1)]
    for policy in (SlurmPolicy(), PlatformPolicy(sme_floor=0.0, quotas=[0.0])):
        s = starts(workload(jobs), policy, 4)
        assert s[:3] == [0, 10, 2]
        assert s[3] == 15, policy.name


def test_slurm_fair_share_puts_the_light_tenant_first() -> None:
    # Tenant 0 has used the only accelerator for 1000 s; its later job loses to tenant 1's younger one.
    jobs = [(0, 1000, 1), (10, 10, 1), (20, 10, 1)]
    w = workload(jobs, tenants=[0, 0, 1], sme=(False, False))
    assert starts(w, SlurmPolicy(), 1) == [0, 1010, 1000]
    assert starts(w, FifoPolicy(), 1) == [0, 1000, 1010]


def test_slurm_priority_factors() -> None:
    w = workload([(0, 10, 1), (0, 10, 4)], tenants=[0, 1], sme=(False, False))
    policy = SlurmPolicy()
    simulate(w, policy, 8)
    # equal fair share and age: the larger job has the larger job-size factor (PriorityFavorSmall=NO)
    assert policy._size(4) > policy._size(1)
    small_first = SlurmPolicy(favor_small=True)
    simulate(w, small_first, 8)
    assert small_first._size(1) > small_first._size(4)


def test_platform_runs_the_shortest_estimate_first() -> None:
    jobs = [(0, 100, 1), (1, 50, 1), (2, 10, 1)]
    w = workload(jobs)
    assert starts(w, PlatformPolicy(sme_floor=0.0), 1) == [0, 110, 100]
    assert starts(w, SlurmPolicy(), 1) == [0, 100, 150]  # older first (age), same tenant


def test_platform_orders_by_the_estimate_not_the_true_duration() -> None:
    jobs = [(0, 100, 1), (1, 50, 1), (2, 10, 1)]
    w = workload(jobs, est=[100, 20, 60])  # the user overestimates the short job
    assert starts(w, PlatformPolicy(sme_floor=0.0), 1) == [0, 100, 150]


def test_sme_floor_is_honoured_ahead_of_shorter_non_sme_jobs() -> None:
    # Floor 50% of 6 = 3 accelerators. When the blocking job ends, the SME job starts at once although
    # both non-SME jobs have shorter estimates.
    jobs = [(0, 100, 6), (1, 10, 3), (1, 50, 3), (1, 10, 3)]
    w = workload(jobs, tenants=[0, 0, 1, 0], sme=(False, True))
    with_floor = simulate(w, PlatformPolicy(sme_floor=0.5, preempt=False), 6, sme_floor=0.5)
    assert with_floor.start[2] == 100
    assert sorted(with_floor.start[[1, 3]].tolist()) == [100, 110]
    assert with_floor.metrics.sme_floor_violations == 0
    assert with_floor.metrics.sme_floor_attainment == pytest.approx(1.0 - 99 / (99 + 50))  # only while blocked
    without = simulate(w, PlatformPolicy(sme_floor=0.0, preempt=False), 6, sme_floor=0.5)
    assert without.start[2] == 110
    assert without.metrics.sme_floor_violations == 1  # the simulator notices the SME was passed over


def test_idle_quota_is_borrowed_and_reclaimed_without_preemption() -> None:
    # Two tenants with a nominal quota of 4 each on 8 accelerators. Tenant 0 borrows tenant 1's idle quota.
    first = [(0, 50, 1)] * 4 + [(0, 100, 1)] * 4
    later = [(10, 100, 1)] * 4 + [(10, 1, 1)] * 4  # tenant 1's jobs, then tenant 0's (much shorter)
    w = workload(first + later, tenants=[0] * 8 + [1] * 4 + [0] * 4, sme=(False, False))
    result = simulate(w, PlatformPolicy(sme_floor=0.0, quotas=[4.0, 4.0], preempt=False), 8)
    s = result.start.tolist()
    assert s[:8] == [0] * 8  # borrowing: all of tenant 1's idle quota is used
    assert s[8:12] == [50] * 4  # the owner gets its quota back as the borrowed jobs end...
    assert s[12:] == [100] * 4  # ...before the borrower's shorter jobs
    assert np.array_equal(result.end - result.start, w.trace.duration)  # nothing was preempted


def test_borrowers_do_not_take_capacity_that_waiting_owners_claim() -> None:
    # Two borrowers (tenant 0, no quota) hold the 4 accelerators. Owners A (tenant 1) and B (tenant 2)
    # then each want 3 within their quotas. At t=10 two accelerators free up: A holds the reservation
    # (t=30), B claims its 3, so the borrower's 1-second job may not use the idle pair, although plain
    # EASY backfill would start it (it ends long before the reservation).
    jobs = [(0, 10, 2), (0, 30, 2), (1, 5, 3), (2, 5, 3), (3, 1, 1)]
    w = workload(jobs, tenants=[0, 0, 1, 2, 0], sme=(False, False, False), est=[10, 30, 5, 6, 1])
    s = starts(w, PlatformPolicy(sme_floor=0.0, quotas=[0.0, 3.0, 3.0], preempt=False), 4)
    assert s == [0, 0, 30, 35, 30]
    plain = starts(w, PlatformPolicy(sme_floor=0.0, quotas=[0.0, 0.0, 0.0], preempt=False), 4)
    assert plain[4] == 10  # with no owners, the short job is simply backfilled


def test_starvation_guard_bounds_the_wait_of_a_big_job_under_a_stream_of_short_ones() -> None:
    stream = [(2 + 5 * k, 6, 1) for k in range(60)]
    jobs = [(0, 10, 1), (1, 10, 2), *stream]
    w = workload(jobs)
    guarded = starts(w, PlatformPolicy(sme_floor=0.0, starve_after=30), 2)
    starved = starts(w, PlatformPolicy(sme_floor=0.0, starve_after=math.inf), 2)
    assert guarded[1] <= 30 + 12
    assert starved[1] > 250  # only once the stream has passed


def test_lend_horizon_lends_the_idle_floor_to_non_smes_only_for_short_jobs() -> None:
    # Floor 50% of 4: non-SMEs may go beyond 2 accelerators only with jobs estimated at most 10 s.
    jobs = [(0, 100, 3), (1, 5, 3)]
    w = workload(jobs)
    assert starts(w, PlatformPolicy(sme_floor=0.5), 4) == [0, 100]  # default: lent for any job
    lent = starts(w, PlatformPolicy(sme_floor=0.5, lend_horizon=10, starve_after=50), 4)
    assert lent == [50, 1]  # the long one waits until the starvation guard lets it through


def test_make_policy_by_name() -> None:
    assert [make_policy(n).name for n in ("fifo", "slurm", "platform")] == ["fifo", "slurm", "platform"]
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("lottery")
    with pytest.raises(ValueError, match="sme_floor"):
        PlatformPolicy(sme_floor=1.5)
