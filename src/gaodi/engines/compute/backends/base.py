"""The interface every compute backend implements, and the reconciliation after a restart.

A backend runs batch jobs somewhere (a local subprocess, a Slurm cluster, a Ray cluster) and answers
six questions: submit, status, cancel, logs, usage and ping. Everything here is plain data.

Two kinds of failure are kept apart, because callers treat them differently:

- `BackendUnavailable`: the backend could not be asked (controller down, timeout, connection
  refused). Nothing is known about the job; the caller keeps it queued and asks again later.
  Never record a job as failed because of this exception.
- `JobRejected` / `JobSpecError`: the backend (or the spec's own validation) refuses this job for
  good; retrying the same spec will not help.

A submission whose answer was lost (`BackendUnavailable.maybe_submitted`) may have gone through: look
the job's unique name up (`Backend.find`, `submit_once`) before submitting it again.

A job that ran and failed is neither: it is a `JobStatus` with state FAILED.
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Limits of a job spec. The script is the job's batch script, not its code: large code belongs
# in files under the working directory.
MAX_SCRIPT_BYTES = 64 * 1024
MAX_NAME_CHARS = 128
MAX_ACCELERATORS = 1024
MAX_CPUS = 4096
MAX_MEMORY_MB = 16 * 1024 * 1024  # 16 TiB
MAX_TIME_LIMIT_S = 366 * 24 * 3600
MAX_ENV_VARS = 256
MAX_ENV_VALUE_BYTES = 32 * 1024

ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Prefixes the backends set themselves; a job may not override them.
RESERVED_ENV_PREFIXES = ("GAODI_", "SLURM_", "RAY_")
_CONTROL_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")


class JobState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobStatus:
    """What the backend says about a job now.

    `exit_code` is the script's exit status when it exited (128 + N when killed by signal N), else
    None. `reason` says why in plain words (a time limit, a cancellation, a lost job).
    `backend_state` is the backend's own word for the state (Slurm's TIMEOUT, OUT_OF_MEMORY, ...).
    """

    state: JobState
    exit_code: int | None = None
    reason: str = ""
    backend_state: str = ""


@dataclass(frozen=True)
class Usage:
    """What a job used, from the backend's own accounting.

    Accelerator- and CPU-seconds are *allocated* resources times elapsed time: what the job held,
    which is what a bill charges. `cpu_time_used_s` is the CPU time the processes actually
    consumed (user + system) where the backend measures it, else None. `complete` is False while the
    backend's accounting has not yet recorded the end of a job (ask again before billing it).
    """

    start: datetime | None
    end: datetime | None
    elapsed_s: float
    accelerators: int
    cpus: int
    accelerator_seconds: float
    cpu_seconds: float
    cpu_time_used_s: float | None = None
    source: str = ""
    # False while the backend's accounting has not recorded the job's end (Slurm's slurmdbd lags the
    # controller by a moment, or is away): a caller billing a finished job asks again later.
    complete: bool = True


class BackendError(Exception):
    """Base class of the errors a backend raises."""


class BackendUnavailable(BackendError):
    """The backend could not be reached or did not answer; the job's fate is not known.

    Keep the job queued and retry. `maybe_submitted` is True when a submission timed out after it
    was sent: the job may exist on the backend, so look it up (or reconcile) before resubmitting.
    """

    def __init__(self, message: str, *, maybe_submitted: bool = False) -> None:
        super().__init__(message)
        self.maybe_submitted = maybe_submitted


class BackendDependencyMissing(BackendError, ImportError):
    """An optional package a backend needs is not installed."""


class JobNotFound(BackendError, LookupError):
    """The backend knows no job with this id."""


class JobSpecError(BackendError, ValueError):
    """A job spec is invalid; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class JobRejected(BackendError, ValueError):
    """The backend refused this job for good (e.g. it asks for resources the backend lacks)."""


@dataclass(frozen=True)
class JobSpec:
    """A batch job: a bash script and the resources it asks for.

    `time_limit_s` is enforced by every backend (Slurm rounds it up to whole minutes).
    `working_dir` is an absolute path on the machine that runs the job; None lets the backend pick
    one. `env` adds environment variables to the job's environment.
    """

    name: str
    script: str
    accelerators: int = 0
    cpus: int = 1
    memory_mb: int = 1024
    time_limit_s: int = 3600
    working_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    max_script_bytes: int = MAX_SCRIPT_BYTES

    def __post_init__(self) -> None:
        validate_spec(self)

    @property
    def script_bytes(self) -> bytes:
        return self.script.encode("utf-8")


