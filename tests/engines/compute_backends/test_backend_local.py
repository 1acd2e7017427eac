"""The local backend runs real bash scripts as detached subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gaodi.engines.compute.backends import (
    LOST_REASON,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobSpecError,
    JobState,
    reconcile,
)
from gaodi.engines.compute.backends.local import LocalBackend

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture
def backend(tmp_path):
    return LocalBackend(tmp_path / "jobs", kill_grace_s=1.0)


def wait_state(backend, job_id, state, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        st = backend.status(job_id)
        if st.state is state:
            return st
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not {state} within {timeout_s} s: {backend.status(job_id)}")


def pid_alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def test_a_job_runs_to_completion_with_logs_and_usage(backend, tmp_path):
    work = tmp_path / "work dir"
    spec = JobSpec(
        name="hello",
        script='echo "hello $GREETING from $(pwd)"\necho "cpus=$GAODI_CPUS" >&2\nsleep 1\necho done\n',
        cpus=2,
        accelerators=1,
        working_dir=str(work),
        env={"GREETING": "你好"},
        time_limit_s=30,
    )
    job_id = backend.submit(spec)
    assert backend.status(job_id).state in (JobState.PENDING, JobState.RUNNING)
    wait_state(backend, job_id, JobState.RUNNING)
    st = backend.wait(job_id, timeout_s=15, poll_s=0.1)
    assert st.state is JobState.COMPLETED
    assert st.exit_code == 0
    log = backend.logs(job_id)
    assert f"hello 你好 from {work}\n" in log
    assert "cpus=2\n" in log  # stderr goes to the same log
    assert log.endswith("done\n")
    assert backend.logs(job_id, tail_bytes=5) == "done\n"
    usage = backend.usage(job_id)
    assert usage.elapsed_s >= 1.0
    assert usage.start is not None and usage.end is not None
    assert (usage.end - usage.start).total_seconds() == pytest.approx(usage.elapsed_s, abs=0.01)
    assert (usage.cpus, usage.accelerators) == (2, 1)
    assert usage.cpu_seconds == pytest.approx(2 * usage.elapsed_s)
    assert usage.accelerator_seconds == pytest.approx(usage.elapsed_s)
    assert usage.cpu_time_used_s is not None and usage.cpu_time_used_s >= 0


def test_the_platform_environment_does_not_leak_into_jobs(backend, monkeypatch):
    monkeypatch.setenv("GAODI_SECRET_KEY", "do-not-leak")
    job_id = backend.submit(JobSpec(name="env", script="env", time_limit_s=10))
    assert backend.wait(job_id, 10, 0.1).state is JobState.COMPLETED
    log = backend.logs(job_id)
    assert "do-not-leak" not in log
    assert f"GAODI_JOB_ID={job_id}" in log


def test_a_failing_script_reports_its_exit_code(backend):
    job_id = backend.submit(JobSpec(name="fail", script="echo oops >&2; exit 3", time_limit_s=10))
    st = backend.wait(job_id, 10, 0.1)
    assert (st.state, st.exit_code, st.reason) == (JobState.FAILED, 3, "exit code 3")
    assert backend.logs(job_id) == "oops\n"


def test_cancel_kills_the_whole_process_group(backend):
    job_id = backend.submit(
        JobSpec(name="long", script="sleep 300 &\necho $! > child.pid\nsleep 300\n", time_limit_s=600)
    )
    wait_state(backend, job_id, JobState.RUNNING)
    child_pid_file = backend.root / job_id / "work" / "child.pid"
    deadline = time.monotonic() + 5
    while not child_pid_file.exists() or not child_pid_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(child_pid_file.read_text())
    assert pid_alive(child)
    t0 = time.monotonic()
    backend.cancel(job_id)
    st = backend.wait(job_id, 10, 0.1)
    assert st.state is JobState.CANCELLED
    assert st.reason == "cancelled by request"
    assert time.monotonic() - t0 < 5
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the background child of the script survived the cancel"
    backend.cancel(job_id)  # cancelling a finished job does nothing
    assert backend.status(job_id).state is JobState.CANCELLED


def test_the_time_limit_is_enforced(backend):
    job_id = backend.submit(JobSpec(name="slow", script="trap '' TERM\nsleep 60", time_limit_s=1))
    st = backend.wait(job_id, 15, 0.1)
    assert st.state is JobState.FAILED
    assert st.backend_state == "TIMEOUT"
    assert st.reason == "time limit of 1 s reached"
    usage = backend.usage(job_id)
    # Ignoring SIGTERM buys only the grace period, then SIGKILL.
    assert 1.0 <= usage.elapsed_s < 1.0 + backend.kill_grace_s + 5.0


def test_state_survives_a_restart_of_the_platform(tmp_path):
    root = tmp_path / "jobs"
    # Submit from another process that exits at once, as a platform process that stops would.
    code = (
        "from gaodi.engines.compute.backends import JobSpec\n"
        "from gaodi.engines.compute.backends.local import LocalBackend\n"
        f"b = LocalBackend({str(root)!r})\n"
        "print(b.submit(JobSpec(name='detached', script='sleep 1.5; echo survived', time_limit_s=30)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    job_id = out.stdout.strip()
    # A new backend instance on the same root (the restarted platform) sees the job running...
    backend = LocalBackend(root)
    assert backend.status(job_id).state in (JobState.PENDING, JobState.RUNNING)
    # ...and, after it finished while "nobody was watching", reconciliation reports it.
    state_file = root / job_id / "state.json"
    deadline = time.monotonic() + 30
    while json.loads(state_file.read_text())["state"] != "completed":
        assert time.monotonic() < deadline, state_file.read_text()
        time.sleep(0.1)
    again = LocalBackend(root)
    changes = reconcile({job_id: JobState.RUNNING, "20000101000000-deadbeef": JobState.RUNNING}, again)
    by_id = {c.job_id: c.after for c in changes}
    assert by_id[job_id].state is JobState.COMPLETED
    assert by_id["20000101000000-deadbeef"].state is JobState.FAILED
    assert by_id["20000101000000-deadbeef"].reason.startswith(LOST_REASON)
    assert again.logs(job_id) == "survived\n"
    assert again.usage(job_id).elapsed_s >= 1.5


def test_a_dead_supervisor_fails_the_job_and_stops_its_processes(backend):
    job_id = backend.submit(JobSpec(name="orphan", script="sleep 300", time_limit_s=600))
    wait_state(backend, job_id, JobState.RUNNING)
    state = json.loads((backend.root / job_id / "state.json").read_text())
    os.kill(state["wrapper_pid"], signal.SIGKILL)
    st = wait_state(backend, job_id, JobState.FAILED)
    assert st.backend_state == "LOST"
    assert "supervisor process died" in st.reason
    deadline = time.monotonic() + 5
    while pid_alive(state["pgid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(state["pgid"])


def test_unknown_and_malformed_job_ids(backend):
    assert backend.status("20000101000000-deadbeef").state is JobState.UNKNOWN
    assert backend.status("../../etc").state is JobState.UNKNOWN
    with pytest.raises(JobNotFound):
        backend.cancel("20000101000000-deadbeef")
    with pytest.raises(JobNotFound):
        backend.logs("../etc/passwd")
    with pytest.raises(JobNotFound):
        backend.usage("nope")


def test_more_accelerators_than_the_machine_has_is_rejected(tmp_path):
    backend = LocalBackend(tmp_path / "jobs", accelerators=1)
    with pytest.raises(JobRejected, match="asks for 2, this machine has 1"):
        backend.submit(JobSpec(name="big", script="true", accelerators=2))


def test_a_working_dir_that_cannot_be_made_is_refused(backend, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JobSpecError) as err:
        backend.submit(JobSpec(name="j", script="true", working_dir=str(blocker / "sub")))
    assert err.value.field == "working_dir"


def test_ping(tmp_path):
    assert LocalBackend(tmp_path / "jobs").ping()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert not LocalBackend(blocker / "jobs").ping()


def test_find_looks_jobs_up_by_name(backend):
    assert backend.find("gaodi-job-1-aaaa") == []  # no root yet: nothing
    first = backend.submit(JobSpec(name="gaodi-job-1-aaaa", script="true\n"))
    backend.submit(JobSpec(name="gaodi-job-2-bbbb", script="true\n"))
    time.sleep(1.1)  # job ids start with the second: the next one sorts after
    again = backend.submit(JobSpec(name="gaodi-job-1-aaaa", script="true\n"))
    assert backend.find("gaodi-job-1-aaaa") == [first, again]
    assert backend.find("gaodi-job-3-cccc") == []
    # A new backend on the same root (the platform restarted) finds them too.
    assert LocalBackend(backend.root).find("gaodi-job-2-bbbb") != []
