"""Who may see and act on evaluation requests: the requesting enterprise and the chosen institution."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from gaodi.apps.core.choices import OrgKind, Role
from gaodi.apps.core.permissions import Policy, is_authenticated, register

from .evaluation_models import EvaluationRequest, EvaluationState
from .policies import enterprise_ids

# A "running" request whose worker has not reported for this long is considered dead and may be retried.
DEFAULT_RUN_TIMEOUT_S = 3600


def run_timeout() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "EVALUATION_RUN_TIMEOUT_S", DEFAULT_RUN_TIMEOUT_S)))


def institution_ids(user) -> set[int]:
    """Testing institutions in which the user works."""
    if not is_authenticated(user):
        return set()
    return set(
        user.memberships.filter(role__in=[Role.MEMBER, Role.ADMIN], organization__kind=OrgKind.TESTING_INSTITUTION)
        .values_list("organization_id", flat=True)
    )


def is_stale(request: EvaluationRequest) -> bool:
    last = request.heartbeat_at or request.started_at or request.updated_at
    return request.state == EvaluationState.RUNNING and (last is None or timezone.now() - last > run_timeout())


@register
class EvaluationRequestPolicy(Policy):
    model = EvaluationRequest

    def visible(self, user, qs):
        if not is_authenticated(user):
            return qs.none()
        if user.is_superuser:
            return qs
        return qs.filter(Q(organization_id__in=enterprise_ids(user)) | Q(institution_id__in=institution_ids(user)))

    def can(self, user, perm, obj=None):
        if not is_authenticated(user):
            return False
        if perm == "add":
            return bool(enterprise_ids(user))
        if obj is None:
            return perm == "evaluate" and bool(institution_ids(user))
        if perm == "view":
            return obj.organization_id in enterprise_ids(user) or obj.institution_id in institution_ids(user)
        if perm == "evaluate":  # accept, decline, retry, issue, revoke
            return obj.institution_id in institution_ids(user)
        if perm == "credential":  # set, replace or remove the endpoint's credential: the enterprise only
            return obj.organization_id in enterprise_ids(user)
        return False
