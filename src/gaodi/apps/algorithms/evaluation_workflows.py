"""The evaluation request workflow (registered with the core workflow engine).

requested → accepted (institution) → running → completed | failed → issued → revoked.
A skops model file whose types are not all approved by the institution is not accepted or retried
(evaluation_actions.approve_types; the approval is not a state change). A failed request, or a running one whose worker stopped reporting for EVALUATION_RUN_TIMEOUT_S,
can be retried by the institution; the institution can decline a request with a comment.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .evaluation_models import EvaluationState as S
from .evaluation_policies import EvaluationRequestPolicy, is_stale

_policy = EvaluationRequestPolicy()
# Working days an institution has to accept or decline, and to issue a completed report.
ACCEPT_DAYS = 5
ISSUE_DAYS = 10


def _institution(user, request) -> bool:
    return _policy.can(user, "evaluate", request)


def _can_retry(user, request) -> bool:
    return _institution(user, request) and (request.state == S.FAILED or is_stale(request))


def _system(user, request) -> bool:
    return False  # applied by the background task with system=True


EVALUATION = Workflow("algorithm_evaluation", dict(S.choices))
EVALUATION.add(Transition("accept", _("受理并开始评估"), (S.REQUESTED,), S.ACCEPTED, _institution))
EVALUATION.add(Transition("decline", _("不予受理"), (S.REQUESTED,), S.DECLINED, _institution,
                          comment_required=True, style="danger"))
EVALUATION.add(Transition("start", _("开始运行"), (S.ACCEPTED,), S.RUNNING, _system))
EVALUATION.add(Transition("complete", _("评估完成"), (S.RUNNING,), S.COMPLETED, _system, deadline_days=ISSUE_DAYS))
EVALUATION.add(Transition("fail", _("评估失败"), (S.RUNNING,), S.FAILED, _system))
EVALUATION.add(Transition("retry", _("重新运行"), (S.FAILED, S.RUNNING), S.ACCEPTED, _can_retry, style="secondary"))
EVALUATION.add(Transition("issue", _("出具报告并签发证书"), (S.COMPLETED,), S.ISSUED, _institution))
EVALUATION.add(Transition("revoke", _("撤销证书"), (S.ISSUED,), S.REVOKED, _institution,
                          comment_required=True, style="danger"))

INSTITUTION_TRANSITIONS = ("accept", "decline", "retry", "issue", "revoke")
# Transitions that queue a run: offered only once every type a skops file would create is approved
# (evaluation_actions refuses them too, with the types named).
RUN_TRANSITIONS = ("accept", "retry")


def institution_transitions(user, request) -> list[Transition]:
    """The institution's operations on `request` now (the page's buttons, the API's `transitions`)."""
    from .evaluation_trust import pending_types

    blocked = RUN_TRANSITIONS if pending_types(request) else ()
    return [t for t in EVALUATION.available(user, request) if t.name in INSTITUTION_TRANSITIONS
            and t.name not in blocked]
