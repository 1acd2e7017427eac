"""The catalog nomination workflow (registered with the core workflow engine).

pending (nominated by the enterprise, REVIEW_DAYS working days to decide) → approved | rejected,
decided by a reviewer of the department that reviewed the filing; a rejection needs a comment.

Leaving the catalog (docs/evaluation.md, "The recommended catalog"):
- withdraw: the enterprise withdraws its own nomination or listed entry, with a reason (Art. 15 makes
  the catalog a recommendation the enterprise asked for, so it may stop asking);
- remove: the reviewing department takes a listed entry out, with a reason (the department keeps the
  catalog, Art. 15 para. 1);
- suspend: a system transition, applied in the same transaction as the revocation of the certificate
  the entry rests on (pending or listed).
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


def _owner(user, entry) -> bool:
    return _policy.can(user, "withdraw", entry)


def _system(user, entry) -> bool:
    return False  # applied by the certificate revocation with system=True


CATALOG = Workflow("algorithm_catalog", dict(S.choices))
CATALOG.add(Transition("approve", _("同意列入推荐目录"), (S.PENDING,), S.APPROVED, _reviewer))
CATALOG.add(Transition("reject", _("不予列入"), (S.PENDING,), S.REJECTED, _reviewer,
                       comment_required=True, style="danger"))
CATALOG.add(Transition("withdraw", _("撤回（退出推荐目录）"), (S.PENDING, S.APPROVED), S.WITHDRAWN, _owner,
                       comment_required=True, style="secondary"))
CATALOG.add(Transition("remove", _("移出推荐目录"), (S.APPROVED,), S.REMOVED, _reviewer,
                       comment_required=True, style="danger"))
CATALOG.add(Transition("suspend", _("证书撤销，暂停推荐"), (S.PENDING, S.APPROVED), S.SUSPENDED, _system))

REVIEW_TRANSITIONS = ("approve", "reject", "remove")
OWNER_TRANSITIONS = ("withdraw",)
