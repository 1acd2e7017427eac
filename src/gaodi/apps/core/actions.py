"""Account operations of the core (tokens, notifications, preferences): one function each, each in
one transaction, each writing its audit entry where it changes access. Web views and the API call
these, as they call the domain apps' actions."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .models import PersonalAccessToken

MAX_TOKEN_DAYS = 366


def create_token(user, name: str, days: int) -> tuple[PersonalAccessToken, str]:
    """Issue a personal access token; the secret is returned once and only its hash is stored."""
    name = (name or "").strip()[:100]
    if not name or not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(_("请填写令牌名称，有效期为 1 至 366 天。"))
    with transaction.atomic():
        token, key = PersonalAccessToken.generate(user, name, timezone.now() + timedelta(days=days))
        audit.record(user, "token.create", token, {"name": name, "days": days})
    return token, key


def revoke_token(user, token: PersonalAccessToken) -> PersonalAccessToken:
    if token.user_id != user.pk:
        raise ValidationError(_("只能吊销自己的令牌。"))
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(user, "token.revoke", token)
    return token


def mark_notifications_read(user) -> int:
    return user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())


def set_elder_mode(user, on: bool) -> None:
    """Remember the elder-friendly mode (Art. 68) on the account; anonymous visitors keep a cookie."""
    if user.is_authenticated:
        user.elder_mode = on
        user.save(update_fields=["elder_mode"])
