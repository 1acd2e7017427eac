"""The backends that run the platform's jobs, configured from settings and kept per process.

- `local` (the embedded default): subprocesses under GAODI_COMPUTE_JOB_ROOT (default ./var/compute-jobs);
- `slurm` and `ray`: options from GAODI_COMPUTE_BACKENDS, e.g. {"slurm": {"partition": "gpu"}}.

Backends are cached per kind and options, so the local backend reaps the supervisors it started.
"""

from __future__ import annotations

import math

from django.conf import settings

from gaodi.engines.compute.backends import (
    Backend,
    BackendDependencyMissing,
    BackendUnavailable,
    JobSpec,
    get_backend,
)
from gaodi.engines.compute.backends.base import MAX_TIME_LIMIT_S

_CACHE: dict[tuple[str, str], Backend] = {}
# A job is stopped at its estimate × this factor (users' estimates are optimistic; backfill still uses them).
TIME_LIMIT_FACTOR = 1.25


def backend_options(kind: str) -> dict:
    configured = dict(getattr(settings, "GAODI_COMPUTE_BACKENDS", {}).get(kind, {}))
    if kind == "local":
        root = getattr(settings, "GAODI_COMPUTE_JOB_ROOT", None) or (settings.VAR_DIR / "compute-jobs")
        configured.setdefault("root", str(root))
    elif kind == "slurm":
        # Each job gets a directory here; on a multi-node cluster it must be a path shared with the nodes.
        configured.setdefault("work_root", str(settings.VAR_DIR / "compute-jobs-slurm"))
    return configured


def backend_for(kind: str) -> Backend:
    """The backend for a pool's kind. Raises BackendUnavailable when it cannot even be built (a missing
    optional package): the job then stays queued, as for any other outage."""
    options = backend_options(kind)
    key = (kind, repr(sorted(options.items())))
    backend = _CACHE.get(key)
    if backend is None:
        try:
            backend = get_backend(kind, **options)
        except BackendDependencyMissing as exc:
            raise BackendUnavailable(f"{kind} backend is not installed here: {exc}") from exc
        _CACHE[key] = backend
    return backend


def time_limit_s(estimated_hours) -> int:
    return min(MAX_TIME_LIMIT_S, max(60, math.ceil(float(estimated_hours) * 3600 * TIME_LIMIT_FACTOR)))



def job_spec(job) -> JobSpec:
    """The backend's spec of a platform job. Raises JobSpecError (a ValueError) for a spec no backend takes."""
    from .forms import max_script_bytes

    env = {"DATA_LOCATION": job.data_location or "", "DATA_REGION": job.data_region}
    return JobSpec(
        name=f"gaodi-job-{job.pk}",
        script=job.script,
        accelerators=job.accelerators,
        cpus=1,
        memory_mb=1024,
        time_limit_s=time_limit_s(job.estimated_hours),
        env=env,
        max_script_bytes=max_script_bytes(),
    )
