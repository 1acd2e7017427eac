"""The labeling task's review workflow (registered with the core workflow engine).

A task is open while annotations come in; it becomes complete (system transition) when it has as many
annotations as the project's overlap; a reviewer of the project's organization decides its final label
from any state, and may decide again (each decision is a new history row and a new ReviewDecision)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .labeling_models import TaskState as S
from .labeling_policies import LabelingTaskPolicy

_policy = LabelingTaskPolicy()


def _reviewer(user, task) -> bool:
    return _policy.can(user, "review", task)


def _nobody(user, task) -> bool:
    return False  # system consequence of the last annotation; applied with system=True


LABELING_TASK = Workflow("data_labeling_task", dict(S.choices))
LABELING_TASK.add(Transition("complete", _("标注已齐"), (S.OPEN,), S.COMPLETE, _nobody))
LABELING_TASK.add(Transition("decide", _("审核裁定"), (S.OPEN, S.COMPLETE, S.DECIDED), S.DECIDED, _reviewer))
