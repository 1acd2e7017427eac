"""Background task of labeling (run by `gaodi worker`): importing a large dataset version as tasks."""

from __future__ import annotations

from django_tasks import task


@task()
def run_labeling_import(import_id: int) -> str:
    """Read one dataset version into labeling tasks, writing progress as it goes; store the outcome."""
    from . import labeling_actions

    return labeling_actions.run_import(import_id).state
