"""Who may see and do what with filings and disclosure batches."""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .models import PUBLIC_STATES, AlgorithmFiling, DisclosureBatch, State


def enterprise_ids(user) -> set[int]:
    """Enterprises the user may file for."""
    if not is_authenticated(user):
        return set()
    return set(
        user.memberships.filter(role__in=[Role.MEMBER, Role.ADMIN], organization__kind=OrgKind.ENTERPRISE)
        .values_list("organization_id", flat=True)
    )


def department_ids(user, role: str) -> set[int]:
    """Departments in which the user holds role (reviewer or publisher)."""
    if not is_authenticated(user):
        return set()
    return set(
        user.memberships.filter(role=role, organization__kind__in=[OrgKind.DEPARTMENT, OrgKind.DISTRICT])
        .values_list("organization_id", flat=True)
    )


@register
class FilingPolicy(Policy):
    model = AlgorithmFiling

    def visible(self, user, qs):
        if is_authenticated(user) and user.is_superuser:
            return qs
        rule = Q(state__in=PUBLIC_STATES)
        if is_authenticated(user):
            # The enterprise sees all its own versions, drafts included; a department sees what was
            # submitted to it, never another enterprise's drafts.
            rule |= Q(organization_id__in=enterprise_ids(user))
            rule |= (Q(department_id__in=department_ids(user, Role.REVIEWER)) & Q(submitted_at__isnull=False)
                     & ~Q(state=State.DRAFT))
        return qs.filter(rule)

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if perm == "add":
            return bool(enterprise_ids(user))
        if obj is None:
            return perm == "review" and bool(department_ids(user, Role.REVIEWER))
        own = obj.organization_id in enterprise_ids(user)
        if perm == "change":
            return own and obj.is_editable
        if perm in ("submit", "request_change", "request_deregistration", "view_report"):
            return own or (perm == "view_report" and self.can(user, "review", obj))
        if perm == "review":
            return obj.department_id in department_ids(user, Role.REVIEWER)
        return False


@register
class BatchPolicy(Policy):
    model = DisclosureBatch

    def visible(self, user, qs):
        return qs  # a batch exists only once published: it is public by nature

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        return perm == "publish" and bool(department_ids(user, Role.PUBLISHER))
