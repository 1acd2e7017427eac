"""The admin lists data products and labeling records read-only: changes go through the actions."""

from __future__ import annotations

import pytest
from django.test import Client

from gaodi.apps.core.models import User

pytestmark = pytest.mark.django_db

MODELS = ["dataproduct", "labelingproject", "annotation", "reviewdecision", "grant"]


@pytest.mark.parametrize("model", MODELS)
def test_admin_lists_the_model_without_add(model):
    admin = User.objects.create_superuser("root", "root@example.org", "pw-Long-enough-1")
    client = Client()
    client.force_login(admin)
    listing = client.get(f"/admin/data/{model}/")
    assert listing.status_code == 200
    assert client.get(f"/admin/data/{model}/add/").status_code == 403
