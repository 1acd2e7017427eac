"""The catalog nomination workflow (registered with the core workflow engine).

pending (nominated by the enterprise, REVIEW_DAYS working days to decide) → approved | rejected,
decided by a reviewer of the department that reviewed the filing; a rejection needs a comment.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from gaodi.apps.core.workflow import Transition, Workflow

from .catalog_models import CatalogState as S
from .catalog_policies import CatalogEntryPolicy

_policy = CatalogEntryPolicy()
# Working days the department has to decide on a nomination.
REVIEW_DAYS = 15


def _reviewer(user, entry) -> bool:
    return _policy.can(user, "review", entry)


CATALOG = Workflow("algorithm_catalog", dict(S.choices))
CATALOG.add(Transition("approve", _("同意列入推荐目录"), (S.PENDING,), S.APPROVED, _reviewer))
CATALOG.add(Transition("reject", _("不予列入"), (S.PENDING,), S.REJECTED, _reviewer,
                       comment_required=True, style="danger"))

REVIEW_TRANSITIONS = ("approve", "reject")
