"""In-app notifications, written inside the action's transaction so they exist iff the change does."""

from __future__ import annotations

from collections.abc import Iterable

from .models import Notification, User


def notify(recipients: Iterable[User], message: str, url: str = "") -> None:
    Notification.objects.bulk_create(
        [Notification(recipient=user, message=message[:300], url=url) for user in {u.pk: u for u in recipients}.values()]
    )


def members_of(org_id: int, *roles: str):
    return User.objects.filter(memberships__organization_id=org_id, memberships__role__in=roles, is_active=True).distinct()
