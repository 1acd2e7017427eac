"""The access application workflow (registered with the core workflow engine)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .models import ApplicationState as S
from .policies import ApplicationPolicy

_policy = ApplicationPolicy()
# Working days the publisher has to decide on an access application.
REVIEW_DAYS = 10


def _owner(user, application) -> bool:
    return _policy.can(user, "submit", application)


def _reviewer(user, application) -> bool:
    return _policy.can(user, "review", application)


ACCESS_APPLICATION = Workflow("data_access_application", dict(S.choices))
ACCESS_APPLICATION.add(Transition("submit", _("提交申请"), (S.DRAFT,), S.SUBMITTED, _owner, deadline_days=REVIEW_DAYS))
ACCESS_APPLICATION.add(Transition("approve", _("批准并授权"), (S.SUBMITTED,), S.APPROVED, _reviewer))
ACCESS_APPLICATION.add(Transition("reject", _("不予批准"), (S.SUBMITTED,), S.REJECTED, _reviewer,
                                  comment_required=True, style="danger"))
ACCESS_APPLICATION.add(Transition("withdraw", _("撤回申请"), (S.DRAFT, S.SUBMITTED), S.WITHDRAWN, _owner,
                                  style="secondary"))

REVIEW_TRANSITIONS = ("approve", "reject")
OWNER_TRANSITIONS = ("withdraw",)
