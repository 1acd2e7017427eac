"""The Ray backend: its mapping onto the Ray Jobs API (a recorded client, always run) and real jobs
on a local Ray cluster (run when Ray is installed: `pip install 'gaodi[ray]'`)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from gaodi.engines.compute.backends import (
    BackendDependencyMissing,
    BackendUnavailable,
    JobNotFound,
    JobRejected,
    JobSpec,
    JobState,
    get_backend,
    reconcile,
)
from gaodi.engines.compute.backends.ray_jobs import RayBackend, build_entrypoint

RAY_MISSING = importlib.util.find_spec("ray") is None
SKIP_REASON = "Ray is not installed (pip install 'gaodi[ray]'); the Ray backend's real-cluster tests are skipped"


class FakeClient:
    """Answers like JobSubmissionClient: JobDetails-like objects, RuntimeError for unknown jobs."""

    def __init__(self):
        self.jobs = {}
        self.submitted = []
        self.down = False

    def _check(self):
        if self.down:
            raise ConnectionError("Failed to connect to Ray at address: http://127.0.0.1:8265.")

    def submit_job(self, **kw):
        self._check()
        self.submitted.append(kw)
        job_id = f"raysubmit_{len(self.submitted)}"
        self.jobs[job_id] = SimpleNamespace(
            status=SimpleNamespace(value="PENDING"), message="", driver_exit_code=None,
            start_time=1_700_000_000_000, end_time=None, metadata=kw["metadata"],
            submission_id=job_id,
        )  # like Ray's JobDetails: no entrypoint_num_cpus/gpus fields
        return job_id

    def get_job_info(self, job_id):
        self._check()
        if job_id not in self.jobs:
            raise RuntimeError(f"Request failed with status code 404: Job {job_id} does not exist.")
        return self.jobs[job_id]

    def stop_job(self, job_id):
        self._check()
        self.jobs[job_id].status = SimpleNamespace(value="STOPPED")
        return True

    def get_job_logs(self, job_id):
        self._check()
        return "line 1\nline 2\n"

    def list_jobs(self):
        self._check()
        return list(self.jobs.values())


def test_without_ray_the_error_says_how_to_install_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    monkeypatch.delitem(sys.modules, "ray.job_submission", raising=False)
    monkeypatch.delitem(sys.modules, "ray", raising=False)
    with pytest.raises(BackendDependencyMissing, match=r"pip install 'gaodi\[ray\]'"):
        RayBackend("http://127.0.0.1:8265")
    with pytest.raises(ImportError):  # it is an ImportError too
        get_backend("ray", address="http://127.0.0.1:8265")


def test_find_looks_jobs_up_by_the_name_in_their_metadata():
    client = FakeClient()
    b = RayBackend(client=client)
    first = b.submit(JobSpec(name="gaodi-job-1-aaaa", script="true\n"))
    b.submit(JobSpec(name="gaodi-job-2-bbbb", script="true\n"))
    again = b.submit(JobSpec(name="gaodi-job-1-aaaa", script="true\n"))
    assert b.find("gaodi-job-1-aaaa") == [first, again]
    assert b.find("nobody") == []
    client.down = True
    with pytest.raises(BackendUnavailable):
        b.find("gaodi-job-1-aaaa")


def test_submit_maps_the_spec_onto_the_jobs_api():
    client = FakeClient()
    b = RayBackend(client=client)
    spec = JobSpec(name="ray-train", script="echo 'it''s'\n", accelerators=2, cpus=3, memory_mb=512,
                   time_limit_s=77, working_dir="/tmp/ray work", env={"EPOCHS": "2"})
    assert b.submit(spec) == "raysubmit_1"
    kw = client.submitted[0]
    assert kw["entrypoint_num_cpus"] == 3
    assert kw["entrypoint_num_gpus"] == 2
    assert kw["entrypoint_memory"] == 512 * 1024 * 1024
    assert kw["runtime_env"]["env_vars"]["EPOCHS"] == "2"
    assert kw["runtime_env"]["env_vars"]["GAODI_ACCELERATORS"] == "2"
    assert kw["entrypoint"] == build_entrypoint(spec)
    assert "timeout --signal=TERM --kill-after=10 77 bash -c" in kw["entrypoint"]
    assert kw["entrypoint"].startswith("mkdir -p '/tmp/ray work' && cd '/tmp/ray work' && ")


def test_the_entrypoint_runs_the_script_exactly(tmp_path):
    # The quoting survives a real shell: what bash runs is the script, byte for byte.
    script = "printf '%s\\n' \"$1-x\" 'single '\"'\"' quote' \"$HOME\" '算力'\n"
    spec = JobSpec(name="q", script=script, time_limit_s=10, working_dir=str(tmp_path / "wd"))
    out = subprocess.run(["/bin/sh", "-c", build_entrypoint(spec)], capture_output=True, text=True,
                         env={"PATH": os.environ["PATH"], "HOME": "/home/x"}, check=True)
    assert out.stdout == "-x\nsingle ' quote\n/home/x\n算力\n"
    assert (tmp_path / "wd").is_dir()


def test_states_exit_codes_timeouts_and_cancel():
    client = FakeClient()
    b = RayBackend(client=client)
    job_id = b.submit(JobSpec(name="j", script="true", time_limit_s=5))
    assert b.status(job_id).state is JobState.PENDING
    info = client.jobs[job_id]
    info.status = SimpleNamespace(value="RUNNING")
    assert b.status(job_id).state is JobState.RUNNING
    info.status, info.driver_exit_code, info.message = SimpleNamespace(value="FAILED"), 124, "exit 124"
    info.end_time = 1_700_000_007_500
    st = b.status(job_id)
    assert (st.state, st.backend_state, st.reason) == (JobState.FAILED, "TIMEOUT", "time limit of 5 s reached")
    u = b.usage(job_id)
    assert u.elapsed_s == pytest.approx(7.5)
    assert u.start is not None and u.end is not None
    assert u.cpus == 1 and u.cpu_seconds == pytest.approx(7.5)
    info.status, info.driver_exit_code, info.message = SimpleNamespace(value="SUCCEEDED"), 0, "ok"
    assert (b.status(job_id).state, b.status(job_id).exit_code) == (JobState.COMPLETED, 0)
    b.cancel(job_id)  # finished: nothing to do
    assert b.status(job_id).state is JobState.COMPLETED
    other = b.submit(JobSpec(name="j2", script="sleep 100"))
    b.cancel(other)
    assert b.status(other).state is JobState.CANCELLED
    assert b.logs(other, tail_bytes=7) == "line 2\n"


def test_unknown_jobs_and_an_unreachable_server():
    client = FakeClient()
    b = RayBackend(client=client)
    assert b.status("raysubmit_nope").state is JobState.UNKNOWN
    with pytest.raises(JobNotFound):
        b.usage("raysubmit_nope")
    assert b.ping()
    client.down = True
    assert not b.ping()
    with pytest.raises(BackendUnavailable):
        b.status("raysubmit_nope")
    with pytest.raises(BackendUnavailable):
        b.submit(JobSpec(name="j", script="true"))


def test_a_refused_submission_is_rejected():
    class Refusing(FakeClient):
        def submit_job(self, **kw):
            raise RuntimeError("Request failed with status code 400: entrypoint_num_gpus must be >= 0")

    with pytest.raises(JobRejected):
        RayBackend(client=Refusing()).submit(JobSpec(name="j", script="true"))


# --- a real Ray cluster ------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    if RAY_MISSING:
        pytest.skip(SKIP_REASON)
    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    port, dash = free_port(), free_port()
    tmp = tmp_path_factory.mktemp("ray")
    # --block keeps `ray start` in the foreground: stopping it (its process group) stops the
    # cluster it started, and nothing else.
    proc = subprocess.Popen(
        [ray_cli, "start", "--head", "--block", f"--port={port}", f"--dashboard-port={dash}",
         "--dashboard-host=127.0.0.1", "--num-cpus=2", "--include-dashboard=true", "--disable-usage-stats",
         f"--temp-dir={tmp}"],
        stdout=open(tmp / "ray.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    address = f"http://127.0.0.1:{dash}"
    deadline = time.monotonic() + 120
    backend = None
    # Ready when it takes a job: the job server answers before its agent can run jobs, and
    # says "unavailable" until then - the answer the platform retries on.
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            backend = RayBackend(address)
            backend.wait(backend.submit(JobSpec(name="ready", script="true")), timeout_s=60)
            break
        except BackendUnavailable:
            backend = None
            time.sleep(1)
    if backend is None:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail(f"the Ray head did not come up: {(tmp / 'ray.log').read_text()[-2000:]}")
    yield backend
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def test_real_ray_job_runs_with_logs_usage_and_cancel(ray_cluster, tmp_path):
    b = ray_cluster
    job_id = b.submit(JobSpec(name="ray-hello", script='echo "hello $GREETING"; sleep 2; echo done',
                              env={"GREETING": "浦东"}, working_dir=str(tmp_path / "wd"), time_limit_s=60))
    st = b.wait(job_id, timeout_s=90, poll_s=0.5)
    assert (st.state, st.exit_code) == (JobState.COMPLETED, 0), st
    assert "hello 浦东\n" in b.logs(job_id)
    usage = b.usage(job_id)
    assert usage.elapsed_s >= 2 and usage.cpus == 1
    failing = b.submit(JobSpec(name="ray-fail", script="exit 4", time_limit_s=60))
    st = b.wait(failing, timeout_s=60, poll_s=0.5)
    assert st.state is JobState.FAILED and st.exit_code in (4, None)
    slow = b.submit(JobSpec(name="ray-slow", script="sleep 300", time_limit_s=2))
    st = b.wait(slow, timeout_s=60, poll_s=0.5)
    assert st.state is JobState.FAILED
    assert st.backend_state == "TIMEOUT" or st.exit_code is None  # exit code needs Ray >= 2.9
    long = b.submit(JobSpec(name="ray-cancel", script="sleep 300", time_limit_s=600))
    deadline = time.monotonic() + 60
    while b.status(long).state is JobState.PENDING and time.monotonic() < deadline:
        time.sleep(0.5)
    b.cancel(long)
    assert b.wait(long, timeout_s=60, poll_s=0.5).state is JobState.CANCELLED
    changes = reconcile({job_id: JobState.RUNNING, "raysubmit_neverwas": JobState.RUNNING}, b)
    after = {c.job_id: c.after.state for c in changes}
    assert after == {job_id: JobState.COMPLETED, "raysubmit_neverwas": JobState.FAILED}
