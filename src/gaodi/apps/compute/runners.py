"""The backends that run the platform's jobs, configured from settings and the pools, and kept per process.

- `local` (the embedded default): subprocesses under GAODI_COMPUTE_JOB_ROOT (default ./var/compute-jobs);
- `slurm` and `ray`: options from GAODI_COMPUTE_BACKENDS, e.g. {"slurm": {"partition": "gpu"}}.

A pool may add its own options (`Pool.backend_options`, set by its provider): for Slurm the partition,
account and gres its jobs go to, for the local backend how many accelerators the machine offers. Only the
keys in POOL_OPTIONS are accepted: paths, addresses and the like stay with the operator's settings.

Backends are cached per kind and options, so the local backend reaps the supervisors it started.
"""

from __future__ import annotations

import math
import re
import secrets

from django.conf import settings
from django.utils.translation import gettext as _

from gaodi.engines.compute.backends import (
    Backend,
    BackendDependencyMissing,
    BackendUnavailable,
    JobSpec,
    get_backend,
)
from gaodi.engines.compute.backends.base import MAX_ACCELERATORS, MAX_TIME_LIMIT_S

_CACHE: dict[tuple[str, str], Backend] = {}
# A job is stopped at its estimate × this factor (users' estimates are optimistic; backfill still uses them).
TIME_LIMIT_FACTOR = 1.25

_SLURM_WORD = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# What a provider may set per pool, by backend kind: option -> kind of value. Slurm's gres=none: the
# cluster does not schedule accelerators as generic resources (jobs ask for none; bills count the request).
POOL_OPTIONS: dict[str, dict[str, str]] = {
    "local": {"accelerators": "int"},
    "slurm": {"partition": "word", "account": "word", "gres": "word"},
    "ray": {},
}


class BackendUnusable(BackendUnavailable):
    """The pool's backend cannot be built here (its optional package is missing, or its options are wrong).
    Unlike an outage, waiting will not help: the job goes to the next feasible pool."""


def clean_pool_options(kind: str, options: dict) -> dict:
    """The pool's backend options, checked: raises ValueError naming the first bad option and the fix."""
    allowed = POOL_OPTIONS.get(kind, {})
    out: dict = {}
    for key, value in (options or {}).items():
        if key not in allowed:
            names = "、".join(sorted(allowed)) or _("无")
            raise ValueError(_("“%(key)s”不是%(kind)s后端的资源池参数；可用的参数：%(names)s。")
                             % {"key": key, "kind": kind, "names": names})
        if allowed[key] == "int":
            try:
                number = int(str(value).strip())
            except ValueError:
                raise ValueError(_("%(key)s 须为整数，如 8。") % {"key": key}) from None
            if not 0 <= number <= MAX_ACCELERATORS:
                raise ValueError(_("%(key)s 须在 0 至 %(max)d 之间。") % {"key": key, "max": MAX_ACCELERATORS})
            out[key] = number
        else:
            text = str(value).strip()
            if not _SLURM_WORD.fullmatch(text):
                raise ValueError(_("%(key)s 只能由字母、数字和 _ . : - 组成，至多 64 个字符。") % {"key": key})
            out[key] = text
    return out


def backend_options(kind: str, pool_options: dict | None = None) -> dict:
    configured = dict(getattr(settings, "GAODI_COMPUTE_BACKENDS", {}).get(kind, {}))
    if kind == "local":
        root = getattr(settings, "GAODI_COMPUTE_JOB_ROOT", None) or (settings.VAR_DIR / "compute-jobs")
        configured.setdefault("root", str(root))
    elif kind == "slurm":
        # Each job gets a directory here; on a multi-node cluster it must be a path shared with the nodes.
        configured.setdefault("work_root", str(settings.VAR_DIR / "compute-jobs-slurm"))
    allowed = POOL_OPTIONS.get(kind, {})
    configured.update({k: v for k, v in (pool_options or {}).items() if k in allowed})
    if kind == "slurm" and str(configured.get("gres", "")).lower() == "none":
        configured["gres"] = ""  # the cluster does not schedule accelerators as generic resources
    return configured


def backend_for(kind: str, pool_options: dict | None = None) -> Backend:
    """The backend for a pool's kind (and the pool's own options). Raises BackendUnusable when it cannot be
    built here (a missing optional package, options it does not take)."""
    options = backend_options(kind, pool_options)
    key = (kind, repr(sorted(options.items())))
    backend = _CACHE.get(key)
    if backend is None:
        try:
            backend = get_backend(kind, **options)
        except BackendDependencyMissing as exc:
            raise BackendUnusable(f"{kind} backend is not installed here: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise BackendUnusable(f"{kind} backend cannot be configured with {sorted(options)}: {exc}") from exc
        _CACHE[key] = backend
    return backend


def backend_for_pool(pool) -> Backend:
    return backend_for(pool.backend, pool.backend_options)


def time_limit_s(estimated_hours) -> int:
    return min(MAX_TIME_LIMIT_S, max(60, math.ceil(float(estimated_hours) * 3600 * TIME_LIMIT_FACTOR)))


def new_backend_name(job) -> str:
    """A name for the job on its next pool: unique (a random part), so a lost submission can be found."""
    return f"gaodi-job-{job.pk}-{secrets.token_hex(4)}"


def job_spec(job) -> JobSpec:
    """The backend's spec of a platform job. Raises JobSpecError (a ValueError) for a spec no backend takes."""
    from .forms import max_script_bytes

    env = {"DATA_LOCATION": job.data_location or "", "DATA_REGION": job.data_region}
    return JobSpec(
        name=job.backend_name or f"gaodi-job-{job.pk}",
        script=job.script,
        accelerators=job.accelerators,
        cpus=1,
        memory_mb=1024,
        time_limit_s=time_limit_s(job.estimated_hours),
        env=env,
        max_script_bytes=max_script_bytes(),
    )
