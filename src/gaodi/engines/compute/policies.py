"""Queue policies behind one interface: FIFO, a Slurm-style baseline, and the platform policy.

Every policy is told about submissions and completions and, at each scheduling point, returns a
:class:`Plan`: running jobs to preempt and queued jobs to start now. It sees only what a real
scheduler sees: submission times, accelerator counts, tenants, SME flags, the *user's estimate*, and
for a job it preempted, the progress its last checkpoint saved; never the true duration.

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
      Slurm's default) queued jobs are examined per pass;
    - no preemption (Slurm's default ``PreemptType=preempt/none``).

``PlatformPolicy`` (the platform's own)
    Jobs are ordered by class, then shortest *remaining estimate* first inside a class (ties: older
    first). The remaining estimate is the user's estimate, less the progress a preempted job's last
    checkpoint saved, plus the restart overhead it will pay:

    0. *SME floor*: an SME's job while the SMEs together hold less than the floor with it
       (``sme_floor`` × capacity, default 30%). SMEs get the floor whenever they ask, before anyone
       else;
    1. *starving*: jobs that have waited ``starve_after`` in all (default 14 days, Slurm's
       PriorityMaxAge in the baseline; time in the system not holding accelerators, so the waits of
       a preempted job add up), oldest first, so no job waits forever;
    2. *quota*: the job fits in its tenant's nominal quota (Kueue ``nominalQuota``; by default
       ``(1 - sme_floor) × capacity`` split equally among the tenants, so floor plus quotas add up to
       the capacity);
    3+b. *borrowers*: jobs beyond their quota, running on capacity others leave idle. ``b`` is the
       tenant's fair-share band: 0 while its decayed usage (half-life ``fs_half_life``, default 1
       hour) is at most its equal share, 1 up to ``band_ratio`` (4) times it, 2 above.

    Shortest-remaining-estimate-first inside fair-share bands is what lowers the average completion
    time (short jobs stop queueing behind long ones); the floor, the quotas and the bands are what
    keep the heavy tenants from crowding out SMEs and light tenants.

    On top of the ordering, EASY backfill on the user's estimate exactly as in ``SlurmPolicy``: the
    first job that does not fit gets the reservation, and nothing started after it may delay it.
    Guarantees are re-checked as jobs start within one pass, so a pass never overshoots a quota or
    the floor by classifying from stale usage. What blocked owners (floor, starving or quota jobs)
    wait for is *claimed*: a borrower may only start on free capacity beyond the claims. Optionally
    (``lend_horizon``) the floor's idle capacity is lent to non-SMEs only for jobs whose estimate is at
    most that long (off by default; see docs/compute.md).

    **Preemption** (``preempt``, on by default). When a queued job does not fit, the policy may
    evict running jobs for it (at most ``preempt_attempts`` jobs per pass look for victims), as Kueue
    does when a queue reclaims its quota and Tiresias/Gandiva do to let short jobs pass long ones. A
    running job may be a victim only if it has been preempted fewer than ``max_preemptions`` times
    (default 2), did not start as a starving job, is not an SME job that the SMEs need for their floor
    (an SME job is only ever preempted when the SMEs keep at least the floor without it), and, when a
    reservation is set in this pass, would still run at its shadow time. Then one of:

    - *floor reclaim*: the job is within the SME floor and non-SME jobs hold part of the floor's
      share; victims are those non-SME jobs;
    - *quota reclaim* (``reclaim_quota``; Kueue ``reclaimWithinCohort: Any``): the job is within its
      tenant's nominal quota (or starving) and the victim's tenant holds more than its nominal quota;
    - *priority* (shortest remaining first with hysteresis): the victim's remaining estimate is at
      least ``preempt_ratio`` (2) × the job's, it belongs to the same tenant or its class as if
      queued now is not above the job's, and (``preempt_gain``) preempting pays: the job would otherwise wait (until enough accelerators
      free up, by estimate) longer than its own remaining estimate plus what the preemption wastes
      (the victim's work since its last checkpoint and its restart). For one accelerator that is
      exactly the condition under which swapping the two jobs lowers their summed completion times.

    Victims are taken longest remaining estimate first until the job fits; if they cannot free
    enough, nobody is preempted. Preempted jobs go back to the queue (not restartable in the same
    pass) and pay the :class:`PreemptionCost` the simulator charges.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

DAY = 86400.0
_LN2 = math.log(2.0)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class PreemptionCost:
    """What preempting a running job costs; the simulator charges it, policies may read it.

    ``checkpoint_interval``: a running job saves a checkpoint every this many seconds of progress
    in each run (default 30 minutes); a preempted job keeps what its last checkpoint saved and loses
    the work since. ``restart_overhead``: seconds a resumed job holds its accelerators before it makes
    progress again (rescheduling, container start, reading the checkpoint, re-initialising the
    collective; default 5 minutes). Neither applies to a job's first start: the trace's durations
    already include what a job costs to start once and to write its checkpoints.
    """

    checkpoint_interval: float = 1800.0
    restart_overhead: float = 300.0

    def __post_init__(self) -> None:
        if not (self.checkpoint_interval > 0 and math.isfinite(self.checkpoint_interval)):
            raise ValueError(f"checkpoint_interval must be a positive number of seconds, got {self.checkpoint_interval}")
        if not (self.restart_overhead >= 0 and math.isfinite(self.restart_overhead)):
            raise ValueError(f"restart_overhead must be a non-negative number of seconds, got {self.restart_overhead}")


@dataclass
class ClusterState:
    """What a policy may read: the jobs as a scheduler knows them and the cluster right now.

    The simulator (or a live service) owns it and updates ``free``, ``running``, ``tenant_alloc``,
    ``sme_alloc`` and the per-job run state when jobs start, are preempted and finish. ``running``
    holds ``(estimated end, job)`` sorted by estimated end, where a run's estimated end is its start
    plus :meth:`run_estimate`.

    Per job, what a scheduler knows of a job it may have preempted: ``done`` (seconds of progress
    saved by its last checkpoint), ``held`` (seconds it has held accelerators in earlier runs),
    ``preempted`` (how many times), ``run_start`` (start of the current run, NaN when not running).
    ``rem_est`` is the length of its next (or current) run by the user's estimate: the restart
    overhead when resuming plus what the estimate leaves after ``done``.
    """

    capacity: int
    submit: FloatArray
    estimate: FloatArray
    gpus: IntArray
    tenant: IntArray
    tenant_sme: BoolArray
    cost: PreemptionCost = field(default_factory=PreemptionCost)
    free: int = 0
    running: list[tuple[float, int]] = field(default_factory=list)
    tenant_alloc: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sme_alloc: int = 0

    def __post_init__(self) -> None:
        self.free = self.capacity
        self.tenant_alloc = np.zeros(len(self.tenant_sme), dtype=np.int64)
        self.job_sme: BoolArray = self.tenant_sme[self.tenant]
        n = len(self.gpus)
        # Python lists of the per-job facts: element access in the scheduling loops is much faster.
        self.gpus_l: list[int] = self.gpus.tolist()
        self.est_l: list[float] = self.estimate.tolist()
        self.submit_l: list[float] = self.submit.tolist()
        self.tenant_l: list[int] = self.tenant.tolist()
        self.sme_l: list[bool] = self.job_sme.tolist()
        self.rem_est: FloatArray = self.estimate.astype(np.float64, copy=True)
        self.rem_est_l: list[float] = list(self.est_l)
        self.held: FloatArray = np.zeros(n, dtype=np.float64)
        self.done_l: list[float] = [0.0] * n
        self.preempted_l: list[int] = [0] * n
        self.run_start_l: list[float] = [math.nan] * n

    @property
    def n_tenants(self) -> int:
        return len(self.tenant_sme)

    def run_estimate(self, job: int) -> float:
        """Seconds the job's next (or current) run holds its accelerators, by the user's estimate."""
        return self.rem_est_l[job]

    def overhead(self, job: int) -> float:
        """Restart overhead the job's next (or current) run pays: none on its first start."""
        return self.cost.restart_overhead if self.preempted_l[job] else 0.0


