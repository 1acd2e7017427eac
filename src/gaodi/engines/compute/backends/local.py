"""The local backend: jobs run as subprocesses on this machine (the embedded default).

Each job gets a directory under `root` holding its spec, its script, its log and a state file.
A small supervisor (`_local_wrapper.py`) runs the script detached from the platform - in its own
session - and records the outcome in the state file, so a job keeps running and its result is
kept when the platform restarts; a new `LocalBackend` on the same `root` picks everything up.

The time limit is enforced (SIGTERM to the job's process group, then SIGKILL after a grace
period). CPUs, memory and accelerators are recorded for usage and billing and passed to the
script as GAODI_CPUS, GAODI_MEMORY_MB and GAODI_ACCELERATORS, but not confined: use Slurm for
real isolation.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gaodi.engines.compute.backends.base import (
    Backend,
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

WRAPPER = Path(__file__).with_name("_local_wrapper.py")
JOB_ID_RE = re.compile(r"[0-9]{14}-[0-9a-f]{8}")
# A job whose supervisor has not reported within this time after submission failed to start.
START_TIMEOUT_S = 60.0
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def _epoch_to_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value), tz=UTC)


def _proc_alive(pid: int, start_ticks: int | None) -> bool:
    """Is `pid` a live (not zombie) process, the same one that started at `start_ticks`?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        stat = ""
    if stat:
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        return start_ticks is None or int(fields[19]) == start_ticks
    try:  # no /proc: fall back to a plain existence check
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


