"""Jobs are never lost: a backend that is down leaves jobs queued and retried, polling a backend that went
away changes nothing, reconciliation after a restart finishes and bills what ran meanwhile, a job the backend
lost is marked failed only once the backend answers, and the background tasks drive all of it."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from test_compute_app_support import build_compute_world, submit, wait_until, wait_until_done

from gaodi.apps.compute import actions, runners
from gaodi.apps.compute.models import Job, JobEvent, Redemption
from gaodi.engines.compute.backends import BackendUnavailable


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


class DownBackend:
    """A backend whose controller does not answer."""

    kind = "local"

    def __init__(self):
        self.calls = 0

    def _down(self, *args, **kwargs):
        self.calls += 1
        raise BackendUnavailable("connection refused (test)")

    submit = status = cancel = logs = usage = _down

    def ping(self):
        return False


@pytest.fixture
def backend_down(monkeypatch):
    down = DownBackend()
    real = runners.backend_for
    state = {"down": True}
    monkeypatch.setattr(runners, "backend_for",
                        lambda kind, options=None: down if state["down"] else real(kind, options))
    return state


def _due(job):
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_backend_down_at_submission_keeps_the_job_queued_and_retries(compute_world, backend_down):
    w = compute_world
    job = submit(w.alice, w.ent_a)
    job = actions.dispatch_job(job.pk)
    assert job.state == "queued" and job.attempts == 1 and "connection refused" in job.last_error
    assert job.next_attempt_at > timezone.now()
    assert actions.refresh_job(job.pk).attempts == 1  # not due yet: nothing is tried
    _due(job)
    summary = actions.reconcile_jobs()
    job.refresh_from_db()
    assert job.state == "queued" and job.attempts == 2 and summary["dispatched"] == 0
    assert JobEvent.objects.filter(job=job, message__contains="重试").count() == 2

    backend_down["down"] = False  # the backend is back
    _due(job)
    summary = actions.reconcile_jobs()
    job.refresh_from_db()
    assert summary["dispatched"] == 1 and job.state in ("pending", "running", "completed") and job.attempts == 3
    job = wait_until_done(job)
    assert job.state == "completed" and Redemption.objects.filter(job=job).count() == 1


def test_polling_a_backend_that_went_away_changes_nothing(compute_world, backend_down):
    w = compute_world
    backend_down["down"] = False
    job = submit(w.alice, w.ent_a, script="sleep 1; echo finished\n")
    actions.dispatch_job(job.pk)
    job = wait_until(job, ("running",))
    assert job.state == "running"
    backend_down["down"] = True
    job = actions.refresh_job(job.pk)
    assert job.state == "running" and "does not answer" in job.last_error
    summary = actions.reconcile_jobs()
    assert summary["unavailable"] == ["local"] and Job.objects.get(pk=job.pk).state == "running"
    backend_down["down"] = False
    job = wait_until_done(job)
    assert job.state == "completed" and "finished" in job.log_tail


def test_reconcile_after_a_restart_finishes_and_bills_once(compute_world):
    w = compute_world
    job = submit(w.alice, w.ent_a, script="sleep 0.3; echo done\n")
    actions.dispatch_job(job.pk)
    runners._CACHE.clear()  # the platform restarts: a new process, a new backend object
    time.sleep(0.8)
    deadline = time.monotonic() + 15
    while Job.objects.get(pk=job.pk).state != "completed" and time.monotonic() < deadline:
        actions.reconcile_jobs()
        time.sleep(0.1)
    actions.reconcile_jobs()  # idempotent
    job.refresh_from_db()
    assert job.state == "completed" and Redemption.objects.filter(job=job).count() == 1


def test_a_job_the_backend_lost_is_failed_only_when_the_backend_answers(compute_world, backend_down):
    w = compute_world
    job = submit(w.alice, w.ent_a)
    Job.objects.filter(pk=job.pk).update(state="running", backend_job_id="20260101000000-deadbeef",
                                         started_at=timezone.now())
    actions.reconcile_jobs()  # backend down: nothing is decided
    assert Job.objects.get(pk=job.pk).state == "running"
    backend_down["down"] = False
    actions.reconcile_jobs()
    job.refresh_from_db()
    assert job.state == "failed" and "lost by backend" in job.reason
    assert not Redemption.objects.filter(job=job).exists()


def test_a_job_every_pool_refuses_for_good_fails_with_every_reason(compute_world, settings):
    w = compute_world
    settings.GAODI_COMPUTE_BACKENDS = {"local": {"accelerators": 2}}  # the machine behind both pools has 2
    job = actions.dispatch_job(submit(w.alice, w.ent_a, accelerators="4").pk)
    assert job.state == "queued" and job.pool.code == "nx-local"  # refused by sh-local: on to the next pool
    job = actions.dispatch_job(job.pk)
    assert job.state == "failed" and job.attempts == 2
    assert [(a["pool"], a["outcome"]) for a in job.pool_attempts] == [("sh-local", "refused"), ("nx-local", "refused")]
    assert all("this machine has 2" in a["reason"] for a in job.pool_attempts)
    assert "sh-local" in job.last_error and "nx-local" in job.last_error


def test_tasks_submit_and_follow_the_job_on_an_immediate_backend(compute_world, settings,
                                                                 django_capture_on_commit_callbacks):
    w = compute_world
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with django_capture_on_commit_callbacks(execute=True):
        job = submit(w.alice, w.ent_a)
    job.refresh_from_db()
    assert job.state in ("pending", "running", "completed") and job.backend_job_id  # dispatched by the task
    from gaodi.apps.compute import tasks

    deadline = time.monotonic() + 15
    while not Job.objects.get(pk=job.pk).is_terminal and time.monotonic() < deadline:
        tasks.poll_job.enqueue(job.pk)  # a backend that cannot defer: each poll is enqueued by hand
        time.sleep(0.1)
    assert Job.objects.get(pk=job.pk).state == "completed"
    assert tasks.reconcile_compute.enqueue().return_value["unavailable"] == []


@pytest.mark.django_db(transaction=True)  # the worker sees only committed rows, as in production
def test_the_database_worker_dispatches_queued_jobs(compute_world):
    from django_tasks_db.models import DBTaskResult

    w = compute_world
    job = submit(w.alice, w.ent_a)
    task = DBTaskResult.objects.get(task_path__endswith="dispatch_job")
    call_command("db_worker", "--batch", "--no-startup-delay")
    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    job.refresh_from_db()
    assert job.state in ("pending", "running", "completed")
    poll = DBTaskResult.objects.get(task_path__endswith="poll_job")
    assert poll.run_after is not None and poll.run_after > job.submitted_at  # a deferred poll follows it
    assert wait_until_done(job).state == "completed"


class LaggingAccounting:
    """A backend whose controller says the job ended before its accounting has the record (as Slurm's)."""

    kind = "slurm"

    def __init__(self):
        self.recorded = False

    def ping(self):
        return True

    def status(self, job_id):
        from gaodi.engines.compute.backends import JobState, JobStatus

        return JobStatus(JobState.COMPLETED, 0, "", "COMPLETED")

    def usage(self, job_id):
        from datetime import UTC, datetime

        from gaodi.engines.compute.backends import Usage

        if not self.recorded:
            return Usage(None, None, 0.0, 0, 0, 0.0, 0.0, None, "slurm: not in accounting yet", complete=False)
        start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        return Usage(start, start + timedelta(seconds=90), 90.0, 1, 1, 90.0, 90.0, None, "slurm accounting (sacct)")

    def logs(self, job_id, tail_bytes=0):
        return "done\n"


def test_a_job_that_ended_before_its_accounting_record_is_billed_once_the_record_is_in(compute_world, monkeypatch):
    w = compute_world
    backend = LaggingAccounting()
    monkeypatch.setattr(runners, "backend_for_pool", lambda pool: backend)
    job = submit(w.alice, w.ent_a)
    Job.objects.filter(pk=job.pk).update(state="running", backend_job_id="4242", started_at=timezone.now())
    job = actions.refresh_job(job.pk)
    assert job.state == "completed" and actions.awaiting_usage(job) and not Redemption.objects.filter(job=job).exists()
    assert actions.refresh_job(job.pk).usage_source == actions.AWAITING_USAGE  # still not recorded: asked again
    backend.recorded = True
    actions.reconcile_jobs()
    job.refresh_from_db()
    assert not actions.awaiting_usage(job) and job.elapsed_s == 90.0
    bill = Redemption.objects.get(job=job)
    assert bill.billed_seconds == 120 and bill.list_price == Decimal("4.00")  # two started minutes at 120/h
    actions.reconcile_jobs()
    assert Redemption.objects.filter(job=job).count() == 1


def test_a_job_that_started_is_billed_its_first_increment_even_at_zero_seconds():
    assert actions.billed_seconds(0.0, started=True) == 60
    assert actions.billed_seconds(0.0) == 0
    assert actions.billed_seconds(61.0) == 120