class Plan(NamedTuple):
    """A policy's decision at one scheduling point: jobs to preempt (first), then jobs to start."""

    start: list[int]
    preempt: list[int]


class QueuePolicy(Protocol):
    """The interface every queue policy implements (FIFO, Slurm-style, platform)."""

    name: str

    @property
    def preemptive(self) -> bool:
        """Whether the policy may preempt: it is then asked at every event, even with nothing free."""

    def attach(self, state: ClusterState) -> None:
        """Start from an empty queue on this cluster."""

    def submit(self, job: int, now: float) -> None:
        """A job arrives."""

    def finish(self, job: int, now: float) -> None:
        """A running job ended (its accelerators are already back in ``state.free``)."""

    def schedule(self, now: float) -> Plan:
        """Running jobs to preempt now and queued jobs to start now, in order.

        The starts fit in ``state.free`` plus what the preemptions free; started jobs leave the queue
        and preempted ones re-enter it (the policy does both itself). A job may not be preempted and
        started in the same pass.
        """

    def pending(self) -> int:
        """Jobs waiting in the queue."""

    def wakeup(self, now: float) -> float:
        """When the policy needs a scheduling pass although no job arrives or ends (math.inf: never).

        Passes happen at every arrival and completion; a policy whose decisions also change with
        the mere passing of time (a starvation guard that unblocks a job) asks for one here.
        """


