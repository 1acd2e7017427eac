"""The Ray backend: jobs through the Ray Jobs API (`ray.job_submission.JobSubmissionClient`).

Ray is an optional extra (`pip install 'gaodi[ray]'`) and is imported only when a RayBackend is
built. The job's script runs as `bash -c SCRIPT` in the entrypoint, under coreutils' `timeout` for
the time limit; CPUs, accelerators (GPUs) and memory are reserved for the entrypoint. Ray keeps no
accounting beyond the job's start and end, so usage is allocated resources times elapsed time.
"""

from __future__ import annotations

import importlib
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from gaodi.engines.compute.backends.base import (
    Backend,
    BackendDependencyMissing,
    BackendError,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobState,
    JobStatus,
    Usage,
    tail_text,
)

INSTALL_HINT = "the ray backend needs Ray: pip install 'gaodi[ray]'"
TIMEOUT_EXIT = 124  # coreutils timeout's exit status when the limit was reached
KILL_AFTER_S = 10

RAY_STATES: dict[str, JobState] = {
    "PENDING": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "STOPPED": JobState.CANCELLED,
}


class RayJobClient(Protocol):
    """The part of `JobSubmissionClient` this backend uses."""

    def submit_job(self, **kwargs: Any) -> str: ...

    def get_job_info(self, job_id: str) -> Any: ...

    def stop_job(self, job_id: str) -> bool: ...

    def get_job_logs(self, job_id: str) -> str: ...

    def list_jobs(self) -> list[Any]: ...


def _load_client_class() -> Callable[..., RayJobClient]:
    try:
        module = importlib.import_module("ray.job_submission")
    except ImportError as exc:
        raise BackendDependencyMissing(INSTALL_HINT) from exc
    cls: Callable[..., RayJobClient] = module.JobSubmissionClient
    return cls


def _is_not_found(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "404" in text or "does not exist" in text or "not found" in text


def _ms_to_dt(value: Any) -> datetime | None:
    if value is None or value == 0:
        return None
    return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)


def _state_name(status: object) -> str:
    value = getattr(status, "value", status)
    return str(value).upper().rsplit(".", 1)[-1]


def build_entrypoint(spec: JobSpec) -> str:
    """The shell command Ray runs for `spec`: cd to the working dir, run bash under the time limit."""
    run = (
        f"exec timeout --signal=TERM --kill-after={KILL_AFTER_S} {spec.time_limit_s} "
        f"bash -c {shlex.quote(spec.script)}"
    )
    if spec.working_dir:
        wd = shlex.quote(spec.working_dir)
        return f"mkdir -p {wd} && cd {wd} && {run}"
    return run


