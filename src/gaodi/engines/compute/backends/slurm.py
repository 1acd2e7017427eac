"""The Slurm backend: sbatch, squeue, scancel and sacct against a real cluster.

Commands run as subprocesses with timeouts and a clean environment (the platform's own variables
never reach a job), and their machine-readable output is parsed (`--parsable`, `--noheader`,
`-o` formats, `--parsable2`, times as epoch seconds through SLURM_TIME_FORMAT=%s).

- Live state comes from the controller (squeue). Final state, exit code and usage come from
  Slurm's accounting (sacct with slurmdbd), which keeps jobs after the controller forgets them.
- A controller or database that cannot be reached (connection refused, timeout, munge failure)
  raises BackendUnavailable - never a job failure. A job is reported UNKNOWN only when the
  controller *and* the accounting database both answered and neither knows it.
- The job's `#SBATCH` lines are not read: resources come only from the JobSpec (the batch script
  starts with a command line, after which sbatch stops reading directives).
- A submission whose answer was lost (sbatch timed out, or the connection dropped after sending) is
  looked up by the job's unique name (`find`: squeue and sacct) before anything is submitted again.
- Logs are read from the job's output file, so the platform must see the cluster's filesystem
  where the working directory (or `log_dir`) lives; on a single node it does.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gaodi.engines.compute.backends.base import (
    Backend,
    BackendError,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobSpecError,
    JobState,
    JobStatus,
    Usage,
    tail_text,
)

# (returncode, stdout, stderr) of a command given its argv, its stdin and a timeout.
Runner = Callable[[Sequence[str], str | None, float], tuple[int, str, str]]

JOB_ID_RE = re.compile(r"[0-9]+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Slurm's job states (squeue %T, sacct State) -> ours, with a plain-words reason.
SLURM_STATES: dict[str, tuple[JobState, str]] = {
    "PENDING": (JobState.PENDING, "waiting in the queue"),
    "CONFIGURING": (JobState.PENDING, "nodes allocated, being configured"),
    "REQUEUED": (JobState.PENDING, "requeued"),
    "REQUEUE_HOLD": (JobState.PENDING, "requeued and held"),
    "REQUEUE_FED": (JobState.PENDING, "requeued by the federation"),
    "RESV_DEL_HOLD": (JobState.PENDING, "held: its reservation was deleted"),
    "RUNNING": (JobState.RUNNING, ""),
    "COMPLETING": (JobState.RUNNING, "completing"),
    "STAGE_OUT": (JobState.RUNNING, "staging out"),
    "SIGNALING": (JobState.RUNNING, "being signalled"),
    "RESIZING": (JobState.RUNNING, "resizing"),
    "SUSPENDED": (JobState.RUNNING, "suspended"),
    "STOPPED": (JobState.RUNNING, "stopped"),
    "COMPLETED": (JobState.COMPLETED, ""),
    "CANCELLED": (JobState.CANCELLED, "cancelled"),
    "REVOKED": (JobState.CANCELLED, "revoked: the job ran on another cluster of the federation"),
    "FAILED": (JobState.FAILED, "the script exited with an error"),
    "TIMEOUT": (JobState.FAILED, "time limit reached"),
    "NODE_FAIL": (JobState.FAILED, "a node failed"),
    "OUT_OF_MEMORY": (JobState.FAILED, "out of memory"),
    "BOOT_FAIL": (JobState.FAILED, "a node failed to boot"),
    "DEADLINE": (JobState.FAILED, "deadline reached before it could run"),
    "PREEMPTED": (JobState.FAILED, "preempted"),
    "SPECIAL_EXIT": (JobState.FAILED, "special exit"),
}

# Messages that mean "could not ask", as opposed to "asked, and the answer is no".
UNAVAILABLE_PATTERNS = (
    "unable to contact slurm controller",
    "backup controller in standby mode",
    "socket timed out",
    "zero bytes were transmitted or received",
    "communication connection failure",
    "connection refused",
    "connection reset",
    "transport endpoint is not connected",
    "no route to host",
    "temporarily unable to accept job",
    "slurm_persist_conn_open",
    "problem talking to the database",
    "unable to connect to database",
    "munge",
    "invalid authentication credential",
    "protocol authentication error",
    "could not establish a configuration source",
    "resource temporarily unavailable",
)

# sbatch failures after which the controller may have queued the job all the same: the request was
# sent, the answer was lost. The job's unique name is looked up before it is submitted again.
AMBIGUOUS_SUBMIT_PATTERNS = (
    "socket timed out",
    "zero bytes were transmitted or received",
    "connection reset",
)
# How far back `find` asks Slurm's accounting for a job name.
FIND_LOOKBACK = "now-30days"

BATCH_PREAMBLE = (
    "#!/bin/bash\n: gaodi batch job  # resources come from the job spec; #SBATCH lines below are not read\n"
)

SACCT_FIELDS = (
    "JobIDRaw",
    "State",
    "ExitCode",
    "Start",
    "End",
    "ElapsedRaw",
    "AllocCPUS",
    "AllocTRES",
    "TotalCPU",
    "WorkDir",
)


def is_unavailable_message(text: str) -> bool:
    low = text.lower()
    return any(p in low for p in UNAVAILABLE_PATTERNS)


def parse_exit_code(value: str) -> int | None:
    """Slurm's "code:signal" -> one shell-style number (128 + signal when killed by a signal)."""
    m = re.fullmatch(r"\s*(\d+):(\d+)\s*", value)
    if not m:
        return None
    code, sig = int(m.group(1)), int(m.group(2))
    return 128 + sig if sig else code


