"""Scheduling benchmark: the ElasticFlow traces (10 clusters, 69,351 jobs) under FIFO, Slurm-style and platform.

    uv run python bench/scheduling.py [--seed 0] [--clusters 1,2,...] [--no-bound] [--json]

For every cluster it sizes the capacity so the offered load is 90% (and at least the largest job),
assigns tenants (seeded Zipf over 50 tenants, 60% SMEs) and user estimates (true duration × seeded
lognormal noise), replays the trace under the three policies with the illustrative vouchers, and
prints every metric. Then it checks the quality bars of issue 4:

- the platform policy's average JCT is at most 0.8 × the Slurm-style baseline's on every cluster;
- while SMEs receive their floor: the platform never starts a non-SME job in place of an entitled SME
  job (``sme_floor_violations == 0``, see gaodi.engines.compute.simulator), and the time-weighted
  floor attainment is printed next to the baseline's;
- the 30 replays take under 120 s of wall time.

As a diagnostic (not a policy, never part of the targets) it also replays every cluster with
shortest-job-first on the *true* durations plus EASY backfill ("oracle SJF"): a reference for how
much reordering the queue can gain on that trace when durations are known exactly (not a strict
bound: backfill with exact estimates is not always better than with padded ones). ``--no-bound``
skips it.

Exit status 0 when every target holds, 1 when one is missed (the table says which and by how much).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from gaodi.engines.compute import (
    Metrics,
    PlatformPolicy,
    illustrative_billing,
    load_trace,
    make_policy,
    make_workload,
    simulate,
)

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
        f"{m.jain_service:.3f}", "-" if m.subsidy_spent is None else f"{m.subsidy_spent:,.0f}", f"{secs:.1f}",
    ]


HEADER = ["cluster", "policy", "cap", "load", "avg JCT h", "p95 JCT h", "avg wait h", "p95 wait h", "max wait h",
          "util", "SME acc-h", "SME wait", "floor att", "floor viol", "Jain", "subsidy ¥", "sim s"]


def markdown(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clusters", default="1,2,3,4,5,6,7,8,9,10")
    ap.add_argument("--no-bound", action="store_true", help="skip the oracle-SJF diagnostic")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    clusters = [int(c) for c in args.clusters.split(",")]

    results: dict[str, dict[str, Metrics]] = {}
    rows: list[list[str]] = []
    bound: dict[str, float] = {}
    replay_seconds = 0.0
    replay_cpu = 0.0
    started = time.perf_counter()
    for c in clusters:
        trace = load_trace(TRACES / f"cluster{c:02d}.csv")
        workload = make_workload(trace, seed=args.seed)
        results[trace.name] = {}
        for name in POLICIES:
            t0, c0 = time.perf_counter(), time.process_time()
            m = simulate(workload, make_policy(name, sme_floor=SME_FLOOR), sme_floor=SME_FLOOR,
                         billing=illustrative_billing(workload)).metrics
            secs = time.perf_counter() - t0
            replay_seconds += secs
            replay_cpu += time.process_time() - c0
            results[trace.name][name] = m
            rows.append(row(m, secs))
            if not args.json:
                print(" | ".join(rows[-1]), flush=True)
        if not args.no_bound:
            oracle = replace(workload, estimate=trace.duration.copy())
            sjf = PlatformPolicy(sme_floor=0.0, quotas=[0.0] * workload.n_tenants, band_ratio=math.inf,
                                 starve_after=math.inf, name="oracle-sjf")
            bound[trace.name] = simulate(oracle, sjf).metrics.avg_jct / results[trace.name]["slurm"].avg_jct
    wall = time.perf_counter() - started

    checks: list[tuple[str, bool, str]] = []
    for name, by in results.items():
        ratio = by["platform"].avg_jct / by["slurm"].avg_jct
        extra = f"; oracle-SJF reference {bound[name]:.3f}" if name in bound else ""
        checks.append((f"{name}: platform avg JCT / slurm avg JCT", ratio <= TARGET_RATIO,
                       f"{ratio:.3f} (target <= {TARGET_RATIO}){extra}"))
        p, s = by["platform"], by["slurm"]
        checks.append((f"{name}: SME floor honoured (no violations)", p.sme_floor_violations == 0,
                       f"violations platform {p.sme_floor_violations}, slurm {s.sme_floor_violations}; attainment "
                       f"platform {p.sme_floor_attainment or 0:.3f}, slurm {s.sme_floor_attainment or 0:.3f}"))
    checks.append(("replay time of all clusters x 3 policies", replay_seconds <= TARGET_SECONDS,
                   f"{replay_seconds:.1f} s wall, {replay_cpu:.1f} s CPU (target <= {TARGET_SECONDS:.0f} s); "
                   f"whole run incl. loading and the oracle reference {wall:.1f} s"))
    ok = all(passed for _, passed, _ in checks)

    if args.json:
        print(json.dumps({
            "seed": args.seed, "machine": machine(), "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "replay_seconds": replay_seconds, "replay_cpu_seconds": replay_cpu,
            "metrics": {k: {p: m.as_dict() for p, m in v.items()} for k, v in results.items()},
            "oracle_sjf_ratio": bound,
            "checks": [{"check": c, "ok": passed, "detail": d} for c, passed, d in checks],
        }, indent=2, ensure_ascii=False))
    else:
        print()
        print(markdown(rows))
        print()
        for check, passed, detail in checks:
            print(f"{'PASS' if passed else 'MISS'}  {check}: {detail}")
        print()
        print(f"machine: {machine()}")
        print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; seed {args.seed}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
