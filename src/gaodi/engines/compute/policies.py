"""Queue policies behind one interface: FIFO, a Slurm-style baseline, and the platform policy.

Every policy is told about submissions and completions and, at each scheduling point, returns the
jobs to start now. It sees only what a real scheduler sees: submission times, accelerator counts,
tenants, SME flags and the *user's estimate*; never the true duration.

``FifoPolicy``
    First come, first served, no backfill: the oldest job starts when it fits, nothing passes it.

``SlurmPolicy`` (baseline, a faithful model of Slurm's ``priority/multifactor`` + backfill)
    priority = W_age·age + W_fairshare·F + W_jobsize·size, with the weights of Slurm's documented
    example configuration (PriorityWeightAge=1000, PriorityWeightFairshare=10000,
    PriorityWeightJobSize=1000, PriorityMaxAge=14 days, PriorityDecayHalfLife=14 days,
    PriorityFavorSmall=NO):

    - age = min(wait / PriorityMaxAge, 1);
    - F = 2^(-U/S), Slurm's classic fair-share factor: U is the tenant's share of all decayed
      usage (accelerator-seconds, halved every half-life), S its normalised share (equal shares);
    - size = accelerators / cluster accelerators (favour large), or its mirror when favour_small;
    - priorities are recomputed every PriorityCalcPeriod (5 minutes of simulated time) and computed
      once at submission, as Slurm does; ties go to the older job;
    - EASY backfill on user estimates: the highest-priority job that does not fit gets a
      reservation at the earliest time enough accelerators are estimated to be free (the "shadow
      time"); later jobs start now only if they fit and either end (by estimate) before the shadow
      time or use only accelerators the reservation leaves spare. At most ``bf_max_job_test`` (500,
      Slurm's default) queued jobs are examined per pass.

``PlatformPolicy`` (the platform's own)
    Jobs are ordered by class, then shortest *estimate* first inside a class (ties: older first):

    0. *SME floor*: an SME's job while the SMEs together hold less than the floor with it
       (``sme_floor`` × capacity, default 30%). SMEs get the floor whenever they ask, before anyone
       else, as capacity frees up;
    1. *starving*: jobs waiting longer than ``starve_after`` (default 14 days, Slurm's
       PriorityMaxAge in the baseline), oldest first, so no job waits forever;
    2. *quota*: the job fits in its tenant's nominal quota (Kueue ``nominalQuota``; by default
       ``(1 - sme_floor) × capacity`` split equally among the tenants, so floor plus quotas add up to
       the capacity);
    3+b. *borrowers*: jobs beyond their quota, running on capacity others leave idle. ``b`` is the
       tenant's fair-share band: 0 while its decayed usage (half-life ``fs_half_life``, default 1
       hour) is at most its equal share, 1 up to ``band_ratio`` (4) times it, 2 above.

    Shortest-estimate-first inside fair-share bands is what lowers the average completion time (short
    jobs stop queueing behind long ones); the floor, the quotas and the bands are what keep the
    heavy tenants from crowding out SMEs and light tenants.

    Borrowing is preemption-free (Kueue with ``preemption: Never``): running borrowers are never
    evicted. Instead, what blocked owners (floor, starving or quota jobs) wait for is *claimed*, and a
    borrower may only start on free capacity beyond the claims: owners get their share back as
    borrowers finish, and new borrowing stops while owners wait. Optionally (``lend_horizon``) the
    floor's idle capacity is lent to non-SMEs only for jobs whose estimate is at most that long, which
    bounds how long an arriving SME can find its floor occupied (off by default; see docs/compute.md).

    On top of the ordering, EASY backfill on the user's estimate exactly as in ``SlurmPolicy``: the
    first job that does not fit gets the reservation, and nothing started after it may delay it.
    Guarantees are re-checked as jobs start within one pass, so a pass never overshoots a quota or
    the floor by classifying from stale usage.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

DAY = 86400.0
_LN2 = math.log(2.0)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class ClusterState:
    """What a policy may read: the jobs as a scheduler knows them and the cluster right now.

    The simulator (or a live service) owns it and updates ``free``, ``running``, ``tenant_alloc``
    and ``sme_alloc`` when jobs start and finish. ``running`` is sorted by estimated end.
    """

    capacity: int
    submit: FloatArray
    estimate: FloatArray
    gpus: IntArray
    tenant: IntArray
    tenant_sme: BoolArray
    free: int = 0
    running: list[tuple[float, int]] = field(default_factory=list)
    tenant_alloc: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sme_alloc: int = 0

    def __post_init__(self) -> None:
        self.free = self.capacity
        self.tenant_alloc = np.zeros(len(self.tenant_sme), dtype=np.int64)
        self.job_sme: BoolArray = self.tenant_sme[self.tenant]
        # Python lists of the per-job facts: element access in the scheduling loops is much faster.
        self.gpus_l: list[int] = self.gpus.tolist()
        self.est_l: list[float] = self.estimate.tolist()
        self.submit_l: list[float] = self.submit.tolist()
        self.tenant_l: list[int] = self.tenant.tolist()
        self.sme_l: list[bool] = self.job_sme.tolist()

    @property
    def n_tenants(self) -> int:
        return len(self.tenant_sme)


class QueuePolicy(Protocol):
    """The interface every queue policy implements (FIFO, Slurm-style, platform)."""

    name: str

    def attach(self, state: ClusterState) -> None:
        """Start from an empty queue on this cluster."""

    def submit(self, job: int, now: float) -> None:
        """A job arrives."""

    def finish(self, job: int, now: float) -> None:
        """A running job ended (its accelerators are already back in ``state.free``)."""

    def schedule(self, now: float) -> list[int]:
        """Jobs to start now, in order; together they fit in ``state.free``. They leave the queue."""

    def pending(self) -> int:
        """Jobs waiting in the queue."""

    def wakeup(self, now: float) -> float:
        """When the policy needs a scheduling pass although no job arrives or ends (math.inf: never).

        Passes happen at every arrival and completion; a policy whose decisions also change with
        the mere passing of time (a starvation guard that unblocks a job) asks for one here.
        """


def reservation(state: ClusterState, started: list[tuple[float, int]], now: float, free: int,
                need: int) -> tuple[float, int]:
    """EASY reservation for a job needing ``need`` accelerators: (shadow time, spare accelerators).

    Walks running jobs (and those started earlier in this pass) by estimated end; a job already past
    its estimate is expected to end now. The spare count is what is free at the shadow time beyond
    ``need``.
    """
    avail = free
    gpus = state.gpus_l
    for end, job in heapq.merge(state.running, sorted(started)):
        avail += gpus[job]
        if avail >= need:
            return max(end, now), avail - need
    return math.inf, 0


class DecayedUsage:
    """Per-tenant accelerator-seconds with exponential decay (half-life), integrated exactly."""

    def __init__(self, tenants: int, half_life: float) -> None:
        if half_life <= 0:
            raise ValueError(f"half_life must be > 0, got {half_life}")
        self.half_life = half_life
        self.usage = np.zeros(tenants, dtype=np.float64)
        self.rate = np.zeros(tenants, dtype=np.float64)  # accelerators each tenant runs now
        self.time = 0.0
        self._k = half_life / _LN2

    def advance(self, now: float) -> None:
        dt = now - self.time
        if dt <= 0:
            return
        d = 2.0 ** (-dt / self.half_life)
        # ∫ rate·2^(-(now-s)/h) ds over the interval, plus decay of what was there.
        self.usage = self.usage * d + self.rate * (self._k * (1.0 - d))
        self.time = now

    def change(self, tenant: int, gpus: int, now: float) -> None:
        self.advance(now)
        self.rate[tenant] += gpus

    def shares(self, now: float) -> FloatArray:
        """Each tenant's fraction of all decayed usage (zeros when nothing was used yet)."""
        self.advance(now)
        total = float(self.usage.sum())
        if total <= 0:
            return np.zeros_like(self.usage)
        return self.usage / total


