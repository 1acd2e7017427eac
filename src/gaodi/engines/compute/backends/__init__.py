"""Compute backends: where the platform's batch jobs actually run.

One interface (`Backend`: submit, status, cancel, logs, usage, ping, find) and three implementations:

- `local`: subprocesses on this machine, the embedded default (`LocalBackend`);
- `slurm`: a Slurm cluster through sbatch, squeue, scancel and sacct (`SlurmBackend`);
- `ray`: a Ray cluster through the Ray Jobs API, an optional extra (`RayBackend`).

`reconcile` repairs the platform's view of its jobs after a restart. See docs/compute-backends.md.
"""

from __future__ import annotations

from typing import Any

from gaodi.engines.compute.backends.base import (
    LOST_REASON,
    MAX_SCRIPT_BYTES,
    Backend,
    BackendDependencyMissing,
    BackendError,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    StatusChange,
    Usage,
    reconcile,
    submit_once,
)

KINDS = ("local", "slurm", "ray")


def get_backend(kind: str, **options: Any) -> Backend:
    """Build a backend by its kind ("local", "slurm" or "ray") with its constructor's options."""
    if kind == "local":
        from gaodi.engines.compute.backends.local import LocalBackend

        return LocalBackend(**options)
    if kind == "slurm":
        from gaodi.engines.compute.backends.slurm import SlurmBackend

        return SlurmBackend(**options)
    if kind == "ray":
        from gaodi.engines.compute.backends.ray_jobs import RayBackend

        return RayBackend(**options)
    raise ValueError(f"unknown compute backend {kind!r}; expected one of {', '.join(KINDS)}")


__all__ = [
    "KINDS",
    "LOST_REASON",
    "MAX_SCRIPT_BYTES",
    "Backend",
    "BackendDependencyMissing",
    "BackendError",
    "BackendUnavailable",
    "JobNotFound",
    "JobRejected",
    "JobSpec",
    "JobSpecError",
    "JobState",
    "JobStatus",
    "StatusChange",
    "Usage",
    "get_backend",
    "reconcile",
    "submit_once",
]
