"""The voucher application workflow (registered with the core workflow engine)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .choices import ApplicationState as S
from .policies import ApplicationPolicy

_policy = ApplicationPolicy()
# Working days the department has to decide on a voucher application.
REVIEW_DAYS = 10


def _owner(user, application) -> bool:
    return _policy.can(user, "submit", application)


def _reviewer(user, application) -> bool:
    return _policy.can(user, "review", application)


VOUCHER_APPLICATION = Workflow("voucher_application", dict(S.choices))
VOUCHER_APPLICATION.add(Transition("submit", _("提交申请"), (S.DRAFT, S.RETURNED), S.SUBMITTED, _owner,
                                   deadline_days=REVIEW_DAYS))
VOUCHER_APPLICATION.add(Transition("approve", _("批准并发放算力券"), (S.SUBMITTED,), S.APPROVED, _reviewer))
VOUCHER_APPLICATION.add(Transition("return", _("退回修改"), (S.SUBMITTED,), S.RETURNED, _reviewer,
                                   comment_required=True, style="secondary"))
VOUCHER_APPLICATION.add(Transition("reject", _("不予批准"), (S.SUBMITTED,), S.REJECTED, _reviewer,
                                   comment_required=True, style="danger"))
VOUCHER_APPLICATION.add(Transition("withdraw", _("撤回申请"), (S.DRAFT, S.SUBMITTED, S.RETURNED), S.WITHDRAWN,
                                   _owner, style="secondary"))

REVIEW_TRANSITIONS = ("approve", "return", "reject")
OWNER_TRANSITIONS = ("submit", "withdraw")
