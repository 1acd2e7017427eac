"""Supervisor of one local job: `python _local_wrapper.py JOB_DIR`.

Started detached (its own session) by `LocalBackend.submit`, so it outlives the platform process.
It runs `bash script.sh` in its own process group with stdout and stderr to `output.log`, enforces
the time limit, honours a cancel request (the file `cancel` in JOB_DIR), and records the state,
start and end times, exit code and resource usage in `state.json`, written atomically, so that any
later process can read what happened. Standard library only: it must run without the platform.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

POLL_S = 0.2


def _write_state(job_dir: Path, state: dict[str, Any]) -> None:
    tmp = job_dir / f"state.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    os.replace(tmp, job_dir / "state.json")


def _read_state(job_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((job_dir / "state.json").read_text(encoding="utf-8"))
    return data


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(proc: subprocess.Popen[bytes], grace_s: float) -> None:
    """SIGTERM the job's process group, then SIGKILL it after the grace period."""
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _proc_start_ticks(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def main(job_dir: Path) -> int:
    spec = json.loads((job_dir / "spec.json").read_text(encoding="utf-8"))
    state = _read_state(job_dir)
    state.update(wrapper_pid=os.getpid(), wrapper_start_ticks=_proc_start_ticks(os.getpid()))
    time_limit_s = float(spec["time_limit_s"])
    grace_s = float(spec.get("kill_grace_s", 5.0))

    if (job_dir / "cancel").exists():
        now = time.time()
        state.update(state="cancelled", reason="cancelled before it started", start=None, end=now)
        _write_state(job_dir, state)
        return 0

    terminated_by: list[str] = []

    def on_term(signum: int, _frame: object) -> None:
        terminated_by.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    env = dict(spec["env"])
    start = time.time()
    try:
        with open(job_dir / "output.log", "ab", buffering=0) as log:
            proc = subprocess.Popen(  # noqa: S603 - bash and the job's own script
                ["/bin/bash", str(job_dir / "script.sh")],
                cwd=spec["working_dir"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except OSError as exc:
        state.update(
            state="failed", reason=f"could not start the script: {exc}", start=start, end=time.time()
        )
        _write_state(job_dir, state)
        return 0
    state.update(state="running", start=start, pgid=proc.pid)
    _write_state(job_dir, state)

    outcome = ""
    while True:
        try:
            proc.wait(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            pass
        if (job_dir / "cancel").exists():
            outcome = "cancelled"
        elif terminated_by:
            outcome = "terminated"
        elif time.time() - start > time_limit_s:
            outcome = "timeout"
        if outcome:
            _stop(proc, grace_s)
            break
    end = time.time()
    # The job ends when its script ends: processes it left in the background go too.
    _signal_group(proc.pid, signal.SIGKILL)

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = proc.returncode
    exit_code = code if code >= 0 else 128 - code
    if outcome == "cancelled":
        status, reason, backend_state = "cancelled", "cancelled by request", "CANCELLED"
    elif outcome == "timeout":
        limit = spec["time_limit_s"]
        status, reason, backend_state = "failed", f"time limit of {limit} s reached", "TIMEOUT"
    elif outcome == "terminated":
        sig = terminated_by[0]
        status, reason, backend_state = "failed", f"the job's supervisor received {sig}", "TERMINATED"
    elif code == 0:
        status, reason, backend_state = "completed", "", "COMPLETED"
    elif code < 0:
        sig = signal.Signals(-code).name
        status, reason, backend_state = "failed", f"killed by signal {sig}", "FAILED"
    else:
        status, reason, backend_state = "failed", f"exit code {code}", "FAILED"
    state.update(
        state=status,
        reason=reason,
        backend_state=backend_state,
        exit_code=exit_code,
        end=end,
        cpu_time_used_s=ru.ru_utime + ru.ru_stime,
        max_rss_kb=ru.ru_maxrss,
    )
    _write_state(job_dir, state)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
