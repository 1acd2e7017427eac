"""Scheduling benchmark: the ElasticFlow traces (10 clusters, 69,351 jobs) under FIFO, Slurm-style and platform.

    uv run python bench/scheduling.py [--seeds 0,1,2] [--clusters 1,2,...] [--no-bound]
        [--checkpoint-interval 1800] [--restart-overhead 300] [--json]

For every cluster it sizes the capacity so the offered load is 90% (and at least the largest job),
assigns tenants (seeded Zipf over 50 tenants, 60% SMEs) and user estimates (true duration × seeded
lognormal noise), replays the trace under the three policies with the illustrative vouchers, and
prints every metric. The platform policy preempts; what a preemption costs (a checkpoint every
``--checkpoint-interval`` seconds, ``--restart-overhead`` seconds to restart) is charged by the
simulator in completion times, utilization and billed accelerator-hours. Then it checks the quality
bars of issue 4, for each seed:

- the platform policy's average JCT is at most 0.8 × the Slurm-style baseline's on every cluster;
- while SMEs receive their floor: the platform never starts a non-SME job in place of an entitled SME
  job and never preempts an SME job below the floor for one (``sme_floor_violations == 0``, see
  gaodi.engines.compute.simulator), and the time-weighted floor attainment is printed next to the
  baseline's;
- the 30 replays take under 120 s of wall time.

As diagnostics (not policies, never part of the targets) it also replays every cluster as if all
jobs belonged to one tenant with their *true* durations known: "oracle SJF", shortest-job-first plus
EASY backfill without preemption, and "oracle SRPT", shortest-remaining-first with free preemption
(no lost work, no restart). They show how much reordering can gain on that trace when durations are
known exactly (references, not strict bounds: with jobs of different widths neither order is
optimal). ``--no-bound`` skips them.

Exit status 0 when every target holds for every seed, 1 when one is missed (the tables say which).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gaodi.engines.compute import (
    Metrics,
    PlatformPolicy,
    PreemptionCost,
    illustrative_billing,
    load_trace,
    make_policy,
    make_workload,
    simulate,
)
from gaodi.engines.compute.trace import Workload

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "src" / "gaodi" / "apps" / "compute" / "data" / "traces" / "elasticflow"
POLICIES = ("fifo", "slurm", "platform")
TARGET_RATIO = 0.8
TARGET_SECONDS = 120.0
SME_FLOOR = 0.3


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def h(seconds: float) -> str:
    return f"{seconds / 3600:.2f}"


def row(m: Metrics, secs: float) -> list[str]:
    return [
        m.trace, m.policy, str(m.capacity), f"{m.offered_load:.2f}", h(m.avg_jct), h(m.p95_jct), h(m.avg_wait),
        h(m.p95_wait), h(m.max_wait), f"{m.utilization:.3f}", f"{m.sme_gpu_hour_share:.3f}",
        "n/a" if m.sme_wait_share is None else f"{m.sme_wait_share:.3f}",
        "n/a" if m.sme_floor_attainment is None else f"{m.sme_floor_attainment:.3f}", str(m.sme_floor_violations),
        f"{m.jain_service:.3f}", "-" if m.subsidy_spent is None else f"{m.subsidy_spent:,.0f}", str(m.preemptions),
        f"{m.lost_accelerator_hours:,.0f}", f"{secs:.1f}",
    ]


HEADER = ["cluster", "policy", "cap", "load", "avg JCT h", "p95 JCT h", "avg wait h", "p95 wait h", "max wait h",
          "util", "SME acc-h", "SME wait", "floor att", "floor viol", "Jain", "subsidy ¥", "preempt", "lost acc-h",
          "sim s"]


def markdown(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def oracle(workload: Workload) -> Workload:
    """The workload with true durations as estimates and every job in one tenant (no SMEs)."""
    trace = workload.trace
    return replace(workload, estimate=trace.duration.copy(), tenant=np.zeros(len(trace), dtype=np.int64),
                   tenant_sme=np.zeros(1, dtype=np.bool_), n_tenants=1)


def oracle_sjf() -> PlatformPolicy:
    return PlatformPolicy(sme_floor=0.0, quotas=[0.0], starve_after=math.inf, preempt=False, name="oracle-sjf")


def oracle_srpt() -> PlatformPolicy:
    return PlatformPolicy(sme_floor=0.0, quotas=[0.0], starve_after=math.inf, preempt_ratio=1.0,
                          max_preemptions=10**9, preempt_gain=False, reclaim_quota=False, preempt_attempts=64,
                          name="oracle-srpt")


FREE = PreemptionCost(checkpoint_interval=1e-3, restart_overhead=0.0)  # for the SRPT reference only


@dataclass
class SeedRun:
    seed: int
    results: dict[str, dict[str, Metrics]] = field(default_factory=dict)
    rows: list[list[str]] = field(default_factory=list)
    bound: dict[str, tuple[float, float]] = field(default_factory=dict)  # (oracle SJF, oracle SRPT) / slurm
    replay_seconds: float = 0.0
    replay_cpu: float = 0.0
    wall: float = 0.0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(passed for _, passed, _ in self.checks)

    def ratio(self, name: str) -> float:
        by = self.results[name]
        return by["platform"].avg_jct / by["slurm"].avg_jct


def run_seed(seed: int, clusters: list[int], cost: PreemptionCost, bound: bool, echo: bool) -> SeedRun:
    run = SeedRun(seed)
    started = time.perf_counter()
    for c in clusters:
        trace = load_trace(TRACES / f"cluster{c:02d}.csv")
        workload = make_workload(trace, seed=seed)
        run.results[trace.name] = {}
        for name in POLICIES:
            t0, c0 = time.perf_counter(), time.process_time()
            m = simulate(workload, make_policy(name, sme_floor=SME_FLOOR), sme_floor=SME_FLOOR,
                         billing=illustrative_billing(workload), cost=cost).metrics
            secs = time.perf_counter() - t0
            run.replay_seconds += secs
            run.replay_cpu += time.process_time() - c0
            run.results[trace.name][name] = m
            run.rows.append(row(m, secs))
            if echo:
                print(" | ".join(run.rows[-1]), flush=True)
        if bound:
            base = run.results[trace.name]["slurm"].avg_jct
            o = oracle(workload)
            sjf = simulate(o, oracle_sjf(), sme_floor=0.0).metrics.avg_jct / base
            srpt = simulate(o, oracle_srpt(), sme_floor=0.0, cost=FREE).metrics.avg_jct / base
            run.bound[trace.name] = (sjf, srpt)
    run.wall = time.perf_counter() - started

    for name, by in run.results.items():
        ratio = run.ratio(name)
        extra = ""
        if name in run.bound:
            extra = f"; oracle SJF {run.bound[name][0]:.3f}, oracle SRPT {run.bound[name][1]:.3f}"
        run.checks.append((f"{name}: platform avg JCT / slurm avg JCT", ratio <= TARGET_RATIO,
                           f"{ratio:.3f} (target <= {TARGET_RATIO}){extra}"))
        p, s = by["platform"], by["slurm"]
        run.checks.append((f"{name}: SME floor honoured (no violations)", p.sme_floor_violations == 0,
                           f"violations platform {p.sme_floor_violations} (by preemption {p.sme_floor_preemptions}), "
                           f"slurm {s.sme_floor_violations}; attainment platform {p.sme_floor_attainment or 0:.3f}, "
                           f"slurm {s.sme_floor_attainment or 0:.3f}; platform preemptions {p.preemptions}, lost "
                           f"{p.lost_accelerator_hours:,.0f} of {p.billed_accelerator_hours:,.0f} billed acc-h"))
    run.checks.append(("replay time of all clusters x 3 policies", run.replay_seconds <= TARGET_SECONDS,
                       f"{run.replay_seconds:.1f} s wall, {run.replay_cpu:.1f} s CPU (target <= {TARGET_SECONDS:.0f} s); "
                       f"whole run incl. loading and the oracle references {run.wall:.1f} s"))
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default=None, help="comma-separated seeds (default 0)")
    ap.add_argument("--seed", type=int, default=0, help="one seed (ignored when --seeds is given)")
    ap.add_argument("--clusters", default="1,2,3,4,5,6,7,8,9,10")
    ap.add_argument("--no-bound", action="store_true", help="skip the oracle references")
    ap.add_argument("--checkpoint-interval", type=float, default=PreemptionCost().checkpoint_interval,
                    help="seconds of progress between a job's checkpoints (default 1800)")
    ap.add_argument("--restart-overhead", type=float, default=PreemptionCost().restart_overhead,
                    help="seconds a preempted job needs to restart (default 300)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    clusters = [int(c) for c in args.clusters.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    cost = PreemptionCost(args.checkpoint_interval, args.restart_overhead)

    runs: list[SeedRun] = []
    for seed in seeds:
        if not args.json:
            print(f"seed {seed}", flush=True)
        run = run_seed(seed, clusters, cost, not args.no_bound, echo=not args.json)
        runs.append(run)
        if not args.json:
            print()
            print(markdown(run.rows))
            print()
            for check, passed, detail in run.checks:
                print(f"{'PASS' if passed else 'MISS'}  {check}: {detail}")
            print()
    ok = all(run.ok for run in runs)
    names = list(runs[0].results)

    if args.json:
        print(json.dumps({
            "machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "preemption_cost": {"checkpoint_interval": cost.checkpoint_interval,
                                "restart_overhead": cost.restart_overhead},
            "seeds": [{
                "seed": run.seed, "replay_seconds": run.replay_seconds, "replay_cpu_seconds": run.replay_cpu,
                "metrics": {k: {p: m.as_dict() for p, m in v.items()} for k, v in run.results.items()},
                "oracle_ratio": {k: {"sjf": v[0], "srpt": v[1]} for k, v in run.bound.items()},
                "checks": [{"check": c, "ok": passed, "detail": d} for c, passed, d in run.checks],
            } for run in runs],
        }, indent=2, ensure_ascii=False))
    else:
        short = [n.replace("cluster", "c") for n in names]
        print("platform / slurm average JCT by seed:")
        print("| seed | " + " | ".join(short) + " | missed | replay s |")
        print("|---|" + "---:|" * len(short) + "---|---:|")
        for run in runs:
            missed = [sn for sn, n in zip(short, names, strict=True) if run.ratio(n) > TARGET_RATIO]
            print(f"| {run.seed} | " + " | ".join(f"{run.ratio(n):.3f}" for n in names)
                  + f" | {', '.join(missed) or 'none'} | {run.replay_seconds:.1f} |")
        print()
        print(f"preemption cost: a checkpoint every {cost.checkpoint_interval:g} s, {cost.restart_overhead:g} s to restart")
        print(f"machine: {machine()}")
        print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; seeds {', '.join(map(str, seeds))}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