class LocalBackend(Backend):
    """Run jobs as local subprocesses, with their state kept under `root`.

    `accelerators`: how many accelerators this machine offers; a job asking for more is
    rejected. None (the default) records what jobs ask for without checking.
    `base_env`: variables every job gets (the platform's own environment is never passed on);
    PATH defaults to a standard one.
    """

    kind = "local"

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        accelerators: int | None = None,
        base_env: dict[str, str] | None = None,
        kill_grace_s: float = 5.0,
        python: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.accelerators = accelerators
        self.base_env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", **(base_env or {})}
        self.kill_grace_s = kill_grace_s
        self.python = python or sys.executable
        # Supervisors this process started: polled so that they are reaped, not left as zombies.
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    # --- files -------------------------------------------------------------------------------

    def _job_dir(self, job_id: str) -> Path:
        if not isinstance(job_id, str) or not JOB_ID_RE.fullmatch(job_id):
            raise JobNotFound(f"{job_id!r} is not a local job id")
        return self.root / job_id

    def _read_json(self, path: Path) -> dict[str, Any]:
        for _ in range(5):
            try:
                data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                return data
            except json.JSONDecodeError:  # only while a writer is mid-way; writes are atomic
                time.sleep(0.02)
        raise BackendUnavailable(f"{path} is not readable JSON")

    def _write_state(self, job_dir: Path, state: dict[str, Any]) -> None:
        tmp = job_dir / f"state.json.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, job_dir / "state.json")

    def _load(self, job_id: str) -> tuple[Path, dict[str, Any], dict[str, Any]]:
        job_dir = self._job_dir(job_id)
        if not (job_dir / "state.json").exists():
            raise JobNotFound(f"no local job {job_id} under {self.root}")
        return job_dir, self._read_json(job_dir / "spec.json"), self._read_json(job_dir / "state.json")

    # --- interface ---------------------------------------------------------------------------

    def submit(self, spec: JobSpec) -> str:
        if self.accelerators is not None and spec.accelerators > self.accelerators:
            raise JobRejected(
                f"accelerators: the job asks for {spec.accelerators}, this machine has {self.accelerators}"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendUnavailable(f"cannot create the local job root {self.root}: {exc}") from exc
        job_id = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        job_dir = self.root / job_id
        job_dir.mkdir(mode=0o700)
        working_dir = Path(spec.working_dir) if spec.working_dir else job_dir / "work"
        try:
            working_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JobSpecError("working_dir", f"cannot create {working_dir}: {exc}") from exc
        env = {
            **self.base_env,
            **spec.env,
            "GAODI_JOB_ID": job_id,
            "GAODI_JOB_NAME": spec.name,
            "GAODI_CPUS": str(spec.cpus),
            "GAODI_MEMORY_MB": str(spec.memory_mb),
            "GAODI_ACCELERATORS": str(spec.accelerators),
        }
        record = {
            "name": spec.name,
            "accelerators": spec.accelerators,
            "cpus": spec.cpus,
            "memory_mb": spec.memory_mb,
            "time_limit_s": spec.time_limit_s,
            "working_dir": str(working_dir),
            "env": env,
            "kill_grace_s": self.kill_grace_s,
        }
        # The spec holds the job's environment, which may carry its secrets: owner-only files.
        fd = os.open(job_dir / "spec.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, sort_keys=True)
        (job_dir / "script.sh").write_text(spec.script, encoding="utf-8")
        (job_dir / "output.log").touch()
        self._write_state(job_dir, {"state": "pending", "submitted": time.time()})
        try:
            with open(job_dir / "wrapper.log", "ab") as wlog:
                proc = subprocess.Popen(  # noqa: S603 - our own supervisor script
                    [self.python, str(WRAPPER), str(job_dir)],
                    stdin=subprocess.DEVNULL,
                    stdout=wlog,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            self._write_state(
                job_dir,
                {"state": "failed", "reason": f"could not start the supervisor: {exc}", "end": time.time()},
            )
            raise BackendUnavailable(f"could not start the local job supervisor: {exc}") from exc
        self._children[job_id] = proc
        launch = {"wrapper_pid": proc.pid, "wrapper_start_ticks": _proc_start_ticks(proc.pid)}
        (job_dir / "launch.json").write_text(json.dumps(launch), encoding="utf-8")
        return job_id

    def _reap(self, job_id: str) -> None:
        proc = self._children.get(job_id)
        if proc is not None and proc.poll() is not None:
            del self._children[job_id]

    def _supervisor_alive(self, job_dir: Path, state: dict[str, Any]) -> bool | None:
        """True/False when known; None when the supervisor has not reported its pid yet."""
        pid = state.get("wrapper_pid")
        ticks = state.get("wrapper_start_ticks")
        if pid is None and (job_dir / "launch.json").exists():
            launch = self._read_json(job_dir / "launch.json")
            pid, ticks = launch.get("wrapper_pid"), launch.get("wrapper_start_ticks")
        if pid is None:
            return None
        return _proc_alive(int(pid), None if ticks is None else int(ticks))

    def status(self, job_id: str) -> JobStatus:
        try:
            job_dir, _spec, state = self._load(job_id)
        except JobNotFound as exc:
            return JobStatus(JobState.UNKNOWN, None, str(exc))
        self._reap(job_id)
        if state["state"] in ("pending", "running"):
            alive = self._supervisor_alive(job_dir, state)
            age = time.time() - float(state.get("submitted", state.get("start") or 0.0))
            if alive is False or (alive is None and age > START_TIMEOUT_S):
                state = self._supervisor_lost(job_dir)
        return JobStatus(
            JobState(state["state"]),
            state.get("exit_code"),
            state.get("reason", ""),
            state.get("backend_state", state["state"].upper()),
        )

    def _supervisor_lost(self, job_dir: Path) -> dict[str, Any]:
        """The supervisor died without recording an outcome (killed, or the machine restarted)."""
        state = self._read_json(job_dir / "state.json")
        if state["state"] not in ("pending", "running"):
            return state  # it finished after all, just now
        pgid = state.get("pgid")
        if pgid is not None:
            try:
                os.killpg(int(pgid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        state.update(
            state="failed",
            reason="the job's supervisor process died (killed, or the machine restarted)",
            backend_state="LOST",
            end=time.time(),
        )
        self._write_state(job_dir, state)
        return state

    def cancel(self, job_id: str) -> None:
        job_dir, _spec, state = self._load(job_id)
        if state["state"] not in ("pending", "running"):
            return
        (job_dir / "cancel").touch()
        if self._supervisor_alive(job_dir, state) is False:
            # Nobody will act on the request: stop the processes and record it here.
            state = self._supervisor_lost(job_dir)
            if state.get("backend_state") == "LOST":
                state.update(state="cancelled", reason="cancelled by request", backend_state="CANCELLED")
                self._write_state(job_dir, state)

    def logs(self, job_id: str, tail_bytes: int = 64 * 1024) -> str:
        job_dir = self._job_dir(job_id)
        path = job_dir / "output.log"
        if not path.exists():
            raise JobNotFound(f"no local job {job_id} under {self.root}")
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - tail_bytes))
            data = f.read()
        return tail_text(data, tail_bytes)

    def usage(self, job_id: str) -> Usage:
        _job_dir, spec, state = self._load(job_id)
        start = state.get("start")
        end = state.get("end")
        if start is None:
            elapsed = 0.0
        else:
            elapsed = max(0.0, (float(end) if end is not None else time.time()) - float(start))
        accelerators, cpus = int(spec["accelerators"]), int(spec["cpus"])
        return Usage(
            start=_epoch_to_dt(start),
            end=_epoch_to_dt(end) if start is not None else None,
            elapsed_s=elapsed,
            accelerators=accelerators,
            cpus=cpus,
            accelerator_seconds=accelerators * elapsed,
            cpu_seconds=cpus * elapsed,
            cpu_time_used_s=state.get("cpu_time_used_s"),
            source="local supervisor records (start/end times, getrusage of the script)",
        )

    def find(self, name: str) -> list[str]:
        """Jobs under `root` submitted as `name`, oldest first (job ids start with their UTC time)."""
        if not self.root.exists():
            return []
        try:
            entries = sorted(p for p in self.root.iterdir() if JOB_ID_RE.fullmatch(p.name))
        except OSError as exc:
            raise BackendUnavailable(f"cannot read the local job root {self.root}: {exc}") from exc
        found = []
        for job_dir in entries:
            try:
                spec = json.loads((job_dir / "spec.json").read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue  # a job being written, or not a job: it has no name yet
            if spec.get("name") == name:
                found.append(job_dir.name)
        return found

    def ping(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.root, os.W_OK) and os.access(self.python, os.X_OK) and WRAPPER.exists()