class RayBackend(Backend):
    """Submit to a Ray cluster's job server, e.g. `RayBackend("http://127.0.0.1:8265")`.

    Raises BackendDependencyMissing at construction when Ray is not installed. `client` replaces
    the JobSubmissionClient (for tests without Ray); `client_kwargs` go to its constructor.
    """

    kind = "ray"

    def __init__(
        self,
        address: str = "http://127.0.0.1:8265",
        *,
        client: RayJobClient | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        self._client = client
        self._client_kwargs = client_kwargs or {}
        self._client_class = _load_client_class() if client is None else None

    def _get_client(self) -> RayJobClient:
        if self._client is None:
            assert self._client_class is not None
            try:
                self._client = self._client_class(self.address, **self._client_kwargs)
            except (OSError, RuntimeError) as exc:  # ConnectionError and friends are OSErrors
                raise BackendUnavailable(f"cannot reach the Ray job server at {self.address}: {exc}") from exc
        return self._client

    def _call(self, what: str, fn: Callable[[RayJobClient], Any], job_id: str | None = None) -> Any:
        client = self._get_client()
        try:
            return fn(client)
        except OSError as exc:  # requests' errors are OSErrors too
            raise BackendUnavailable(
                f"Ray job server at {self.address} did not answer ({what}): {exc}"
            ) from exc
        except RuntimeError as exc:
            if job_id is not None and _is_not_found(exc):
                raise JobNotFound(f"Ray knows no job {job_id}") from exc
            text = str(exc)
            if any(f"status code {c}" in text for c in ("500", "502", "503", "504")):
                raise BackendUnavailable(f"Ray job server error ({what}): {text}") from exc
            raise BackendError(f"Ray job server refused {what}: {text}") from exc

    def submit(self, spec: JobSpec) -> str:
        env = {
            **spec.env,
            "GAODI_JOB_NAME": spec.name,
            "GAODI_CPUS": str(spec.cpus),
            "GAODI_MEMORY_MB": str(spec.memory_mb),
            "GAODI_ACCELERATORS": str(spec.accelerators),
        }
        kwargs: dict[str, Any] = {
            "entrypoint": build_entrypoint(spec),
            "runtime_env": {"env_vars": env},
            # JobDetails does not echo the entrypoint's reservation back: keep it for usage().
            "metadata": {
                "gaodi_job_name": spec.name,
                "time_limit_s": str(spec.time_limit_s),
                "cpus": str(spec.cpus),
                "accelerators": str(spec.accelerators),
            },
            "entrypoint_num_cpus": spec.cpus,
            "entrypoint_memory": spec.memory_mb * 1024 * 1024,
        }
        if spec.accelerators:
            kwargs["entrypoint_num_gpus"] = spec.accelerators
        try:
            job_id = self._call("submit", lambda c: c.submit_job(**kwargs))
        except BackendError as exc:
            if isinstance(exc, BackendUnavailable):
                raise
            raise JobRejected(str(exc)) from exc
        return str(job_id)

    def _info(self, job_id: str) -> Any:
        return self._call("get_job_info", lambda c: c.get_job_info(job_id), job_id)

    def status(self, job_id: str) -> JobStatus:
        try:
            info = self._info(job_id)
        except JobNotFound as exc:
            return JobStatus(JobState.UNKNOWN, None, str(exc))
        name = _state_name(info.status)
        state = RAY_STATES.get(name, JobState.UNKNOWN)
        exit_code = getattr(info, "driver_exit_code", None)
        message = str(getattr(info, "message", "") or "")
        reason = "" if state is JobState.COMPLETED else message
        backend_state = name
        if state is JobState.FAILED and exit_code == TIMEOUT_EXIT:
            meta = getattr(info, "metadata", None) or {}
            limit = meta.get("time_limit_s", "?")
            reason, backend_state = f"time limit of {limit} s reached", "TIMEOUT"
        elif state is JobState.CANCELLED:
            reason = "cancelled by request"
        return JobStatus(state, exit_code, reason, backend_state)

    def cancel(self, job_id: str) -> None:
        info = self._info(job_id)
        if RAY_STATES.get(_state_name(info.status), JobState.UNKNOWN).is_terminal:
            return
        self._call("stop_job", lambda c: c.stop_job(job_id), job_id)

    def logs(self, job_id: str, tail_bytes: int = 64 * 1024) -> str:
        text = self._call("get_job_logs", lambda c: c.get_job_logs(job_id), job_id)
        return tail_text(str(text).encode("utf-8"), tail_bytes)

    def usage(self, job_id: str) -> Usage:
        info = self._info(job_id)
        start = getattr(info, "start_time", None)
        end = getattr(info, "end_time", None)
        state = RAY_STATES.get(_state_name(info.status), JobState.UNKNOWN)
        # Ray sets start_time at submission; before the entrypoint runs nothing is used.
        if start is None or state is JobState.PENDING:
            elapsed = 0.0
        else:
            stop = float(end) if end is not None else time.time() * 1000.0
            elapsed = max(0.0, (stop - float(start)) / 1000.0)
        meta = getattr(info, "metadata", None) or {}
        cpus = int(getattr(info, "entrypoint_num_cpus", None) or meta.get("cpus") or 0)
        accelerators = int(getattr(info, "entrypoint_num_gpus", None) or meta.get("accelerators") or 0)
        return Usage(
            start=_ms_to_dt(start),
            end=_ms_to_dt(end),
            elapsed_s=elapsed,
            accelerators=accelerators,
            cpus=cpus,
            accelerator_seconds=accelerators * elapsed,
            cpu_seconds=cpus * elapsed,
            cpu_time_used_s=None,
            source="ray job server (start/end times, entrypoint reservation)",
        )

    def find(self, name: str) -> list[str]:
        """Jobs whose metadata names them `name` (set at submission), oldest first."""
        jobs = self._call("list_jobs", lambda c: c.list_jobs())
        found = []
        for info in jobs:
            meta = getattr(info, "metadata", None) or {}
            if meta.get("gaodi_job_name") == name:
                job_id = getattr(info, "submission_id", None) or getattr(info, "job_id", None)
                if job_id:
                    found.append((getattr(info, "start_time", None) or 0, str(job_id)))
        return [job_id for _start, job_id in sorted(found)]

    def ping(self) -> bool:
        try:
            self._call("list_jobs", lambda c: c.list_jobs())
        except BackendError:
            return False
        return True