class FifoPolicy:
    """First in, first out; the head blocks everything behind it (no backfill)."""

    name = "fifo"

    def attach(self, state: ClusterState) -> None:
        self.state = state
        self.queue: deque[int] = deque()

    def submit(self, job: int, now: float) -> None:
        self.queue.append(job)

    def finish(self, job: int, now: float) -> None:
        pass

    def pending(self) -> int:
        return len(self.queue)

    def wakeup(self, now: float) -> float:
        return math.inf

    def schedule(self, now: float) -> list[int]:
        free = self.state.free
        gpus = self.state.gpus_l
        queue = self.queue
        started: list[int] = []
        while queue and gpus[queue[0]] <= free:
            job = queue.popleft()
            free -= gpus[job]
            started.append(job)
        return started


@dataclass
class SlurmPolicy:
    """Slurm ``priority/multifactor`` (age, classic fair share with decay, job size) + EASY backfill."""

    weight_age: float = 1000.0
    weight_fairshare: float = 10000.0
    weight_jobsize: float = 1000.0
    max_age: float = 14 * DAY
    half_life: float = 14 * DAY
    favor_small: bool = False
    calc_period: float = 300.0
    bf_max_job_test: int = 500
    name: str = "slurm"

    def attach(self, state: ClusterState) -> None:
        self.state = state
        self.usage = DecayedUsage(state.n_tenants, self.half_life)
        self.share = 1.0 / state.n_tenants
        self.keys: list[tuple[float, int]] = []  # (-priority, job), sorted
        self.last_calc = -math.inf
        self._fs = np.ones(state.n_tenants, dtype=np.float64)

    def pending(self) -> int:
        return len(self.keys)

    def wakeup(self, now: float) -> float:
        # Priorities change with time, but a reordering alone starts nothing that an arrival or a
        # completion would not: free accelerators and reservations only change at those events.
        return math.inf

    def _fairshare(self, now: float) -> FloatArray:
        return np.exp2(-self.usage.shares(now) / self.share)

    def _size(self, gpus: IntArray | int) -> FloatArray | float:
        c = self.state.capacity
        if self.favor_small:
            return 1.0 - (np.asarray(gpus, dtype=np.float64) - 1.0) / max(c - 1, 1)
        return np.asarray(gpus, dtype=np.float64) / c

    def submit(self, job: int, now: float) -> None:
        s = self.state
        # Priority at submission: age 0, the tenant's fair-share factor as of the last calculation.
        prio = self.weight_fairshare * float(self._fs[s.tenant_l[job]]) + self.weight_jobsize * float(
            self._size(s.gpus_l[job])
        )
        insort(self.keys, (-prio, job))

    def finish(self, job: int, now: float) -> None:
        s = self.state
        self.usage.change(s.tenant_l[job], -s.gpus_l[job], now)

    def recalc(self, now: float) -> None:
        """Recompute every queued job's priority (Slurm does this every PriorityCalcPeriod)."""
        self.last_calc = now
        self._fs = self._fairshare(now)
        if not self.keys:
            return
        s = self.state
        q = np.fromiter((j for _, j in self.keys), dtype=np.int64, count=len(self.keys))
        age = np.minimum((now - s.submit[q]) / self.max_age, 1.0)
        prio = (self.weight_age * age + self.weight_fairshare * self._fs[s.tenant[q]]
                + self.weight_jobsize * self._size(s.gpus[q]))
        order = np.lexsort((q, -prio))
        self.keys = list(zip((-prio[order]).tolist(), q[order].tolist(), strict=True))

    def schedule(self, now: float) -> list[int]:
        if now - self.last_calc >= self.calc_period:
            self.recalc(now)
        s = self.state
        free = s.free
        gpus, est, tenant = s.gpus_l, s.est_l, s.tenant_l
        started: list[int] = []
        started_ends: list[tuple[float, int]] = []
        taken: list[int] = []
        shadow = -1.0  # no reservation yet
        extra = 0
        for idx, (_, job) in enumerate(self.keys):
            if free <= 0 or idx >= self.bf_max_job_test:
                break
            g = gpus[job]
            if g > free:
                if shadow < 0:
                    shadow, extra = reservation(s, started_ends, now, free, g)
                continue
            end = now + est[job]
            if shadow >= 0:
                if end <= shadow:
                    pass
                elif g <= extra:
                    extra -= g
                else:
                    continue
            free -= g
            started.append(job)
            started_ends.append((end, job))
            taken.append(idx)
        for idx in reversed(taken):
            del self.keys[idx]
        for job in started:
            self.usage.change(tenant[job], gpus[job], now)
        return started


