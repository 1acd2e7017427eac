"""The Slurm backend against a real single-node cluster (`.ci/slurm-setup.sh` starts one).

Real jobs: submit, watch, cancel, logs, usage from slurmdbd's accounting (sacct), and a
controller killed with SIGKILL mid-run: the backend says "unavailable" (not "failed"), and once
the controller is back the job is still there, finishes, and reconciliation reports it. A
submission whose answer is lost is looked up by the job's name and never submitted twice; a
partition that does not exist is a refusal (JobRejected), not an outage.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gaodi.engines.compute.backends import (
    LOST_REASON,
    BackendUnavailable,
    JobRejected,
    JobSpec,
    JobState,
    reconcile,
    submit_once,
)
from gaodi.engines.compute.backends.slurm import SlurmBackend
from tests.conftest import require_service

REPO = Path(__file__).resolve().parents[3]
RESTART_CTLD = REPO / ".ci" / "slurm-restart-ctld.sh"
CTLD_PIDFILE = Path("/run/slurm/slurmctld.pid")


def slurm_problem() -> str | None:
    if not shutil.which("sbatch"):
        return "Slurm is not installed (no sbatch); run .ci/slurm-setup.sh as root"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "scontrol ping did not answer; run .ci/slurm-setup.sh"
    if ping.returncode != 0 or "is UP" not in ping.stdout:
        return f"slurmctld is not up ({ping.stdout.strip() or ping.stderr.strip()}); run .ci/slurm-setup.sh"
    acct = subprocess.run(["sacct", "-n", "-X", "-S", "now-1minutes", "-o", "JobID"],
                          capture_output=True, text=True, timeout=20)
    if acct.returncode != 0:
        return f"Slurm accounting (slurmdbd) does not answer: {acct.stderr.strip()}"
    return None


@pytest.fixture(scope="module")
def slurm_ready():
    problem = slurm_problem()
    require_service(problem is None, problem or "")


@pytest.fixture
def backend(slurm_ready, tmp_path):
    return SlurmBackend(work_root=tmp_path / "work")


def wait_state(backend, job_id, states, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        st = backend.status(job_id)
        if st.state in states:
            return st
        assert time.monotonic() < deadline, f"job {job_id} stuck in {st}"
        time.sleep(0.3)


def wait_accounting(backend, job_id, timeout_s=20.0):
    """sacct gets the end record a moment after the controller: wait until it has it."""
    deadline = time.monotonic() + timeout_s
    while True:
        usage = backend.usage(job_id)
        if usage.end is not None:
            return usage
        assert time.monotonic() < deadline, f"job {job_id} has no end time in accounting"
        time.sleep(0.3)


def test_submit_watch_logs_and_usage_from_accounting(backend):
    spec = JobSpec(
        name="gaodi-test-run",
        script='echo "hello $GREETING"\necho "to stderr" >&2\nsleep 3\necho "cpus=$SLURM_CPUS_PER_TASK"\nexit 0\n',
        cpus=2,
        memory_mb=128,
        time_limit_s=120,
        env={"GREETING": "上海"},
    )
    job_id = backend.submit(spec)
    assert job_id.isdigit()
    first = backend.status(job_id)
    assert first.state in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETED)
    assert wait_state(backend, job_id, {JobState.RUNNING, JobState.COMPLETED}).state
    st = backend.wait(job_id, timeout_s=60, poll_s=0.3)
    assert (st.state, st.exit_code) == (JobState.COMPLETED, 0)
    log = backend.logs(job_id)
    assert "hello 上海\n" in log and "to stderr\n" in log and "cpus=2\n" in log
    assert backend.logs(job_id, tail_bytes=7) == "cpus=2\n"
    usage = wait_accounting(backend, job_id)
    assert usage.source == "slurm accounting (sacct)"
    assert usage.elapsed_s >= 3
    assert usage.cpus == 2  # what Slurm allocated, from its accounting
    assert usage.cpu_seconds == pytest.approx(2 * usage.elapsed_s)
    assert usage.accelerators == 0 and usage.accelerator_seconds == 0
    assert usage.start is not None and usage.end is not None
    assert (usage.end - usage.start).total_seconds() == pytest.approx(usage.elapsed_s, abs=1)


def test_a_failing_job_reports_its_exit_code(backend):
    job_id = backend.submit(JobSpec(name="gaodi-test-fail", script="echo oops >&2\nexit 3\n", memory_mb=64,
                                    time_limit_s=60))
    st = backend.wait(job_id, timeout_s=30, poll_s=0.3)
    assert (st.state, st.exit_code, st.backend_state) == (JobState.FAILED, 3, "FAILED")
    assert backend.logs(job_id) == "oops\n"


def test_cancel_a_running_job(backend):
    job_id = backend.submit(JobSpec(name="gaodi-test-cancel", script="sleep 300\n", memory_mb=64, time_limit_s=600))
    wait_state(backend, job_id, {JobState.RUNNING})
    backend.cancel(job_id)
    st = backend.wait(job_id, timeout_s=30, poll_s=0.3)
    assert st.state is JobState.CANCELLED
    assert st.reason.startswith("cancelled by user id")
    usage = wait_accounting(backend, job_id)
    assert usage.elapsed_s < 60
    backend.cancel(job_id)  # a finished job: nothing to do, no error


def test_a_job_id_slurm_never_had_is_lost_only_after_asking(backend):
    assert backend.ping()
    changes = reconcile({"999999999": JobState.RUNNING}, backend)
    assert len(changes) == 1
    assert changes[0].after.state is JobState.FAILED
    assert changes[0].after.reason.startswith(LOST_REASON)


def kill_slurmctld() -> None:
    pid = int(CTLD_PIDFILE.read_text().strip())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def test_controller_killed_mid_run_loses_nothing(backend):
    if os.geteuid() != 0 or not CTLD_PIDFILE.exists():
        require_service(False, "killing and restarting slurmctld needs root and /run/slurm/slurmctld.pid")
    job_id = backend.submit(
        JobSpec(name="gaodi-test-survivor", script="echo started\nsleep 8\necho finished\n", memory_mb=64,
                time_limit_s=300)
    )
    wait_state(backend, job_id, {JobState.RUNNING})
    # slurmctld writes its job state to StateSaveLocation within a few seconds of a change.
    time.sleep(5)
    kill_slurmctld()
    try:
        assert not backend.ping()
        # Asked at once, in parallel (each client retries for a while before giving up): every
        # question is "unavailable", none is a job failure, and no job is made.
        spec = JobSpec(name="gaodi-test-while-down", script="true\n", memory_mb=64, time_limit_s=60)
        with ThreadPoolExecutor(3) as pool:
            futures = {
                "status": pool.submit(backend.status, job_id),
                "submit": pool.submit(backend.submit, spec),
                "reconcile": pool.submit(reconcile, {job_id: JobState.RUNNING}, backend),
            }
            for what, fut in futures.items():
                with pytest.raises(BackendUnavailable) as err:
                    fut.result()
                if what == "submit":
                    assert not err.value.maybe_submitted
    finally:
        subprocess.run([str(RESTART_CTLD)], check=True, timeout=60)
    # The job outlived the controller: its script finished while the controller was down, and
    # slurmd reports that once the controller is back.
    st = backend.wait(job_id, timeout_s=45, poll_s=0.5)
    assert (st.state, st.exit_code) == (JobState.COMPLETED, 0)
    assert backend.logs(job_id) == "started\nfinished\n"
    changes = reconcile({job_id: JobState.RUNNING}, backend)
    assert [(c.job_id, c.after.state, c.after.exit_code) for c in changes] == [(job_id, JobState.COMPLETED, 0)]
    assert wait_accounting(backend, job_id).elapsed_s >= 8
    # Nothing was submitted while the controller was down.
    names = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%j"], capture_output=True, text=True,
                           check=True).stdout.split()
    assert "gaodi-test-while-down" not in names


class LosingAnswers(SlurmBackend):
    """The real cluster, but the answer to the next `lose` sbatch calls is lost after Slurm got the job (as
    when the connection drops after sending), and the next `lookups_down` look-ups find the controller away."""

    def __init__(self, *args, lose=1, lookups_down=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.lose, self.lookups_down = lose, lookups_down

    def _run(self, argv, stdin=None, env=None):
        if argv[0] == "squeue" and any(a.startswith("--name=") for a in argv) and self.lookups_down:
            self.lookups_down -= 1
            raise BackendUnavailable("squeue did not answer within 30 s")
        result = super()._run(argv, stdin, env)
        if argv[0] == "sbatch" and self.lose and result[0] == 0:
            self.lose -= 1
            raise BackendUnavailable("sbatch did not answer within 30 s", maybe_submitted=True)
        return result


def slurm_jobs_named(name):
    out = subprocess.run(["squeue", "-h", "-t", "all", f"--name={name}", "-o", "%i"], capture_output=True,
                         text=True, check=True).stdout.split()
    acct = subprocess.run(["sacct", "-n", "-X", "-P", f"--name={name}", "-S", "now-1days", "-o", "JobIDRaw"],
                          capture_output=True, text=True, check=True).stdout.split()
    return sorted(set(out) | set(acct))


def test_a_lost_sbatch_answer_is_found_by_name_and_never_submitted_twice(slurm_ready, tmp_path):
    name = f"gaodi-test-lost-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    spec = JobSpec(name=name, script="sleep 1\necho once\n", memory_mb=64, time_limit_s=60)
    backend = LosingAnswers(work_root=tmp_path / "work", lose=1)
    job_id = backend.submit(spec)  # the answer was lost: the backend looked the name up and found the job
    assert slurm_jobs_named(name) == [job_id]
    st = backend.wait(job_id, timeout_s=30, poll_s=0.3)
    assert st.state is JobState.COMPLETED and backend.logs(job_id) == "once\n"


def test_a_lost_answer_with_the_controller_away_is_looked_up_before_the_next_try(slurm_ready, tmp_path):
    name = f"gaodi-test-lost2-{os.getpid()}-{time.monotonic_ns() % 10**8}"
    spec = JobSpec(name=name, script="echo once\n", memory_mb=64, time_limit_s=60)
    backend = LosingAnswers(work_root=tmp_path / "work", lose=1, lookups_down=1)
    with pytest.raises(BackendUnavailable) as err:
        backend.submit(spec)
    assert err.value.maybe_submitted  # the outcome is open: the caller must look before submitting again
    job_id, adopted = submit_once(backend, spec, look_first=True)
    assert adopted and slurm_jobs_named(name) == [job_id]
    assert backend.wait(job_id, timeout_s=30, poll_s=0.3).state is JobState.COMPLETED
    # Looked up again later (from accounting once the controller has forgotten it): still the one job.
    assert backend.find(name) == [job_id]
    assert backend.find(f"{name}-never") == []


def test_a_partition_that_does_not_exist_is_refused_for_good(slurm_ready, tmp_path):
    backend = SlurmBackend(work_root=tmp_path / "work", partition="gaodi-no-such-partition")
    with pytest.raises(JobRejected, match="(?i)invalid partition"):
        backend.submit(JobSpec(name="gaodi-test-nopart", script="true\n", memory_mb=64, time_limit_s=60))
