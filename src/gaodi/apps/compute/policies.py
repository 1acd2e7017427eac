"""Who may see and do what on the public compute platform.

- Providers' members (member or admin of an Organization of kind compute_provider) register and edit their
  own sites and pools. Sites, pools and programs are public.
- The department running subsidies (reviewer or admin of a city department with the economy duty, or of a
  district government for district top-ups) manages programs and reviews voucher applications.
- An enterprise's members apply for vouchers and run jobs; applications, vouchers and jobs are private to
  the enterprise (and, for applications and vouchers, to the program's department).
"""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.algorithms.policies import enterprise_ids
from gaodi.apps.core.choices import DepartmentDuty, OrgKind, Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .choices import ApplicationState
from .models import Job, Pool, Site, SubsidyProgram, Voucher, VoucherApplication

__all__ = ["enterprise_ids", "provider_ids", "subsidy_department_ids"]


def provider_ids(user) -> set[int]:
    """Compute providers the user may act for."""
    if not is_authenticated(user):
        return set()
    return set(
        user.memberships.filter(role__in=[Role.MEMBER, Role.ADMIN], organization__kind=OrgKind.COMPUTE_PROVIDER)
        .values_list("organization_id", flat=True)
    )


def subsidy_department_ids(user) -> set[int]:
    """Departments whose compute subsidies the user manages: reviewers and admins of the economy department
    (city programmes) and of district governments (district top-ups)."""
    if not is_authenticated(user):
        return set()
    return set(
        user.memberships.filter(role__in=[Role.REVIEWER, Role.ADMIN])
        .filter(Q(organization__kind=OrgKind.DEPARTMENT, organization__duty=DepartmentDuty.ECONOMY)
                | Q(organization__kind=OrgKind.DISTRICT))
        .values_list("organization_id", flat=True)
    )


def is_superuser(user) -> bool:
    return is_authenticated(user) and user.is_superuser


@register
class SitePolicy(Policy):
    model = Site

    def visible(self, user, qs):
        return qs  # supply is public (Art. 12: the platform gathers and shows compute)

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        if perm == "add":
            return bool(provider_ids(user))
        return perm == "change" and obj is not None and obj.provider_id in provider_ids(user)


@register
class PoolPolicy(Policy):
    model = Pool

    def visible(self, user, qs):
        return qs

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        if perm == "add":
            return bool(provider_ids(user))
        return perm == "change" and obj is not None and obj.site.provider_id in provider_ids(user)


@register
class ProgramPolicy(Policy):
    model = SubsidyProgram

    def visible(self, user, qs):
        return qs  # programmes, their rules and budgets are public

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        if perm == "add":
            return bool(subsidy_department_ids(user))
        if perm == "apply":
            return bool(enterprise_ids(user))
        return perm in ("change", "review") and obj is not None and obj.department_id in subsidy_department_ids(user)


@register
class ApplicationPolicy(Policy):
    model = VoucherApplication

    def visible(self, user, qs):
        if is_superuser(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(organization_id__in=enterprise_ids(user))
                         | (Q(program__department_id__in=subsidy_department_ids(user))
                            & ~Q(state=ApplicationState.DRAFT)))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if perm == "add":
            return bool(enterprise_ids(user))
        if obj is None:
            return perm == "review" and bool(subsidy_department_ids(user))
        own = obj.organization_id in enterprise_ids(user)
        if perm == "change":
            return own and obj.is_editable
        if perm in ("submit", "withdraw", "view"):
            return own or (perm == "view" and self.can(user, "review", obj))
        if perm == "review":
            return obj.program.department_id in subsidy_department_ids(user)
        return False


@register
class VoucherPolicy(Policy):
    model = Voucher

    def visible(self, user, qs):
        if is_superuser(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(organization_id__in=enterprise_ids(user))
                         | Q(program__department_id__in=subsidy_department_ids(user)))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if perm == "use":
            return obj is not None and obj.organization_id in enterprise_ids(user)
        if perm == "view":
            return obj is not None and (obj.organization_id in enterprise_ids(user)
                                        or obj.program.department_id in subsidy_department_ids(user))
        return False


@register
class JobPolicy(Policy):
    model = Job

    def visible(self, user, qs):
        if is_superuser(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(organization_id__in=enterprise_ids(user))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if perm == "add":
            return bool(enterprise_ids(user))
        if obj is None:
            return False
        return perm in ("view", "cancel") and obj.organization_id in enterprise_ids(user)
