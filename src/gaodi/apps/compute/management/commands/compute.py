"""`gaodi compute simulate`: replay a job trace through a queue policy and print the metrics.

A thin wrapper around :mod:`gaodi.engines.compute`; it needs no database.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gaodi.engines.compute import (
    POLICIES,
    ComputeInputError,
    PreemptionCost,
    illustrative_billing,
    load_trace,
    make_policy,
    make_workload,
    simulate,
    size_capacity,
)

DATA = Path(__file__).resolve().parents[2] / "data"
TRACES = DATA / "traces"


def resolve_trace(name: str) -> Path:
    """A path as given, or a shipped trace by name: ``elasticflow/cluster01`` or just ``cluster01``."""
    path = Path(name)
    if path.exists():
        return path
    m = re.fullmatch(r"(?:elasticflow/)?(cluster\d{2})(?:\.csv)?", name)
    if m and (TRACES / "elasticflow" / f"{m.group(1)}.csv").is_file():
        return TRACES / "elasticflow" / f"{m.group(1)}.csv"
    return path


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:,.2f} h"


def _share(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


class Command(BaseCommand):
    help = (
        "Public compute tools. `gaodi compute simulate --trace CSV --policy fifo|slurm|platform` replays a job "
        "trace (CSV columns job_id,submission_time,duration,num_gpu; seconds and accelerators) through a queue "
        "policy and prints completion times, queueing delays, utilization, SME shares, Jain's fairness index "
        "and subsidy spent. Shipped traces can be named as elasticflow/cluster01 ... cluster10."
    )
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", metavar="SUBCOMMAND", required=True)
        sim = sub.add_parser(
            "simulate",
            help="Replay a job trace through a queue policy and print the metrics.",
            description="Discrete-event replay of a job trace; see docs/compute.md for the rules and metrics.",
        )
        sim.add_argument("--trace", required=True, help="CSV file, or a shipped trace such as elasticflow/cluster01")
        sim.add_argument("--policy", required=True, choices=POLICIES, help="queue policy")
        sim.add_argument("--capacity", type=int, default=None,
                         help="accelerators in the cluster (default: sized so the offered load is 90%%)")
        sim.add_argument("--seed", type=int, default=0, help="seed of tenants and user estimates (default 0)")
        sim.add_argument("--sme-floor", type=float, default=0.3,
                         help="share of capacity SMEs are guaranteed when they ask (default 0.3)")
        sim.add_argument("--price", default="10.00", help="list price per accelerator-hour in CNY (default 10.00)")
        sim.add_argument("--no-subsidy", action="store_true", help="do not bill jobs against the voucher programs")
        sim.add_argument("--checkpoint-interval", type=float, default=1800.0,
                         help="seconds of progress between a job's checkpoints; a preempted job loses the work "
                              "since its last one (default 1800)")
        sim.add_argument("--restart-overhead", type=float, default=300.0,
                         help="seconds a preempted job needs to restart (default 300)")
        sim.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
        rec = sub.add_parser(
            "reconcile",
            help="Repair job states against the backends (after a restart; run it periodically, e.g. from cron).",
            description="Dispatches queued jobs whose retry time has come, asks every backend about the jobs it "
                        "holds, sends pending cancellations. A backend that is down is skipped and asked next time.",
        )
        rec.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: object, subcommand: str, **options: object) -> None:
        if subcommand == "simulate":
            self.simulate(**options)
        elif subcommand == "reconcile":
            self.reconcile(json=bool(options.get("json")))

    def reconcile(self, *, json: bool) -> None:
        # Needs the database, unlike `simulate`; imported here so `simulate` stays usable without it.
        from gaodi.apps.compute.actions import reconcile_jobs

        summary = reconcile_jobs()
        if json:
            self.stdout.write(_dumps(summary))
            return
        self.stdout.write(
            f"dispatched {summary['dispatched']}, updated {summary['updated']}, cancellations sent "
            f"{summary['cancel_sent']}, lapsed vouchers {summary['lapsed']}; backends down: "
            f"{', '.join(summary['unavailable']) or 'none'}"
        )

    def simulate(self, *, trace: str, policy: str, capacity: int | None, seed: int, sme_floor: float,
                 price: str, no_subsidy: bool, checkpoint_interval: float, restart_overhead: float, json: bool,
                 **_: object) -> None:
        if capacity is not None and capacity < 1:
            raise CommandError(f"--capacity: must be at least 1, got {capacity}")
        if not 0 <= sme_floor <= 1:
            raise CommandError(f"--sme-floor: must be between 0 and 1, got {sme_floor}")
        try:
            price_d = Decimal(price)
        except InvalidOperation:
            raise CommandError(f"--price: not a number: {price!r}") from None
        if not price_d.is_finite() or price_d < 0:
            raise CommandError(f"--price: must be a non-negative number, got {price!r}")
        try:
            cost = PreemptionCost(checkpoint_interval, restart_overhead)
        except ValueError as exc:
            raise CommandError(f"--checkpoint-interval/--restart-overhead: {exc}") from None
        try:
            t = load_trace(resolve_trace(trace))
        except ComputeInputError as exc:
            raise CommandError(str(exc)) from None
        largest = int(t.gpus.max())
        if capacity is not None and capacity < largest:
            raise CommandError(f"--capacity: {capacity} is below the largest job ({largest} accelerators); "
                               f"give at least {largest}")
        workload = make_workload(t, seed=seed)
        billing = None if no_subsidy else illustrative_billing(workload, price_d)
        cap = capacity if capacity is not None else size_capacity(t)
        result = simulate(workload, make_policy(policy, sme_floor=sme_floor), cap, sme_floor=sme_floor,
                          billing=billing, cost=cost)
        m = result.metrics
        if json:
            out = m.as_dict()
            out["capacity_source"] = "given" if capacity is not None else "sized to 90% offered load"
            out["seed"] = seed
            self.stdout.write(_dumps(out))
            return
        rows = [
            ("trace", f"{m.trace} ({m.jobs} jobs)"),
            ("policy", m.policy),
            ("capacity", f"{m.capacity} accelerators ({'given' if capacity is not None else 'sized to 90% load'}, "
                         f"offered load {m.offered_load:.0%})"),
            ("avg JCT", _hours(m.avg_jct)),
            ("p95 JCT", _hours(m.p95_jct)),
            ("avg queueing delay", _hours(m.avg_wait)),
            ("p95 queueing delay", _hours(m.p95_wait)),
            ("max queueing delay", _hours(m.max_wait)),
            ("utilization", f"{m.utilization:.1%}"),
            ("busy utilization (incl. lost work)", f"{m.busy_utilization:.1%}"),
            ("preemptions", f"{m.preemptions} ({m.preempted_jobs} jobs)"),
            ("lost accelerator-hours", f"{m.lost_accelerator_hours:,.1f} of {m.billed_accelerator_hours:,.1f} billed"),
            ("SME share of jobs", _share(m.sme_job_share)),
            ("SME share of accelerator-hours", _share(m.sme_gpu_hour_share)),
            ("SME share of waiting time", _share(m.sme_wait_share)),
            (f"SME floor ({m.sme_floor:.0%}) attainment", _share(m.sme_floor_attainment)),
            ("SME floor violations", str(m.sme_floor_violations)),
            ("Jain's index (tenants' normalised service)", f"{m.jain_service:.3f}"),
            ("subsidy spent", "not billed" if m.subsidy_spent is None else f"¥{m.subsidy_spent:,.2f}"),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.stdout.write(f"{key:<{width}}  {value}")


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True)
