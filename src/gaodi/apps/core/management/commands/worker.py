"""`gaodi worker`: the background task worker (django-tasks, database backend).

A thin wrapper around django_tasks_db's `db_worker`, under the platform's own name: every option of
`db_worker` is accepted unchanged.
"""

from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Command as DbWorkerCommand


class Command(DbWorkerCommand):
    help = (
        "Run the background task worker: it takes tasks that actions enqueued (after their transaction "
        "committed) from the database queue and runs them, e.g. evaluations and exports. Run one or more "
        "next to the web server; `gaodi serve` and `gaodi demo` start one for you. Stop with Ctrl+C or "
        "SIGTERM: the task in progress finishes first (press Ctrl+C again to abort it). --batch runs the "
        "queued tasks and exits. Same options as django_tasks_db's `db_worker`; --reload defaults to DEBUG."
    )
