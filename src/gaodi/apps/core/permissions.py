"""Object-level permissions.

Each model registers a Policy that answers two questions: which rows may this user see (a queryset
filter, so lists and lookups can never leak a row), and may this user do X to this row. Views, the API
and actions all ask the same policy; an object the user may not see is a 404, never a 403, so its
existence is not disclosed (a guessed filing number in a URL learns nothing).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404


class Policy:
    model: type[models.Model]

    def visible(self, user, qs: models.QuerySet) -> models.QuerySet:
        raise NotImplementedError

    def can(self, user, perm: str, obj: models.Model | None = None) -> bool:
        raise NotImplementedError


_POLICIES: dict[type[models.Model], Policy] = {}


def register(policy_cls: type[Policy]) -> type[Policy]:
    _POLICIES[policy_cls.model] = policy_cls()
    return policy_cls


def policy_for(model: type[models.Model]) -> Policy:
    return _POLICIES[model]


def registered_models() -> list[type[models.Model]]:
    return list(_POLICIES)


def visible(user, model: type[models.Model], qs: models.QuerySet | None = None) -> models.QuerySet:
    return policy_for(model).visible(user, qs if qs is not None else model._default_manager.all())


def get_visible_or_404(user, model: type[models.Model], **lookup):
    try:
        return visible(user, model).get(**lookup)
    except (model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404(str(model._meta.verbose_name)) from exc


def can(user, perm: str, obj: models.Model | None = None, model: type[models.Model] | None = None) -> bool:
    model = model or type(obj)
    return policy_for(model).can(user, perm, obj)


def require(user, perm: str, obj: models.Model | None = None, model: type[models.Model] | None = None) -> None:
    if not can(user, perm, obj, model):
        raise PermissionDenied(perm)


def is_authenticated(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)
