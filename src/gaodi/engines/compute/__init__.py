"""The public compute platform's engine (Art. 12-13): catalog, requests, placement, queue policies,
compute vouchers and the scheduling simulator. Pure Python: no Django; backends live in ``.backends``.

See docs/compute.md for the design and docs/benchmarks.md for the simulator's figures.
"""

from gaodi.engines.compute.catalog import Catalog, Hub, Pool, Provider, Site, load_catalog, parse_catalog
from gaodi.engines.compute.errors import (
    CatalogError,
    ComputeInputError,
    NoFeasiblePool,
    RequestError,
    SubsidyError,
    TraceError,
)
from gaodi.engines.compute.placement import Availability, CostBreakdown, Option, Placement, failover, place
from gaodi.engines.compute.policies import (
    POLICIES,
    ClusterState,
    FifoPolicy,
    PlatformPolicy,
    QueuePolicy,
    SlurmPolicy,
    make_policy,
)
from gaodi.engines.compute.request import DataGrade, JobRequest, Preference, Workload, validate_request
from gaodi.engines.compute.simulator import Billing, Metrics, SimResult, illustrative_billing, jain, simulate
from gaodi.engines.compute.subsidies import (
    Eligibility,
    Enterprise,
    Level,
    Quote,
    StackingRules,
    SubsidyLedger,
    SubsidyLine,
    SubsidyProgram,
    quote,
    redeem,
)
from gaodi.engines.compute.trace import Trace, load_trace, make_workload, parse_trace, size_capacity

__all__ = [
    "POLICIES",
    "Availability",
    "Billing",
    "Catalog",
    "CatalogError",
    "ClusterState",
    "ComputeInputError",
    "CostBreakdown",
    "DataGrade",
    "Eligibility",
    "Enterprise",
    "FifoPolicy",
    "Hub",
    "JobRequest",
    "Level",
    "Metrics",
    "NoFeasiblePool",
    "Option",
    "Placement",
    "PlatformPolicy",
    "Pool",
    "Preference",
    "Provider",
    "QueuePolicy",
    "Quote",
    "RequestError",
    "SimResult",
    "Site",
    "SlurmPolicy",
    "StackingRules",
    "SubsidyError",
    "SubsidyLedger",
    "SubsidyLine",
    "SubsidyProgram",
    "Trace",
    "TraceError",
    "Workload",
    "failover",
    "illustrative_billing",
    "jain",
    "load_catalog",
    "load_trace",
    "make_policy",
    "make_workload",
    "parse_catalog",
    "parse_trace",
    "place",
    "quote",
    "redeem",
    "simulate",
    "size_capacity",
    "validate_request",
]