@dataclass
class PlatformPolicy:
    """SME floor + starvation guard + Kueue-style quotas with preemption-free borrowing + fair-share
    bands, shortest estimate first inside each class, and EASY backfill on the user's estimate.

    ``quotas``: nominal quota per tenant in accelerators; by default ``(1 - sme_floor) × capacity``
    split equally among tenants (the SME floor is a guarantee of the SMEs as a group on top, so the
    guarantees add up to the capacity and none is oversubscribed). ``order_by="area"`` orders inside a
    class by estimate × accelerators instead of the estimate.
    """

    sme_floor: float = 0.3
    fs_half_life: float = 3600.0
    band_ratio: float = 4.0
    starve_after: float = 14 * DAY
    lend_horizon: float = math.inf
    bf_max_job_test: int = 500
    quotas: Sequence[float] | None = None
    order_by: str = "estimate"
    name: str = "platform"

    FLOOR = 0
    STARVING = 1
    QUOTA = 2
    BORROW = 3

    def __post_init__(self) -> None:
        if not 0 <= self.sme_floor <= 1:
            raise ValueError(f"sme_floor must be in [0, 1], got {self.sme_floor}")
        if self.order_by not in ("estimate", "area"):
            raise ValueError(f"order_by must be 'estimate' or 'area', got {self.order_by!r}")

    def attach(self, state: ClusterState) -> None:
        self.state = state
        n = state.n_tenants
        self.usage = DecayedUsage(n, self.fs_half_life)
        self.share = 1.0 / n
        self.floor_gpus = self.sme_floor * state.capacity
        self.lend_gpus = state.capacity - self.floor_gpus  # what non-SMEs may hold without borrowing the floor
        if self.quotas is None:
            self.nominal = np.full(n, (1.0 - self.sme_floor) * state.capacity / n, dtype=np.float64)
        else:
            if len(self.quotas) != n:
                raise ValueError(f"quotas has {len(self.quotas)} entries for {n} tenants")
            self.nominal = np.asarray(self.quotas, dtype=np.float64)
        self.nominal_l: list[float] = self.nominal.tolist()
        self.queued = np.zeros(len(state.gpus), dtype=np.bool_)
        self.count = 0
        self._lend_wakeup = math.inf

    def pending(self) -> int:
        return self.count

    def wakeup(self, now: float) -> float:
        # A job held back only by the lend rule is let through once it starves.
        return self._lend_wakeup if self._lend_wakeup > now else math.inf

    def submit(self, job: int, now: float) -> None:
        self.queued[job] = True
        self.count += 1

    def finish(self, job: int, now: float) -> None:
        s = self.state
        self.usage.change(s.tenant_l[job], -s.gpus_l[job], now)

    def bands(self, now: float) -> IntArray:
        """Per tenant: 0 at or under its equal share of recent usage, 1 up to ``band_ratio``×, 2 above."""
        ratio = self.usage.shares(now) / self.share
        return np.where(ratio <= 1.0, 0, np.where(ratio <= self.band_ratio, 1, 2)).astype(np.int64)

    def order(self, now: float) -> tuple[list[int], list[int]]:
        """Queued jobs in scheduling order, with their class (FLOOR, STARVING, QUOTA, BORROW + band)."""
        s = self.state
        q = np.flatnonzero(self.queued)
        sub = s.submit[q]
        g = s.gpus[q]
        t = s.tenant[q]
        floor = s.job_sme[q] & ((s.sme_alloc + g) <= self.floor_gpus)
        starving = (now - sub) >= self.starve_after
        within = (s.tenant_alloc[t] + g) <= self.nominal[t]
        cls = np.where(floor, self.FLOOR, np.where(starving, self.STARVING, np.where(
            within, self.QUOTA, self.BORROW + self.bands(now)[t])))
        size = s.estimate[q] * g if self.order_by == "area" else s.estimate[q]
        key = np.where(cls == self.STARVING, sub, size)
        order = np.lexsort((q, key, cls))
        return q[order].tolist(), cls[order].tolist()

    def schedule(self, now: float) -> list[int]:
        s = self.state
        jobs, classes = self.order(now)
        gpus, est, tenant, sme, submit = s.gpus_l, s.est_l, s.tenant_l, s.sme_l, s.submit_l
        nominal = self.nominal_l
        alloc = s.tenant_alloc.tolist()
        sme_alloc = s.sme_alloc
        floor_gpus = self.floor_gpus
        free = s.free
        non_sme_alloc = s.capacity - free - sme_alloc
        lend_gpus = self.lend_gpus
        lend_horizon = self.lend_horizon
        claims = 0  # accelerators that blocked owners (floor, starving, quota jobs) wait for
        shadow = -1.0
        extra = 0
        started: list[int] = []
        started_ends: list[tuple[float, int]] = []
        lend_wakeup = math.inf
        for idx, job in enumerate(jobs):
            if free <= 0 or idx >= self.bf_max_job_test:
                break
            g = gpus[job]
            ten = tenant[job]
            cls = classes[idx]
            # Guarantees are re-checked against what this pass already started.
            if cls == 0 and sme_alloc + g > floor_gpus:
                if now - submit[job] >= self.starve_after:
                    cls = 1
                else:
                    cls = 2 if alloc[ten] + g <= nominal[ten] else 3
            elif cls == 2 and alloc[ten] + g > nominal[ten]:
                cls = 3
            owner = cls <= 2
            if g > free:
                if shadow < 0:
                    shadow, extra = reservation(s, started_ends, now, free, g)
                elif owner:
                    claims += g
                continue
            if not owner and g > free - claims:
                continue  # borrowing would take what waiting owners claim
            is_sme = sme[job]
            if (not is_sme and cls != 1 and non_sme_alloc + g > lend_gpus and est[job] > lend_horizon):
                lend_wakeup = min(lend_wakeup, submit[job] + self.starve_after)
                continue  # the SME floor is lent to non-SMEs only for short jobs
            end = now + est[job]
            if shadow >= 0:
                if end <= shadow:
                    pass
                elif g <= extra:
                    extra -= g
                else:
                    continue
            free -= g
            alloc[ten] += g
            if is_sme:
                sme_alloc += g
            else:
                non_sme_alloc += g
            started.append(job)
            started_ends.append((end, job))
        self._lend_wakeup = lend_wakeup
        if started:
            self.queued[started] = False
            self.count -= len(started)
            for job in started:
                self.usage.change(tenant[job], gpus[job], now)
        return started


POLICIES = ("fifo", "slurm", "platform")


def make_policy(name: str, *, sme_floor: float = 0.3) -> QueuePolicy:
    """A fresh policy by name (``fifo``, ``slurm``, ``platform``)."""
    if name == "fifo":
        return FifoPolicy()
    if name == "slurm":
        return SlurmPolicy()
    if name == "platform":
        return PlatformPolicy(sme_floor=sme_floor)
    raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