def parse_duration(value: str) -> float | None:
    """Slurm's [D-][HH:]MM:SS[.mmm] -> seconds; None for an empty or unparsable value."""
    value = value.strip()
    if not value:
        return None
    days = 0
    if "-" in value:
        d, value = value.split("-", 1)
        days = int(d)
    parts = value.split(":")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return None
    seconds = 0.0
    for n in nums:
        seconds = seconds * 60 + n
    return days * 86400 + seconds


def parse_time(value: str) -> datetime | None:
    """Epoch seconds (SLURM_TIME_FORMAT=%s) -> aware datetime; "Unknown"/"None"/"" -> None."""
    value = value.strip()
    if not value.isdigit() or int(value) == 0:
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def parse_tres(value: str) -> dict[str, str]:
    """ "billing=1,cpu=2,gres/gpu=1,mem=1G,node=1" -> {"cpu": "2", "gres/gpu": "1", ...}."""
    out: dict[str, str] = {}
    for item in value.split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def map_state(slurm_state: str, exit_code: int | None = None, detail: str = "") -> JobStatus:
    """A Slurm state word (possibly "CANCELLED by 0" or "RUNNING+") -> JobStatus."""
    word = slurm_state.strip().split()[0].rstrip("+") if slurm_state.strip() else ""
    state, reason = SLURM_STATES.get(word, (JobState.UNKNOWN, f"unrecognised Slurm state {slurm_state!r}"))
    if word == "FAILED" and exit_code is not None:
        reason = f"exit code {exit_code}"
    by = slurm_state.split()[2:] if slurm_state.split()[1:2] == ["by"] else []
    if word == "CANCELLED" and by:
        reason = f"cancelled by user id {' '.join(by)}"
    if detail and detail not in ("None", "(null)") and state is JobState.PENDING:
        reason = f"{reason} ({detail})"
    return JobStatus(state, exit_code, reason, word)


@dataclass(frozen=True)
class AccountingRecord:
    job_id: str
    state: str
    exit_code: int | None
    start: datetime | None
    end: datetime | None
    elapsed_s: float
    cpus: int
    tres: dict[str, str]
    total_cpu_s: float | None
    work_dir: str


def _subprocess_runner(env: Mapping[str, str]) -> Runner:
    def run(argv: Sequence[str], stdin: str | None, timeout: float) -> tuple[int, str, str]:
        proc = subprocess.run(  # noqa: S603 - fixed Slurm commands, argv list, no shell
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env),
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    return run


