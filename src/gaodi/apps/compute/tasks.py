"""Background tasks of the compute platform (run by `gaodi worker`).

`dispatch_job` submits a queued job to its backend (and is retried with back-off while the backend is
down), `poll_job` follows a submitted job until it ends (then its usage is billed), and
`reconcile_compute` repairs everything after a restart. Polls and retries are deferred tasks (`run_after`);
on a task backend that cannot defer, they are left to `reconcile_compute` instead.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks import task


def schedule(t, *args, delay_s: float = 0) -> None:
    """Enqueue a task, after `delay_s` seconds when the backend can defer. Without deferral, delayed work is
    not enqueued at all (an immediate backend would otherwise loop): reconciliation picks it up."""
    if delay_s > 0:
        if not t.get_backend().supports_defer:
            return
        t = t.using(run_after=timezone.now() + timedelta(seconds=delay_s))
    t.enqueue(*args)


@task()
def dispatch_job(job_id: int) -> str:
    from . import actions

    return actions.dispatch_job(job_id).state


@task()
def poll_job(job_id: int) -> str:
    from . import actions

    job = actions.refresh_job(job_id)
    if job.on_backend or actions.awaiting_usage(job):
        schedule(poll_job, job_id, delay_s=actions.poll_interval())
    return job.state


@task()
def reconcile_compute() -> dict:
    from . import actions

    return actions.reconcile_jobs()
