"""Who may see and do what in labeling projects.

- Managers of a project are the publishers and admins of its organization: they edit the schema,
  choose annotators, import and assign tasks, close the project, and see agreement and exports. (Plain
  members, even of a data provider, are not managers here: they are who annotates.)
- Reviewers of a project are the reviewers and admins of its organization: they decide final labels
  and see agreement and exports.
- Annotators see the project and only the tasks assigned to them, and only their own annotations.
- Nobody else sees a project, its tasks or annotations (404): the data may be conditional data.
"""

from __future__ import annotations

from django.db.models import Q

from gaodi.apps.core.choices import Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .labeling_models import Annotation, LabelingProject, LabelingTask, ProjectAnnotator


def manager_ids(user) -> set[int]:
    """Organizations whose labeling projects the user manages."""
    if not is_authenticated(user):
        return set()
    return set(user.memberships.filter(role__in=[Role.PUBLISHER, Role.ADMIN]).values_list("organization_id", flat=True))


def reviewer_ids(user) -> set[int]:
    """Organizations whose labeling projects the user reviews."""
    if not is_authenticated(user):
        return set()
    return set(user.memberships.filter(role__in=[Role.REVIEWER, Role.ADMIN]).values_list("organization_id", flat=True))


def staff_ids(user) -> set[int]:
    return manager_ids(user) | reviewer_ids(user)


def _super(user) -> bool:
    return is_authenticated(user) and user.is_superuser


def is_active_annotator(user, project: LabelingProject) -> bool:
    return is_authenticated(user) and ProjectAnnotator.objects.filter(project=project, user=user, active=True).exists()


@register
class LabelingProjectPolicy(Policy):
    model = LabelingProject

    def visible(self, user, qs):
        if _super(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(organization_id__in=staff_ids(user)) | Q(annotators__user=user)).distinct()

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if obj is None:
            return perm == "add" and bool(manager_ids(user))
        if perm == "view":
            return (_super(user) or obj.organization_id in staff_ids(user)
                    or ProjectAnnotator.objects.filter(project=obj, user=user).exists())
        if perm == "manage":
            return obj.organization_id in manager_ids(user)
        if perm == "review":
            return obj.organization_id in reviewer_ids(user)
        if perm in ("agreement", "export"):
            return _super(user) or obj.organization_id in staff_ids(user)
        if perm == "annotate":
            return obj.closed_at is None and is_active_annotator(user, obj)
        return False


@register
class LabelingTaskPolicy(Policy):
    model = LabelingTask

    def visible(self, user, qs):
        if _super(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(project__organization_id__in=staff_ids(user)) | Q(assignments__annotator=user)).distinct()

    def can(self, user, perm, obj=None):
        if not is_authenticated(user) or obj is None:
            return False
        project = obj.project
        if perm == "view":
            return (_super(user) or project.organization_id in staff_ids(user)
                    or obj.assignments.filter(annotator=user).exists())
        if perm == "annotate":
            return (project.closed_at is None and obj.assignments.filter(annotator=user).exists()
                    and is_active_annotator(user, project))
        if perm == "review":
            return project.organization_id in reviewer_ids(user)
        return False


@register
class AnnotationPolicy(Policy):
    model = Annotation

    def visible(self, user, qs):
        if _super(user):
            return qs
        if not is_authenticated(user):
            return qs.none()
        return qs.filter(Q(task__project__organization_id__in=staff_ids(user)) | Q(annotator=user))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user) or obj is None:
            return False
        if perm == "view":
            return (_super(user) or obj.annotator_id == user.pk
                    or obj.task.project.organization_id in staff_ids(user))
        return False


def usable_versions(user, project: LabelingProject):
    """Dataset versions the project may import: its organization's own datasets, unconditionally open
    data, and conditional data under an active grant of the project's organization or of the user.
    Data that is not open is imported only by its publisher's own projects."""
    from django.utils import timezone

    from .models import Grant, OpenType, ResourceVersion

    now = timezone.now()
    granted = Grant.objects.filter(Q(organization_id=project.organization_id) | Q(grantee=user), revoked_at__isnull=True,
                                   starts_at__lte=now, expires_at__gt=now).values("dataset_id")
    return ResourceVersion.objects.filter(
        Q(resource__dataset__publisher_id=project.organization_id)
        | Q(resource__dataset__open_type=OpenType.UNCONDITIONAL)
        | (Q(resource__dataset__open_type=OpenType.CONDITIONAL) & Q(resource__dataset_id__in=granted))
    ).select_related("resource__dataset")
