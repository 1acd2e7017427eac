"""A job request: what a firm asks the platform to run, and the checks it must pass first.

:func:`validate_request` refuses bad requests with :class:`RequestError` (a ValueError), naming the
field and the fix: negative or absurd resources (more accelerators than the largest pool of an acceptable
model has, naming that pool), an unknown accelerator, a deadline in the past or too close to finish the
job, a data region nobody offers when the data may not leave it.

Data residency: data that "may not leave" its region (``data_may_leave=False``), or whose grade is
*important* (重要数据) or *core* (核心数据) under the Data Security Law's grading, is only ever placed on
sites in ``data_region``. *General* data (一般数据) may move, at the catalog's transfer price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from gaodi.engines.compute.catalog import Catalog
from gaodi.engines.compute.errors import RequestError

MAX_HOURS = 24 * 366.0
MAX_DATA_GB = 10_000_000.0  # 10 PB


class Workload(StrEnum):
    TRAINING = "training"  # throughput matters, latency to Shanghai does not
    INFERENCE = "inference"  # latency-sensitive: network latency to Shanghai is penalised


class Preference(StrEnum):
    CHEAPEST = "cheapest"
    SOONEST = "soonest"
    GREENEST = "greenest"


class DataGrade(StrEnum):
    GENERAL = "general"  # 一般数据
    IMPORTANT = "important"  # 重要数据
    CORE = "core"  # 核心数据


@dataclass(frozen=True)
class JobRequest:
    accelerators: int
    accelerator_models: tuple[str, ...]
    estimated_hours: float
    data_region: str
    nodes: int | None = None  # None: any layout; the pool packs accelerators onto its nodes
    deadline: datetime | None = None
    data_may_leave: bool = True
    data_grade: DataGrade = DataGrade.GENERAL
    data_size_gb: float = 0.0
    workload: Workload = Workload.TRAINING
    budget_cap: Decimal | None = None
    preference: Preference = Preference.CHEAPEST
    min_memory_gb: int = 0

    @property
    def data_must_stay(self) -> bool:
        """True when the data may not leave ``data_region`` (by choice or by its grade)."""
        return not self.data_may_leave or self.data_grade in (DataGrade.IMPORTANT, DataGrade.CORE)

    @property
    def per_node(self) -> int | None:
        return None if self.nodes is None else self.accelerators // self.nodes

    @property
    def duration(self) -> timedelta:
        return timedelta(hours=self.estimated_hours)


def validate_request(request: JobRequest, catalog: Catalog, now: datetime) -> JobRequest:
    """Return the request with accelerator names in the catalog's spelling, or raise RequestError."""
    r = request
    if isinstance(r.accelerators, bool) or not isinstance(r.accelerators, int):
        raise RequestError("accelerators", f"must be a whole number, got {r.accelerators!r}", "ask for e.g. 8")
    if r.accelerators < 1:
        raise RequestError("accelerators", f"must be at least 1, got {r.accelerators}",
                           "ask for a positive number of accelerators")
    largest = catalog.largest_pool
    if r.accelerators > largest:
        raise RequestError("accelerators", f"{r.accelerators} is more than any pool has (largest: {largest})",
                           f"ask for at most {largest}, or split the job")
    if r.nodes is not None:
        if isinstance(r.nodes, bool) or not isinstance(r.nodes, int) or r.nodes < 1:
            raise RequestError("nodes", f"must be a whole number of at least 1, got {r.nodes!r}",
                               "ask for e.g. 1 node, or leave it empty")
        if r.nodes > r.accelerators or r.accelerators % r.nodes:
            raise RequestError("nodes", f"{r.accelerators} accelerators do not split evenly over {r.nodes} nodes",
                               "make accelerators a multiple of nodes (same count on every node)")
    if not isinstance(r.estimated_hours, int | float) or not math.isfinite(r.estimated_hours) \
            or r.estimated_hours <= 0:
        raise RequestError("estimated_hours", f"must be a positive number of hours, got {r.estimated_hours!r}",
                           "estimate the run time, e.g. 12.5")
    if r.estimated_hours > MAX_HOURS:
        raise RequestError("estimated_hours", f"{r.estimated_hours:g} h is more than a year",
                           f"split the job into runs of at most {MAX_HOURS:g} h")
    if not r.accelerator_models:
        raise RequestError("accelerator_models", "is empty", "name at least one acceptable accelerator model")
    models: list[str] = []
    for name in r.accelerator_models:
        acc = catalog.accelerator(name)
        if acc is None:
            raise RequestError("accelerator_models", f"unknown accelerator {name!r}",
                               f"choose from {', '.join(sorted(catalog.accelerators))}")
        if acc.model not in models:
            models.append(acc.model)
    if r.min_memory_gb < 0 or r.min_memory_gb > 4096:
        raise RequestError("min_memory_gb", f"{r.min_memory_gb} GB is out of range", "give 0 to 4096 GB")
    if not isinstance(r.data_region, str) or not r.data_region.strip():
        raise RequestError("data_region", "is empty", "name the region where the data is, e.g. shanghai")
    region = r.data_region.strip().lower()
    if r.data_must_stay and region not in catalog.regions:
        raise RequestError("data_region", f"no site is in {region!r} and the data may not leave it",
                           f"sites exist in {', '.join(sorted(catalog.regions))}; or allow the data to move")
    # More than the largest pool that could take the job (right model; in the data's region when the data
    # must stay) is refused here, naming that pool, rather than as "no feasible pool" later.
    able = [p for p in catalog.pools.values() if p.accelerator in models
            and (not r.data_must_stay or catalog.site_of(p).region == region)]
    if able:
        biggest = max(able, key=lambda p: (p.count, p.id))
        if r.accelerators > biggest.count:
            where = f" in {region}" if r.data_must_stay else ""
            raise RequestError(
                "accelerators",
                f"{r.accelerators} is more than any {'/'.join(models)} pool{where} has "
                f"(largest: {biggest.id} with {biggest.count})",
                f"ask for at most {biggest.count}, accept another accelerator model, or split the job")
    if not math.isfinite(r.data_size_gb) or r.data_size_gb < 0 or r.data_size_gb > MAX_DATA_GB:
        raise RequestError("data_size_gb", f"{r.data_size_gb!r} is out of range", f"give 0 to {MAX_DATA_GB:g} GB")
    if r.deadline is not None:
        if (r.deadline.tzinfo is None) != (now.tzinfo is None):
            raise RequestError("deadline", "mixes a time zone-aware and a naive time",
                               "give the deadline with the same time zone convention as the platform clock")
        if r.deadline <= now:
            raise RequestError("deadline", f"{r.deadline.isoformat()} is in the past", "give a future deadline")
        if now + r.duration > r.deadline:
            raise RequestError("deadline", f"the job needs {r.estimated_hours:g} h but the deadline is "
                               f"{(r.deadline - now).total_seconds() / 3600:.1f} h away",
                               "move the deadline or shorten the job")
    if r.budget_cap is not None and r.budget_cap <= 0:
        raise RequestError("budget_cap", f"must be positive, got {r.budget_cap}", "give a budget in yuan, or none")
    try:
        workload = Workload(r.workload)
        preference = Preference(r.preference)
        grade = DataGrade(r.data_grade)
    except ValueError as exc:
        raise RequestError("workload/preference/data_grade", str(exc),
                           "use training|inference, cheapest|soonest|greenest, general|important|core") from None
    return JobRequest(
        accelerators=r.accelerators, accelerator_models=tuple(models), estimated_hours=float(r.estimated_hours),
        data_region=region, nodes=r.nodes, deadline=r.deadline, data_may_leave=r.data_may_leave,
        data_grade=grade, data_size_gb=float(r.data_size_gb), workload=workload, budget_cap=r.budget_cap,
        preference=preference, min_memory_gb=r.min_memory_gb,
    )
