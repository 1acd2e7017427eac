"""The platform on the real single-node Slurm cluster (`.ci/slurm-setup.sh`): a pool whose partition does not
exist is refused by sbatch and the job fails over to the next Slurm pool, runs, and is billed from Slurm's
accounting; a submission whose answer is lost is looked up by the job's unique name and adopted, so Slurm
holds exactly one job. Skipped without a cluster (a failure under GAODI_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from test_compute_app_support import build_compute_world, make_pool, submit, wait_until_done

from gaodi.apps.compute import actions
from gaodi.apps.compute.models import Job, Redemption
from gaodi.engines.compute.backends import BackendUnavailable
from gaodi.engines.compute.backends.slurm import SlurmBackend
from tests.conftest import require_service


def _slurm_problem() -> str | None:
    if not shutil.which("sbatch"):
        return "Slurm is not installed (no sbatch); run .ci/slurm-setup.sh as root"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "scontrol ping did not answer; run .ci/slurm-setup.sh"
    if ping.returncode != 0 or "is UP" not in ping.stdout:
        return f"slurmctld is not up ({ping.stdout.strip() or ping.stderr.strip()}); run .ci/slurm-setup.sh"
    return None


@pytest.fixture
def slurm_world(world, settings, tmp_path):
    problem = _slurm_problem()
    require_service(problem is None, problem or "")
    w = build_compute_world(world, settings, tmp_path)
    settings.GAODI_COMPUTE_BACKENDS = {"slurm": {"work_root": str(tmp_path / "slurm-work")}}
    # The CI cluster has no GPUs as generic resources: its pools ask for none (gres=none) and bills count
    # the accelerators the job asked for. The cheapest pool names a partition the cluster does not have.
    w.sl_bad = make_pool(w.petra, w.site_a, "sl-nopart", "MLU370", count=8, price="60.00", backend="slurm")
    w.sl_good = make_pool(w.petra, w.site_a, "sl-debug", "MLU370", count=8, price="90.00", backend="slurm")
    w.sl_bad.backend_options = {"partition": "gaodi-no-such-partition", "gres": "none"}
    w.sl_bad.save()
    w.sl_good.backend_options = {"gres": "none"}
    w.sl_good.save()
    return w


def wait_settled(job, timeout=60.0):
    """Until the job has ended and its usage is in from Slurm's accounting (which lags the controller)."""
    job = wait_until_done(job, timeout=timeout)
    deadline = time.monotonic() + timeout
    while actions.awaiting_usage(job) and time.monotonic() < deadline:
        time.sleep(0.3)
        job = actions.refresh_job(job.pk)
    return job


def _named(name: str) -> list[str]:
    live = subprocess.run(["squeue", "-h", "-t", "all", f"--name={name}", "-o", "%i"], capture_output=True,
                          text=True, check=True).stdout.split()
    acct = subprocess.run(["sacct", "-n", "-X", "-P", f"--name={name}", "-S", "now-1days", "-o", "JobIDRaw"],
                          capture_output=True, text=True, check=True).stdout.split()
    return sorted(set(live) | set(acct))


def test_an_unknown_partition_fails_over_to_the_next_slurm_pool_which_runs_and_bills(slurm_world):
    w = slurm_world
    job = submit(w.alice, w.ent_a)
    assert job.pool == w.sl_bad
    job = actions.dispatch_job(job.pk)
    assert job.state == "queued" and job.pool == w.sl_good
    refused = job.pool_attempts[0]
    assert refused["pool"] == "sl-nopart" and refused["outcome"] == "refused"
    assert "invalid partition" in refused["reason"].lower()
    job = actions.dispatch_job(job.pk)
    assert job.state in ("pending", "running", "completed") and job.backend_job_id.isdigit()
    job = wait_settled(job)
    assert job.state == "completed", (job.reason, job.log_tail)
    assert "hello from gaodi" in job.log_tail and job.usage_source.startswith("slurm accounting")
    bill = Redemption.objects.get(job=job)
    assert bill.pool == w.sl_good and bill.accelerators == 1 and bill.list_price > 0
    assert _named(job.backend_name) == [job.backend_job_id]


def test_a_lost_sbatch_answer_is_adopted_and_slurm_holds_one_job(slurm_world, monkeypatch):
    w = slurm_world
    real_run = SlurmBackend._run
    state = {"lose_sbatch": 1, "lookups_down": 1}

    def losing_run(self, argv, stdin=None, env=None):
        if argv[0] == "squeue" and any(a.startswith("--name=") for a in argv) and state["lookups_down"]:
            state["lookups_down"] -= 1
            raise BackendUnavailable("squeue did not answer (test)")
        result = real_run(self, argv, stdin, env)
        if argv[0] == "sbatch" and state["lose_sbatch"] and result[0] == 0:
            state["lose_sbatch"] -= 1
            raise BackendUnavailable("sbatch did not answer (test)", maybe_submitted=True)
        return result

    monkeypatch.setattr(SlurmBackend, "_run", losing_run)
    job = submit(w.alice, w.ent_a, pool="sl-debug")
    job = actions.dispatch_job(job.pk)
    assert job.state == "queued" and job.pool_attempts[-1]["outcome"] == "unknown"
    assert len(_named(job.backend_name)) == 1  # Slurm did get it
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    job = actions.dispatch_job(job.pk)
    assert job.state in ("pending", "running", "completed") and job.pool_attempts[-1]["outcome"] == "adopted"
    assert _named(job.backend_name) == [job.backend_job_id]  # looked up, not submitted again
    job = wait_settled(job)
    assert job.state == "completed" and Redemption.objects.filter(job=job).count() == 1
    assert _named(job.backend_name) == [job.backend_job_id]
