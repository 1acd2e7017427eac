"""Background tasks of the data domain (run by `gaodi worker`)."""

from __future__ import annotations

from django_tasks import task


@task()
def run_quality_report(version_id: int) -> str:
    """Profile and scan one uploaded resource version with the data quality engine; store the result."""
    from . import actions

    return actions.run_quality_report(version_id).quality_state
