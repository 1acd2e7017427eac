"""The core workflow: explicit states, registered transitions with guards, insert-only history and
deadlines counted in Chinese working days. Filing uses it; vouchers, data access and ethics review
will register their own workflows the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from gaodi.engines import workdays

from .models import User, WorkflowHistory

Guard = Callable[[User, models.Model], bool]


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: tuple[str, ...]
    target: str
    guard: Guard
    # Working days the next actor has to act after this transition (None: no deadline).
    deadline_days: int | None = None
    comment_required: bool = False
    style: str = "primary"  # button style in the UI: primary, danger, secondary


@dataclass
class Workflow:
    name: str
    states: dict[str, str]
    transitions: dict[str, Transition] = field(default_factory=dict)
    state_field: str = "state"
    deadline_field: str = "deadline"

    def add(self, transition: Transition) -> None:
        unknown = {*transition.sources, transition.target} - set(self.states)
        if unknown:
            raise ValueError(f"{self.name}: transition {transition.name} uses unknown states {unknown}")
        self.transitions[transition.name] = transition

    def available(self, user: User, obj: models.Model) -> list[Transition]:
        state = getattr(obj, self.state_field)
        return [t for t in self.transitions.values() if state in t.sources and _allowed(t, user, obj)]

    def apply(self, obj: models.Model, name: str, actor: User, comment: str = "", today: date | None = None,
              system: bool = False):
        """Move obj along one transition and write its history row. The caller holds the transaction.

        system=True is for consequences of another, already authorised action (a superseded version).
        """
        transition = self.transitions.get(name)
        if transition is None:
            raise ValidationError({"transition": _("未知操作：%(name)s") % {"name": name}})
        state = getattr(obj, self.state_field)
        if state not in transition.sources:
            raise ValidationError(
                {"transition": _("当前状态“%(state)s”下不能执行“%(label)s”。")
                 % {"state": self.states.get(state, state), "label": transition.label}}
            )
        if not system and not _allowed(transition, actor, obj):
            raise PermissionDenied(_("您无权执行“%(label)s”。") % {"label": transition.label})
        comment = (comment or "").strip()
        if transition.comment_required and not comment:
            raise ValidationError({"comment": _("“%(label)s”须填写意见，请说明原因。") % {"label": transition.label}})
        deadline = None
        if transition.deadline_days is not None:
            deadline = workdays.add_working_days(today or timezone.localdate(), transition.deadline_days)
        setattr(obj, self.state_field, transition.target)
        setattr(obj, self.deadline_field, deadline)
        obj.save()
        return WorkflowHistory.objects.create(
            content_type=ContentType.objects.get_for_model(obj),
            object_id=obj.pk,
            transition=transition.name,
            from_state=state,
            to_state=transition.target,
            actor=actor,
            comment=comment,
            deadline=deadline,
        )


    def history(self, obj: models.Model) -> list[WorkflowHistory]:
        """History rows with display labels attached (from_label, to_label, transition_label)."""
        rows = list(history(obj))
        for row in rows:
            row.from_label = self.states.get(row.from_state, row.from_state)
            row.to_label = self.states.get(row.to_state, row.to_state)
            t = self.transitions.get(row.transition)
            row.transition_label = t.label if t else row.transition
        return rows


def _allowed(transition: Transition, user: User, obj: models.Model) -> bool:
    return bool(user and user.is_authenticated and transition.guard(user, obj))


def history(obj: models.Model):
    return WorkflowHistory.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk
    ).select_related("actor")


def deadline_status(deadline: date | None, today: date | None = None) -> str:
    """'overdue', 'soon' (within 2 working days) or '' for the queue's highlighting."""
    if deadline is None:
        return ""
    remaining = workdays.working_days_between(today or timezone.localdate(), deadline)
    if remaining < 0:
        return "overdue"
    return "soon" if remaining <= 2 else ""