class SlurmBackend(Backend):
    """Submit to and watch a Slurm cluster through its command-line clients.

    `work_root`: where jobs without a working dir get one (a new directory per job); must be on a
    filesystem the cluster's nodes share with the platform. `log_dir`: where output files go
    (default: the job's working dir). `gres`: the generic resource that accelerators map to; empty when the
    cluster does not schedule accelerators as generic resources (whole accelerator nodes, say): jobs then
    ask for none, and usage counts the accelerators the spec asked for.
    `base_env`: variables every job gets; PATH defaults to a standard one. `slurm_conf`: path of a
    slurm.conf other than the default. `runner`: replaces subprocess (for tests of the parsing).
    """

    kind = "slurm"

    def __init__(
        self,
        *,
        work_root: str | os.PathLike[str] | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        partition: str | None = None,
        account: str | None = None,
        gres: str = "gpu",
        command_timeout_s: float = 30.0,
        base_env: Mapping[str, str] | None = None,
        slurm_conf: str | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.work_root = Path(work_root) if work_root is not None else None
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.partition = partition
        self.account = account
        self.gres = gres
        self.command_timeout_s = command_timeout_s
        self.base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **(base_env or {})}
        tool_env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"),
            "LANG": "C",
            "SLURM_TIME_FORMAT": "%s",
        }
        if slurm_conf:
            tool_env["SLURM_CONF"] = slurm_conf
        self._tool_env = tool_env
        self._runner = runner

    # --- running commands --------------------------------------------------------------------

    def _run(
        self, argv: Sequence[str], stdin: str | None = None, env: Mapping[str, str] | None = None
    ) -> tuple[int, str, str]:
        runner = self._runner or _subprocess_runner(env if env is not None else self._tool_env)
        try:
            return runner(argv, stdin, self.command_timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(
                f"{argv[0]} did not answer within {self.command_timeout_s:g} s",
                maybe_submitted=argv[0] == "sbatch",
            ) from exc
        except FileNotFoundError as exc:
            raise BackendUnavailable(f"{argv[0]} not found: install the Slurm client commands") from exc
        except OSError as exc:
            raise BackendUnavailable(f"could not run {argv[0]}: {exc}") from exc

    @staticmethod
    def _unavailable(argv0: str, rc: int, err: str) -> BackendUnavailable:
        return BackendUnavailable(f"{argv0} failed (exit {rc}): {err.strip() or 'no message'}")

    def _check_id(self, job_id: str) -> None:
        if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
            raise JobNotFound(f"{job_id!r} is not a Slurm job id")

    # --- submit ------------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        if spec.working_dir:
            working_dir = Path(spec.working_dir)
        elif self.work_root is not None:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", spec.name).strip("-.")[:40] or "job"
            working_dir = self.work_root / f"{slug}-{secrets.token_hex(4)}"
        else:
            raise JobSpecError(
                "working_dir", "the slurm backend needs one (an absolute path shared with the cluster)"
            )
        try:
            working_dir.mkdir(parents=True, exist_ok=True)
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobSpecError("working_dir", f"cannot create {working_dir}: {exc}") from exc
        output = (self.log_dir or working_dir) / "slurm-%j.out"
        argv = [
            "sbatch",
            "--parsable",
            f"--job-name={spec.name}",
            f"--chdir={working_dir}",
            f"--output={output}",
            "--nodes=1",
            "--ntasks=1",
            f"--cpus-per-task={spec.cpus}",
            f"--mem={spec.memory_mb}M",
            f"--time={max(1, math.ceil(spec.time_limit_s / 60))}",
            "--export=ALL",
        ]
        if spec.accelerators and self.gres:
            argv.append(f"--gres={self.gres}:{spec.accelerators}")
        if self.partition:
            argv.append(f"--partition={self.partition}")
        if self.account:
            argv.append(f"--account={self.account}")
        # The job's environment is exactly this (sbatch exports its own environment with ALL).
        env = {
            **self._tool_env,
            **self.base_env,
            **spec.env,
            "GAODI_JOB_NAME": spec.name,
            "GAODI_CPUS": str(spec.cpus),
            "GAODI_MEMORY_MB": str(spec.memory_mb),
            "GAODI_ACCELERATORS": str(spec.accelerators),
        }
        try:
            rc, out, err = self._run(argv, BATCH_PREAMBLE + spec.script, env=env)
            if rc != 0 and is_unavailable_message(err):
                ambiguous = any(p in err.lower() for p in AMBIGUOUS_SUBMIT_PATTERNS)
                raise BackendUnavailable(f"sbatch failed (exit {rc}): {err.strip() or 'no message'}",
                                         maybe_submitted=ambiguous)
        except BackendUnavailable as exc:
            if not exc.maybe_submitted:
                raise
            # The answer was lost: the job may be queued. Ask by its name; if Slurm cannot say yet,
            # the caller keeps the outcome open and looks again before any new submission.
            try:
                found = self.find(spec.name)
            except BackendError:
                raise exc from None
            if found:
                return found[0]
            raise
        if rc != 0:
            raise JobRejected(f"Slurm refused the job: {err.strip() or f'sbatch exit {rc}'}")
        first = out.strip().splitlines()[0] if out.strip() else ""
        job_id = first.split(";", 1)[0].strip()
        if not JOB_ID_RE.fullmatch(job_id):
            raise BackendError(f"sbatch answered {out.strip()!r}, not a job id")
        return job_id

    def find(self, name: str) -> list[str]:
        """Jobs named `name`, oldest first: from the controller (queued, running, recently ended) and
        from accounting (the last 30 days). Both must answer, or BackendUnavailable."""
        if not isinstance(name, str) or not name or "," in name or _CONTROL_RE.search(name):
            raise JobSpecError("name", f"{name!r} cannot be looked up: no commas or control characters")
        ids: set[int] = set()
        rc, out, err = self._run(["squeue", "--noheader", "--states=all", f"--name={name}", "-o", "%i|%j"])
        if rc != 0:
            raise self._unavailable("squeue", rc, err)
        for line in out.splitlines():
            job_id, _sep, job_name = line.partition("|")
            if JOB_ID_RE.fullmatch(job_id.strip()) and job_name.strip() == name:
                ids.add(int(job_id))
        rc, out, err = self._run(["sacct", "--noheader", "--parsable2", "-X", f"--name={name}",
                                  f"--starttime={FIND_LOOKBACK}", "--endtime=now", "-o", "JobIDRaw,JobName"])
        if rc != 0:
            if "accounting storage is disabled" in err.lower():
                raise BackendError("Slurm accounting is disabled: the slurm backend needs slurmdbd (sacct)")
            raise self._unavailable("sacct", rc, err)
        for line in out.splitlines():
            job_id, _sep, job_name = line.partition("|")
            if JOB_ID_RE.fullmatch(job_id.strip()) and job_name.strip() == name:
                ids.add(int(job_id))
        return [str(i) for i in sorted(ids)]

    # --- queries -----------------------------------------------------------------------------

    def _squeue(self, job_id: str) -> tuple[str, str, str] | None:
        """(state, reason, work dir) from the controller, or None when it no longer knows the job."""
        rc, out, err = self._run(["squeue", "--noheader", "--states=all", "-j", job_id, "-o", "%i|%T|%r|%Z"])
        if rc != 0:
            if "invalid job id" in err.lower():
                return None
            raise self._unavailable("squeue", rc, err)
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) >= 4 and parts[0].strip() == job_id:
                return parts[1].strip(), parts[2].strip(), "|".join(parts[3:]).strip()
        return None

    def _sacct(self, job_id: str) -> AccountingRecord | None:
        """The job's record in Slurm's accounting, or None when there is none (yet).

        Not `-X`: the allocation line then carries the CPU time summed over the job's steps, and
        the batch step's exit code says which signal ended a cancelled or timed-out job.
        """
        rc, out, err = self._run(
            ["sacct", "-j", job_id, "--noheader", "--parsable2", "-o", ",".join(SACCT_FIELDS)]
        )
        if rc != 0:
            if "accounting storage is disabled" in err.lower():
                raise BackendError("Slurm accounting is disabled: the slurm backend needs slurmdbd (sacct)")
            raise self._unavailable("sacct", rc, err)
        record: AccountingRecord | None = None
        batch_exit: int | None = None
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) < len(SACCT_FIELDS):
                continue
            f = dict(zip(SACCT_FIELDS, parts, strict=False))
            raw_id = f["JobIDRaw"].strip()
            if raw_id == f"{job_id}.batch":
                batch_exit = parse_exit_code(f["ExitCode"])
            if raw_id != job_id:
                continue
            record = AccountingRecord(
                job_id=job_id,
                state=f["State"].strip(),
                exit_code=parse_exit_code(f["ExitCode"]),
                start=parse_time(f["Start"]),
                end=parse_time(f["End"]),
                elapsed_s=float(f["ElapsedRaw"] or 0),
                cpus=int(f["AllocCPUS"] or 0),
                tres=parse_tres(f["AllocTRES"]),
                total_cpu_s=parse_duration(f["TotalCPU"]),
                work_dir="|".join(parts[len(SACCT_FIELDS) - 1 :]).strip(),
            )  # the last record wins: after a requeue, the latest run
        if record is not None and not record.exit_code and batch_exit:
            record = dataclasses.replace(record, exit_code=batch_exit)
        return record

    def _scontrol_exit_code(self, job_id: str) -> int | None:
        rc, out, _err = self._run(["scontrol", "show", "job", "-o", job_id])
        if rc != 0:
            return None
        m = re.search(r"\bExitCode=(\d+:\d+)", out)
        return parse_exit_code(m.group(1)) if m else None

    def status(self, job_id: str) -> JobStatus:
        try:
            self._check_id(job_id)
        except JobNotFound as exc:
            return JobStatus(JobState.UNKNOWN, None, str(exc))
        live = self._squeue(job_id)
        if live is not None:
            word, detail, _wd = live
            st = map_state(word, None, detail)
            if not st.state.is_terminal:
                return st
            # Finished: the exit code comes from accounting, or from the controller if the
            # accounting record is not written yet (or the database is away).
            try:
                rec = self._sacct(job_id)
            except BackendUnavailable:
                rec = None
            if rec is not None and map_state(rec.state).state.is_terminal:
                return map_state(rec.state, rec.exit_code)
            return map_state(word, self._scontrol_exit_code(job_id))
        rec = self._sacct(job_id)
        if rec is None:
            return JobStatus(
                JobState.UNKNOWN,
                None,
                f"Slurm knows no job {job_id}: not in the controller's queue, not in accounting",
            )
        st = map_state(rec.state, rec.exit_code)
        if not st.state.is_terminal:
            # Accounting says it is still pending or running, but the controller, which answered,
            # has no such job: the controller lost it (e.g. its state was wiped).
            return JobStatus(
                JobState.UNKNOWN,
                None,
                f"accounting says {rec.state} but the controller no longer knows job {job_id}",
                rec.state,
            )
        return st

    def cancel(self, job_id: str) -> None:
        self._check_id(job_id)
        st = self.status(job_id)
        if st.state is JobState.UNKNOWN:
            raise JobNotFound(st.reason)
        if st.state.is_terminal:
            return
        rc, _out, err = self._run(["scancel", job_id])
        if rc != 0:
            low = err.lower()
            if "already completing or completed" in low:
                return
            if "invalid job id" in low:
                raise JobNotFound(f"Slurm knows no job {job_id}")
            raise self._unavailable("scancel", rc, err)

    def _output_path(self, job_id: str) -> Path | None:
        if self.log_dir is not None:
            return self.log_dir / f"slurm-{job_id}.out"
        live = self._squeue(job_id)
        work_dir = live[2] if live is not None else ""
        if not work_dir or work_dir in ("(null)", "N/A"):
            rec = self._sacct(job_id)
            if rec is None:
                return None
            work_dir = rec.work_dir
        return Path(work_dir) / f"slurm-{job_id}.out"

    def logs(self, job_id: str, tail_bytes: int = 64 * 1024) -> str:
        self._check_id(job_id)
        path = self._output_path(job_id)
        if path is None:
            raise JobNotFound(f"Slurm knows no job {job_id}")
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - tail_bytes))
                data = f.read()
        except FileNotFoundError:
            return ""  # not started yet, or the output file is on a filesystem we cannot see
        return tail_text(data, tail_bytes)

    def usage(self, job_id: str) -> Usage:
        self._check_id(job_id)
        rec = self._sacct(job_id)
        if rec is None:
            if self._squeue(job_id) is None:
                raise JobNotFound(f"Slurm knows no job {job_id}")
            return Usage(None, None, 0.0, 0, 0, 0.0, 0.0, None, "slurm: not in accounting yet", complete=False)
        accelerators = 0
        key = f"gres/{self.gres}"
        if not self.gres:  # accelerators are not generic resources here: Slurm does not count them
            accelerators = 0
        elif key in rec.tres:
            accelerators = int(rec.tres[key])
        else:  # only typed entries, e.g. gres/gpu:a100=2
            accelerators = sum(int(v) for k, v in rec.tres.items() if k.startswith(key + ":"))
        cpus = rec.cpus or int(rec.tres.get("cpu", "0") or 0)
        elapsed = rec.elapsed_s if rec.start is not None else 0.0
        return Usage(
            start=rec.start,
            end=rec.end,
            elapsed_s=elapsed,
            accelerators=accelerators,
            cpus=cpus,
            accelerator_seconds=accelerators * elapsed,
            cpu_seconds=cpus * elapsed,
            cpu_time_used_s=rec.total_cpu_s,
            source="slurm accounting (sacct)" if self.gres else "slurm accounting (sacct); accelerators not counted",
            complete=rec.end is not None and map_state(rec.state).state.is_terminal,
        )

    def ping(self) -> bool:
        try:
            rc, out, _err = self._run(["scontrol", "ping"])
        except BackendUnavailable:
            return False
        return rc == 0 and "is UP" in out
