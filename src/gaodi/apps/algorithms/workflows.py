"""The filing workflow (registered with the core workflow engine)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .models import State
from .policies import FilingPolicy

_policy = FilingPolicy()
# Working days a department has to decide on a filing or a deregistration.
REVIEW_DAYS = 20


def _owner(user, filing) -> bool:
    return _policy.can(user, "submit", filing)


def _reviewer(user, filing) -> bool:
    return _policy.can(user, "review", filing)


FILING = Workflow("algorithm_filing", dict(State.choices))
FILING.add(Transition("submit", _("提交备案"), (State.DRAFT, State.RETURNED), State.SUBMITTED, _owner,
                      deadline_days=REVIEW_DAYS))
FILING.add(Transition("return", _("退回修改"), (State.SUBMITTED,), State.RETURNED, _reviewer,
                      comment_required=True, style="secondary"))
FILING.add(Transition("reject", _("不予备案"), (State.SUBMITTED,), State.REJECTED, _reviewer,
                      comment_required=True, style="danger"))
FILING.add(Transition("approve", _("准予备案"), (State.SUBMITTED,), State.APPROVED, _reviewer))
FILING.add(Transition("withdraw", _("撤回"), (State.DRAFT, State.RETURNED), State.WITHDRAWN, _owner,
                      style="secondary"))
FILING.add(Transition("request_deregistration", _("申请注销"), (State.APPROVED,), State.DEREGISTRATION_REQUESTED,
                      _owner, deadline_days=REVIEW_DAYS, comment_required=True, style="danger"))
FILING.add(Transition("approve_deregistration", _("准予注销"), (State.DEREGISTRATION_REQUESTED,),
                      State.DEREGISTERED, _reviewer, style="danger"))
FILING.add(Transition("refuse_deregistration", _("不予注销"), (State.DEREGISTRATION_REQUESTED,), State.APPROVED,
                      _reviewer, comment_required=True, style="secondary"))
# Not offered in the UI: applied by the system when a change version is approved.
FILING.add(Transition("supersede", _("被变更版本取代"), (State.APPROVED,), State.SUPERSEDED, lambda u, f: False))

# Transitions the UI offers on the review page vs. the enterprise's page.
REVIEW_TRANSITIONS = ("approve", "return", "reject", "approve_deregistration", "refuse_deregistration")
OWNER_TRANSITIONS = ("submit", "withdraw", "request_deregistration")
