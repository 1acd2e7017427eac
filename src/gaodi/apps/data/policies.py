"""Who may see and do what with data resources.

- The catalog, the open lists and their history are public.
- A publisher (publisher or admin of the publishing organization, or a member of a data provider)
  edits its datasets, uploads resources and records grading decisions; departments' publishers keep
  their open list.
- A reviewer or admin of the publishing organization decides access applications.
- Applications and grants are private to the applicant (and its enterprise) and to the publisher.
- A grant is revoked by the department that decides the dataset's applications (its reviewers/admins).
- Data products: see products_policies.
"""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.algorithms.policies import enterprise_ids
from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .models import AccessApplication, ApplicationState, Dataset, Grant, OpenListVersion, OpenType

__all__ = ["decider_ids", "enterprise_ids", "list_department_ids", "publisher_ids"]


def publisher_ids(user) -> set[int]:
    if not is_authenticated(user):
        return set()
    return set(user.memberships.filter(
        Q(role__in=[Role.PUBLISHER, Role.ADMIN])
        | Q(role=Role.MEMBER, organization__kind=OrgKind.DATA_PROVIDER)
    ).values_list("organization_id", flat=True))


def decider_ids(user) -> set[int]:
    """Organizations whose access applications the user decides."""
    if not is_authenticated(user):
        return set()
    return set(user.memberships.filter(role__in=[Role.REVIEWER, Role.ADMIN]).values_list("organization_id", flat=True))


def list_department_ids(user) -> set[int]:
    """Departments (and districts) whose public data open list the user keeps."""
    if not is_authenticated(user):
        return set()
    return set(user.memberships.filter(role__in=[Role.PUBLISHER, Role.ADMIN],
                                       organization__kind__in=[OrgKind.DEPARTMENT, OrgKind.DISTRICT])
               .values_list("organization_id", flat=True))


def _super(user) -> bool:
    return is_authenticated(user) and user.is_superuser


@register
class DatasetPolicy(Policy):
    model = Dataset

    def visible(self, user, qs):
        return qs  # the catalog (metadata) is public, whatever the open type

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        if perm == "add":
            return bool(publisher_ids(user))
        if obj is None:
            return False
        if perm in ("change", "grade"):
            return obj.publisher_id in publisher_ids(user)
        if perm == "review":
            return obj.publisher_id in decider_ids(user)
        if perm == "apply":
            return is_authenticated(user) and obj.open_type == OpenType.CONDITIONAL
        return False


@register
class ApplicationPolicy(Policy):
    model = AccessApplication

    def visible(self, user, qs):
        if _super(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(applicant=user) | Q(organization_id__in=enterprise_ids(user))
                         | (Q(dataset__publisher_id__in=decider_ids(user)) & ~Q(state=ApplicationState.DRAFT)))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if obj is None:
            return perm == "review" and bool(decider_ids(user))
        own = obj.applicant_id == user.pk or (obj.organization_id is not None
                                              and obj.organization_id in enterprise_ids(user))
        if perm in ("submit", "withdraw"):
            return own
        if perm == "review":
            return obj.dataset.publisher_id in decider_ids(user)
        if perm == "view":
            return own or self.can(user, "review", obj)
        return False


@register
class GrantPolicy(Policy):
    model = Grant

    def visible(self, user, qs):
        if _super(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(grantee=user) | Q(organization_id__in=enterprise_ids(user))
                         | Q(dataset__publisher_id__in=decider_ids(user) | publisher_ids(user)))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user) or obj is None:
            return False
        holder = obj.grantee_id == user.pk or (obj.organization_id is not None
                                               and obj.organization_id in enterprise_ids(user))
        if perm == "use":
            return holder
        if perm == "revoke":
            return obj.dataset.publisher_id in decider_ids(user)
        if perm == "view":
            return holder or obj.dataset.publisher_id in (decider_ids(user) | publisher_ids(user))
        return False


@register
class OpenListPolicy(Policy):
    model = OpenListVersion

    def visible(self, user, qs):
        return qs  # the open list and its whole history are public (Art. 17)

    def can(self, user, perm, obj=None):
        if perm == "view":
            return True
        if perm == "publish":
            return bool(list_department_ids(user)) if obj is None else obj.department_id in list_department_ids(user)
        return False

