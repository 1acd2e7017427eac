"""Who may see and act on catalog entries: entries that are or were in the catalog are public; a
nomination is seen by its enterprise and by the reviewers of the filing's department, who alone
decide on it and may remove a listed entry; the enterprise may withdraw its own entry."""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.core.choices import Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .catalog_models import ENDED_STATES, CatalogEntry, CatalogState
from .policies import department_ids, enterprise_ids


def is_public(entry: CatalogEntry) -> bool:
    return entry.state == CatalogState.APPROVED or (entry.state in ENDED_STATES and entry.listed_at is not None)


@register
class CatalogEntryPolicy(Policy):
    model = CatalogEntry

    def visible(self, user, qs):
        if is_authenticated(user) and user.is_superuser:
            return qs
        rule = Q(state=CatalogState.APPROVED) | Q(state__in=ENDED_STATES, listed_at__isnull=False)
        if is_authenticated(user):
            rule |= Q(organization_id__in=enterprise_ids(user))
            rule |= Q(department_id__in=department_ids(user, Role.REVIEWER))
        return qs.filter(rule)

    def can(self, user, perm, obj=None):
        if perm == "view" and obj is not None and is_public(obj):
            return True
        if not is_authenticated(user):
            return False
        if perm == "add":
            return bool(enterprise_ids(user))
        if obj is None:
            return perm == "review" and bool(department_ids(user, Role.REVIEWER))
        if perm == "view":
            return (obj.organization_id in enterprise_ids(user)
                    or obj.department_id in department_ids(user, Role.REVIEWER))
        if perm == "review":  # approve, reject, remove
            return obj.department_id in department_ids(user, Role.REVIEWER)
        if perm == "withdraw":
            return obj.organization_id in enterprise_ids(user)
        return False
