"""Runs every case of every ModelSpec for every persona (see permission_matrix.py)."""

from __future__ import annotations

import pytest
from django.test import Client

from gaodi.apps.core.models import PersonalAccessToken
from gaodi.apps.core.permissions import registered_models

from .permission_matrix import LOGIN, PERSONAS, SPECS

CASES = [(label, case) for label, spec in SPECS.items() for case in spec.cases]


def test_every_registered_model_has_a_spec():
    covered = {label.split("(")[0] for label in SPECS}
    missing = {m._meta.label_lower for m in registered_models()} - covered
    assert not missing, f"models without permission specs: {missing}"


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("label", "case"), CASES, ids=[f"{lbl}:{c.name}" for lbl, c in CASES])
def test_permission(label, case, persona, world, make_filing):
    spec = SPECS[label]
    obj, users = spec.make(world, make_filing)
    user = users[persona]
    client = Client()
    headers = {}
    if user is not None:
        if case.api:
            _token, key = PersonalAccessToken.generate(user, "matrix")
            headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        else:
            client.force_login(user)
    data = {k: (world.cyber.pk if v == "__cyber__" else v) for k, v in case.data.items()}
    before = spec.snapshot(obj)
    url = case.url(obj)
    if case.method == "GET":
        response = client.get(url, **headers)
    elif case.api:
        response = client.post(url, data=data, content_type="application/json", **headers)
    else:
        response = client.post(url, data=data, **headers)
    expected = case.expect[persona]
    if expected == LOGIN:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], response
    else:
        assert response.status_code == expected, (url, persona, response.status_code, response.content[:300])
    if case.method == "POST" and (expected == LOGIN or expected >= 400):
        assert spec.snapshot(obj) == before, "a refused request changed data"
