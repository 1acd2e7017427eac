"""Account operations go through core actions with audit entries, from the web page and the API alike."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from gaodi.apps.core import actions
from gaodi.apps.core.models import AuditEntry, Notification


def test_token_lifecycle_is_audited(world):
    token, key = actions.create_token(world.alice, "ci", 30)
    assert key.startswith("gdt_") and token.is_active
    with pytest.raises(ValidationError):
        actions.revoke_token(world.bob, token)  # someone else's token
    actions.revoke_token(world.alice, token)
    token.refresh_from_db()
    assert not token.is_active
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["token.create", "token.revoke"]


@pytest.mark.parametrize(("name", "days"), [("", 30), ("x", 0), ("x", 367)])
def test_bad_token_requests_are_refused(world, name, days):
    with pytest.raises(ValidationError):
        actions.create_token(world.alice, name, days)


def test_web_and_api_mark_notifications_read_the_same_way(client, world):
    Notification.objects.create(recipient=world.alice, message="a")
    client.force_login(world.alice)
    client.post("/notifications/")
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    Notification.objects.create(recipient=world.alice, message="b")
    _token, key = actions.create_token(world.alice, "api", 1)
    response = client.post("/api/v1/notifications/read", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.json() == {"marked": 1}