def _check_int(name: str, value: object, low: int, high: int, hint: str = "") -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise JobSpecError(name, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise JobSpecError(name, f"{value} is out of range; expected {low} to {high}{hint}")


def validate_spec(spec: JobSpec) -> None:
    """Raise JobSpecError naming the first invalid field and how to fix it."""
    if not isinstance(spec.name, str) or not spec.name.strip():
        raise JobSpecError("name", "must not be empty")
    if len(spec.name) > MAX_NAME_CHARS:
        raise JobSpecError("name", f"{len(spec.name)} characters is over the limit of {MAX_NAME_CHARS}")
    if _CONTROL_CHARS_RE.search(spec.name):
        raise JobSpecError("name", "must not contain control characters such as newlines or tabs")
    if not isinstance(spec.script, str) or not spec.script.strip():
        raise JobSpecError("script", "must not be empty")
    if "\x00" in spec.script:
        raise JobSpecError("script", "must not contain NUL characters")
    size = len(spec.script_bytes)
    if size > spec.max_script_bytes:
        raise JobSpecError(
            "script",
            f"{size:,} bytes is over the limit of {spec.max_script_bytes:,} bytes; put large code in "
            "files under the working directory and call them from the script",
        )
    _check_int("accelerators", spec.accelerators, 0, MAX_ACCELERATORS)
    _check_int("cpus", spec.cpus, 1, MAX_CPUS)
    _check_int("memory_mb", spec.memory_mb, 1, MAX_MEMORY_MB, " (megabytes)")
    _check_int("time_limit_s", spec.time_limit_s, 1, MAX_TIME_LIMIT_S, " (seconds)")
    if spec.working_dir is not None:
        if not isinstance(spec.working_dir, str) or not spec.working_dir.startswith("/"):
            raise JobSpecError("working_dir", f"must be an absolute path, got {spec.working_dir!r}")
        if "\x00" in spec.working_dir or "\n" in spec.working_dir:
            raise JobSpecError("working_dir", "must not contain NUL or newline characters")
    if not isinstance(spec.env, Mapping):
        raise JobSpecError("env", "must be a mapping of variable names to values")
    if len(spec.env) > MAX_ENV_VARS:
        raise JobSpecError("env", f"{len(spec.env)} variables is over the limit of {MAX_ENV_VARS}")
    for key, value in spec.env.items():
        if not isinstance(key, str) or not ENV_NAME_RE.fullmatch(key):
            raise JobSpecError(
                "env",
                f"{key!r} is not a valid variable name; use letters, digits and underscores, "
                "not starting with a digit",
            )
        if key.upper().startswith(RESERVED_ENV_PREFIXES):
            raise JobSpecError(
                "env", f"{key!r} uses a reserved prefix ({', '.join(RESERVED_ENV_PREFIXES)}); rename it"
            )
        if not isinstance(value, str):
            raise JobSpecError("env", f"the value of {key} must be text, got {type(value).__name__}")
        if "\x00" in value:
            raise JobSpecError("env", f"the value of {key} must not contain NUL characters")
        if len(value.encode("utf-8")) > MAX_ENV_VALUE_BYTES:
            raise JobSpecError("env", f"the value of {key} is over {MAX_ENV_VALUE_BYTES:,} bytes")


class Backend(abc.ABC):
    """A place that runs batch jobs. Implementations: local, slurm, ray.

    Every method may raise BackendUnavailable. `status` of a job the backend does not know
    returns state UNKNOWN; `cancel`, `logs` and `usage` raise JobNotFound. `cancel` of a finished
    job does nothing.
    """

    kind: str = ""

    @abc.abstractmethod
    def submit(self, spec: JobSpec) -> str:
        """Start or queue the job; return the backend's job id."""

    @abc.abstractmethod
    def status(self, job_id: str) -> JobStatus:
        """The job's state now."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> None:
        """Stop the job (queued or running)."""

    @abc.abstractmethod
    def logs(self, job_id: str, tail_bytes: int = 64 * 1024) -> str:
        """The last `tail_bytes` of the job's combined stdout and stderr."""

    @abc.abstractmethod
    def usage(self, job_id: str) -> Usage:
        """Start, end and resources used, from the backend's accounting."""

    @abc.abstractmethod
    def ping(self) -> bool:
        """True when the backend answers now."""

    def find(self, name: str) -> list[str]:
        """Ids of the jobs this backend holds that were submitted under `name`, oldest first.

        Used after a submission whose answer was lost (`BackendUnavailable.maybe_submitted`): a job
        name the platform made unique tells whether the job went through, so it is never submitted
        twice. Raises BackendUnavailable when the backend cannot say; BackendError when this backend
        cannot look jobs up by name.
        """
        raise BackendError(f"the {self.kind or 'this'} backend cannot look jobs up by name")

    def wait(self, job_id: str, timeout_s: float, poll_s: float = 0.5) -> JobStatus:
        """Poll `status` until the job ends or `timeout_s` passes; return the last status."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.status(job_id)
            if st.state.is_terminal or time.monotonic() >= deadline:
                return st
            time.sleep(poll_s)


def submit_once(backend: Backend, spec: JobSpec, *, look_first: bool) -> tuple[str, bool]:
    """Submit `spec` unless the backend already holds a job of that name: (job id, adopted).

    `look_first`: an earlier submission of this spec may have gone through (its answer was lost, or
    the process stopped before recording it), so look the name up first and adopt the job found.
    The name must be unique to this submission (the platform adds a random part). Raises what `find`
    and `submit` raise; when the look-up cannot be done, nothing is submitted.
    """
    if look_first:
        found = backend.find(spec.name)
        if found:
            return found[0], True
    return backend.submit(spec), False


LOST_REASON = "lost by backend"


@dataclass(frozen=True)
class StatusChange:
    """A correction that reconciliation found: the platform believed `before`, the backend says `after`."""

    job_id: str
    before: JobState
    after: JobStatus


def reconcile(known_jobs: Mapping[str, JobState | JobStatus], backend: Backend) -> list[StatusChange]:
    """Ask the backend for the real state of every job the platform believes is not finished.

    Run after the platform restarts (and periodically). Returns one change per job whose state
    differs: jobs that finished, failed or were cancelled while the platform was away, and jobs
    the backend no longer knows, which become FAILED with reason "lost by backend" - but only once
    the backend has confirmed, by answering a ping, that it is up. Jobs already in a terminal state
    are not asked about.

    Raises BackendUnavailable when the backend is down: nothing is changed then, and the caller
    runs reconciliation again later (it is idempotent).
    """
    if not backend.ping():
        raise BackendUnavailable(f"{backend.kind or 'the'} backend does not answer; reconcile again later")
    changes: list[StatusChange] = []
    for job_id, known in known_jobs.items():
        before = known.state if isinstance(known, JobStatus) else JobState(known)
        if before.is_terminal:
            continue
        now = backend.status(job_id)
        if now.state is JobState.UNKNOWN:
            # "I don't know this job" only counts as lost when the backend is demonstrably up:
            # a backend half-way through a restart may not have recovered its jobs yet.
            if not backend.ping():
                raise BackendUnavailable(
                    f"{backend.kind or 'the'} backend went away while reconciling; reconcile again later"
                )
            detail = f" ({now.reason})" if now.reason else ""
            now = JobStatus(JobState.FAILED, None, LOST_REASON + detail, now.backend_state or "LOST")
        if now.state is not before:
            changes.append(StatusChange(job_id, before, now))
    return changes


def tail_text(data: bytes, tail_bytes: int) -> str:
    """Decode the last `tail_bytes` of `data` as UTF-8, dropping a character cut at the start."""
    if tail_bytes < 0:
        raise ValueError(f"tail_bytes must be 0 or more, got {tail_bytes}")
    cut = len(data) > tail_bytes
    chunk = data[len(data) - tail_bytes :] if cut else data
    if cut:
        # Skip UTF-8 continuation bytes of a character whose start was cut off.
        skip = 0
        while skip < min(3, len(chunk)) and (chunk[skip] & 0xC0) == 0x80:
            skip += 1
        chunk = chunk[skip:]
    return chunk.decode("utf-8", errors="replace")