def reservation(state: ClusterState, started: list[tuple[float, int]], now: float, free: int,
                need: int, excluded: set[int] | None = None) -> tuple[float, int]:
    """EASY reservation for a job needing ``need`` accelerators: (shadow time, spare accelerators).

    Walks running jobs (and those started earlier in this pass) by estimated end; a job already past
    its estimate is expected to end now. The spare count is what is free at the shadow time beyond
    ``need``. ``excluded``: running jobs this pass preempts (their accelerators are already in ``free``).
    """
    avail = free
    gpus = state.gpus_l
    for end, job in heapq.merge(state.running, sorted(started)):
        if excluded and job in excluded:
            continue
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
    preemptive = False

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

    def schedule(self, now: float) -> Plan:
        free = self.state.free
        gpus = self.state.gpus_l
        queue = self.queue
        started: list[int] = []
        while queue and gpus[queue[0]] <= free:
            job = queue.popleft()
            free -= gpus[job]
            started.append(job)
        return Plan(started, [])


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
    preemptive = False  # Slurm's PreemptType=preempt/none, its default

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

    def schedule(self, now: float) -> Plan:
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
        return Plan(started, [])


@dataclass
class PlatformPolicy:
    """SME floor + starvation guard + Kueue-style quotas with borrowing + fair-share bands, shortest
    remaining estimate first inside each class, EASY backfill on the user's estimate, and preemption
    (reclaim and shortest-remaining-first) that pays checkpoint losses and restart overheads.

    ``quotas``: nominal quota per tenant in accelerators; by default ``(1 - sme_floor) × capacity``
    split equally among tenants (the SME floor is a guarantee of the SMEs as a group on top, so the
    guarantees add up to the capacity and none is oversubscribed). ``order_by="area"`` orders inside a
    class by remaining estimate × accelerators instead of the remaining estimate.

    Preemption (``preempt=True``): see the module docstring. ``preempt_ratio``: a job may evict a
    running one by priority only if the victim's remaining estimate is at least this many times its
    own; ``max_preemptions``: a job preempted that often runs to completion when next started;
    ``reclaim_quota``: quota jobs evict borrowers (Kueue ``reclaimWithinCohort: Any``);
    ``preempt_gain``: priority preemption only when it pays for its cost (off: plain shortest remaining
    first with the ratio as hysteresis); ``preempt_attempts``: blocked jobs per pass that look for
    victims (bounds the cost of a pass).
    """

    sme_floor: float = 0.3
    fs_half_life: float = 3600.0
    band_ratio: float = 4.0
    starve_after: float = 14 * DAY
    lend_horizon: float = math.inf
    bf_max_job_test: int = 500
    quotas: Sequence[float] | None = None
    order_by: str = "estimate"
    preempt: bool = True
    preempt_ratio: float = 2.0
    max_preemptions: int = 2
    reclaim_quota: bool = True
    preempt_gain: bool = True
    preempt_attempts: int = 16
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
        if not self.preempt_ratio >= 1:
            raise ValueError(f"preempt_ratio must be at least 1, got {self.preempt_ratio}")
        if self.max_preemptions < 0:
            raise ValueError(f"max_preemptions must be at least 0, got {self.max_preemptions}")

    @property
    def preemptive(self) -> bool:
        return self.preempt and self.max_preemptions > 0

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
        self.protected: set[int] = set()  # running jobs that started starving: never preempted

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
        self.protected.discard(job)

    def bands(self, now: float) -> IntArray:
        """Per tenant: 0 at or under its equal share of recent usage, 1 up to ``band_ratio``×, 2 above."""
        ratio = self.usage.shares(now) / self.share
        return np.where(ratio <= 1.0, 0, np.where(ratio <= self.band_ratio, 1, 2)).astype(np.int64)

    def order(self, now: float) -> tuple[list[int], list[int]]:
        """Queued jobs in scheduling order, with their class (FLOOR, STARVING, QUOTA, BORROW + band).

        A job is *starving* once it has waited ``starve_after`` in all (time in the system not holding
        accelerators, so a preempted job's earlier waits count).
        """
        s = self.state
        q = np.flatnonzero(self.queued)
        sub = s.submit[q]
        g = s.gpus[q]
        t = s.tenant[q]
        self._bands = self.bands(now)
        floor = s.job_sme[q] & ((s.sme_alloc + g) <= self.floor_gpus)
        starving = (now - sub - s.held[q]) >= self.starve_after
        within = (s.tenant_alloc[t] + g) <= self.nominal[t]
        cls = np.where(floor, self.FLOOR, np.where(starving, self.STARVING, np.where(
            within, self.QUOTA, self.BORROW + self._bands[t])))
        size = s.rem_est[q] * g if self.order_by == "area" else s.rem_est[q]
        key = np.where(cls == self.STARVING, sub, size)
        order = np.lexsort((q, key, cls))
        return q[order].tolist(), cls[order].tolist()

    def schedule(self, now: float) -> Plan:
        s = self.state
        jobs, classes = self.order(now)
        gpus, tenant, sme, submit = s.gpus_l, s.tenant_l, s.sme_l, s.submit_l
        rem_est = s.rem_est_l
        held = s.held
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
        victims: list[int] = []
        victim_set: set[int] = set()
        attempts = self.preempt_attempts if self.preemptive else 0
        lend_wakeup = math.inf
        for idx, job in enumerate(jobs):
            if idx >= self.bf_max_job_test or (free <= 0 and attempts <= 0):
                break
            g = gpus[job]
            ten = tenant[job]
            cls = classes[idx]
            # Guarantees are re-checked against what this pass already started.
            if cls == 0 and sme_alloc + g > floor_gpus:
                if now - submit[job] - float(held[job]) >= self.starve_after:
                    cls = 1
                else:
                    cls = 2 if alloc[ten] + g <= nominal[ten] else 3
            elif cls == 2 and alloc[ten] + g > nominal[ten]:
                cls = 3
            owner = cls <= 2
            is_sme = sme[job]
            end = now + rem_est[job]
            lend_blocked = (not is_sme and cls != 1 and non_sme_alloc + g > lend_gpus and rem_est[job] > lend_horizon)
            # What this job could use now without preempting anyone.
            usable = free if owner else free - claims
            if shadow >= 0 and end > shadow:
                usable = min(usable, extra)
            if g > usable and attempts > 0 and not lend_blocked:
                attempts -= 1
                chosen = self._victims(job, cls, g - max(usable, 0), now, shadow, victim_set, sme_alloc,
                                       non_sme_alloc, alloc, started_ends, max(usable, 0))
                if chosen:
                    for v in chosen:
                        gv = gpus[v]
                        free += gv
                        if shadow >= 0:
                            extra += gv  # the victims would still have held them at the shadow time
                        alloc[tenant[v]] -= gv
                        if sme[v]:
                            sme_alloc -= gv
                        else:
                            non_sme_alloc -= gv
                        victims.append(v)
                        victim_set.add(v)
                    # It now fits (and keeps the reservation): fall through to start it.
            if g > free:
                if shadow < 0:
                    shadow, extra = reservation(s, started_ends, now, free, g, victim_set)
                elif owner:
                    claims += g
                continue
            if not owner and g > free - claims:
                continue  # borrowing would take what waiting owners claim
            if lend_blocked:
                lend_wakeup = min(lend_wakeup, submit[job] + self.starve_after)
                continue  # the SME floor is lent to non-SMEs only for short jobs
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
            if cls == self.STARVING:
                self.protected.add(job)
        self._lend_wakeup = lend_wakeup
        if started:
            self.queued[started] = False
            self.count -= len(started)
            for job in started:
                self.usage.change(tenant[job], gpus[job], now)
        if victims:
            self.queued[victims] = True
            self.count += len(victims)
            for v in victims:
                self.usage.change(tenant[v], -gpus[v], now)
        return Plan(started, victims)

    def loss(self, job: int, now: float) -> float:
        """Seconds preempting this running job now would waste: its progress since its last
        checkpoint, the restart it is still in (if any) and the restart it will pay to resume."""
        s = self.state
        cost = s.cost
        ran = now - s.run_start_l[job]
        ov = s.overhead(job)
        worked = max(0.0, ran - ov)
        return worked % cost.checkpoint_interval + min(ran, ov) + cost.restart_overhead

    def _victims(self, job: int, cls: int, need: int, now: float, shadow: float, taken: set[int],
                 sme_alloc: int, non_sme_alloc: int, alloc: list[int], started_ends: list[tuple[float, int]],
                 usable: int) -> list[int]:
        """Running jobs to preempt so that ``job`` (class ``cls``) gets ``need`` more accelerators.

        Walks running jobs longest remaining estimate first. A running job may be taken when it has
        been preempted fewer than ``max_preemptions`` times, did not start starving, is not an SME job
        that the SMEs need for their floor, and, when a reservation is set, would still run at its
        shadow time (so evicting it cannot delay the reserved job). On top of that it must be one of:

        - *floor reclaim*: ``job`` is within the SME floor and the victim is a non-SME job while
          non-SMEs hold part of the floor's share;
        - *quota reclaim* (``reclaim_quota``): ``job`` is within its tenant's nominal quota (or
          starving) and the victim's tenant holds more than its nominal quota;
        - *priority*: the victim's remaining estimate is at least ``preempt_ratio`` × the job's,
          the victim is the same tenant's or its class (as if it were queued now) is not above the
          job's, and (``preempt_gain``) preempting pays: the job would otherwise wait (until
          ``usable`` plus what frees up covers it, by estimate) longer than its own remaining
          estimate plus what preempting the victim wastes (:meth:`loss`). For one accelerator, that
          is exactly when swapping the two lowers their summed completion times.

        Returns [] when these cannot free ``need`` accelerators (nothing is preempted then).
        """
        s = self.state
        gpus, tenant, sme = s.gpus_l, s.tenant_l, s.sme_l
        preempted = s.preempted_l
        nominal = self.nominal_l
        bands = self._bands
        cap = s.capacity
        floor_gpus = self.floor_gpus
        own_rem = s.rem_est_l[job]
        min_rem = self.preempt_ratio * own_rem
        wait = -1.0  # how long the job would wait if nobody were preempted (by estimate), computed when needed
        floor_reclaim = cls == self.FLOOR
        quota_reclaim = self.reclaim_quota and (cls == self.QUOTA or cls == self.STARVING)
        own = tenant[job]
        chosen: list[int] = []
        got = 0
        delta: dict[int, int] = {}
        for end_v, v in reversed(s.running):
            if shadow >= 0 and end_v <= shadow:
                break  # sorted by estimated end: the rest end before the shadow time
            rem = end_v - now
            if rem < min_rem and not floor_reclaim and not quota_reclaim:
                break  # no reclaim to do, and the rest are shorter still
            if v in taken or v in self.protected or preempted[v] >= self.max_preemptions:
                continue
            gv = gpus[v]
            tv = tenant[v]
            v_sme = sme[v]
            if v_sme and sme_alloc - gv < floor_gpus:
                continue  # never below the SME floor
            tv_alloc = alloc[tv] - delta.get(tv, 0)
            borrower = tv_alloc > nominal[tv]
            if floor_reclaim and not v_sme and non_sme_alloc > cap - floor_gpus:
                pass
            elif quota_reclaim and borrower and tv != own:
                pass
            elif rem >= min_rem:
                v_cls = self.BORROW + int(bands[tv]) if borrower else self.QUOTA
                if v_cls < cls and tv != own:
                    continue  # another tenant's job in a better class (within a tenant, priority decides)
                if self.preempt_gain:
                    if wait < 0:
                        wait = reservation(s, started_ends, now, usable, gpus[job], taken)[0] - now
                    if self.loss(v, now) >= wait - own_rem:
                        continue  # waiting for the accelerators to free up costs less than preempting
            else:
                continue
            chosen.append(v)
            got += gv
            delta[tv] = delta.get(tv, 0) + gv
            if v_sme:
                sme_alloc -= gv
            else:
                non_sme_alloc -= gv
            if got >= need:
                return chosen
        return []


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
