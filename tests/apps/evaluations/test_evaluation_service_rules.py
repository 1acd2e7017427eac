"""Input checks, permissions, dead-worker retries and certificate signatures of the evaluation service."""

from __future__ import annotations

import base64
import json
import pickle
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from test_evaluation_service_support import PLAN, form_data, lab, make_request, use_tmp_signing_key

from gaodi.apps.algorithms import evaluation_actions as actions
from gaodi.apps.algorithms import evaluation_signing as signing
from gaodi.apps.algorithms.evaluation_models import EvaluationRequest


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _post(client, filing, world, **kw):
    data, files = form_data(world, **kw)
    return client.post(f"/workspace/filings/{filing.pk}/evaluations/new/", {**data, **files})


def test_pickle_model_is_refused_with_the_engines_message(client, world, approved):
    client.force_login(world.alice)
    response = _post(client, approved, world, model=pickle.dumps({"a": 1}), model_name="model.pkl")
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "gaodi model pack" in errors["model"][0] and "pickle" in errors["model"][0]
    assert not EvaluationRequest.objects.exists()


def test_bad_plan_and_bad_data_are_named_on_their_fields(client, world, approved):
    client.force_login(world.alice)
    response = _post(client, approved, world, plan=PLAN.replace("[thresholds]", "[treshold]"))
    assert "did you mean 'thresholds'" in response.context["form"].errors["plan"][0]
    response = _post(client, approved, world, data=b"", data_name="test.csv")
    assert "data" in response.context["form"].errors
    response = _post(client, approved, world, data_name="test.txt")
    assert "CSV" in response.context["form"].errors["data"][0]
    assert not EvaluationRequest.objects.exists()


def test_model_size_limit(client, world, approved, settings):
    settings.EVALUATION_MAX_MODEL_BYTES = 100
    client.force_login(world.alice)
    response = _post(client, approved, world)
    assert "超过上限" in response.context["form"].errors["model"][0]


def test_only_approved_own_filings_can_be_evaluated(client, world, make_filing, approved):
    client.force_login(world.bob)
    assert _post(client, approved, world).status_code == 404  # another enterprise's filing
    client.force_login(world.alice)
    draft = make_filing("draft")
    assert _post(client, draft, world).status_code == 302 and not EvaluationRequest.objects.exists()


def test_permissions_on_a_request(client, world, approved):
    evaluation = make_request(world, approved)
    for user, status in ((world.bob, 404), (world.ted, 404), (world.nobody, 404), (world.alice, 200),
                         (world.tina, 200)):
        client.force_login(user)
        assert client.get(f"/evaluations/{evaluation.pk}/").status_code == status, user
    for user, status in ((world.ted, 404), (world.alice, 403), (world.bob, 404)):
        client.force_login(user)
        assert client.post(f"/evaluations/{evaluation.pk}/accept/").status_code == status, user
    assert EvaluationRequest.objects.get().state == "requested"
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/decline/").status_code == 302  # comment required
    assert EvaluationRequest.objects.get().state == "requested"
    client.post(f"/evaluations/{evaluation.pk}/decline/", {"comment": "超出本机构认可范围"})
    assert EvaluationRequest.objects.get().state == "declined"


def test_a_dead_worker_leaves_the_request_retryable_after_the_timeout(world, approved, settings):
    settings.EVALUATION_RUN_TIMEOUT_S = 600
    evaluation = make_request(world, approved)
    actions.accept(world.tina, evaluation)
    assert actions.mark_running(evaluation.pk, 1) is not None
    with pytest.raises(PermissionDenied):
        actions.retry(world.tina, evaluation)  # still reporting: not retryable yet
    EvaluationRequest.objects.filter(pk=evaluation.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=601))
    with pytest.raises(PermissionDenied):
        actions.retry(world.alice, EvaluationRequest.objects.get())  # only the institution
    evaluation = actions.retry(world.tina, EvaluationRequest.objects.get())
    assert evaluation.state == "accepted" and evaluation.attempt == 2
    # The old attempt's late result is discarded; the new attempt runs as usual.
    actions.mark_failed(evaluation.pk, 1, "late")
    assert EvaluationRequest.objects.get().state == "accepted"
    assert actions.mark_running(evaluation.pk, 1) is None and actions.mark_running(evaluation.pk, 2) is not None


def test_signature_verifies_with_the_published_key_and_tampering_fails(client, _key, db):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    payload = {"certificate_id": "EC-1", "passed": True, "model_sha256": "ab" * 32, "名称": "测试"}
    text, signature = signing.sign(payload)
    assert _key.exists() and _key.stat().st_mode & 0o777 == 0o600
    published = load_pem_public_key(client.get("/verify/public-key.pem").content)
    published.verify(base64.b64decode(signature), text.encode())  # offline, as docs/evaluation.md shows
    assert signing.verify(json.loads(text), signature, published)
    assert not signing.verify({**payload, "passed": False}, signature)
    assert not signing.verify(payload, "not base64!")
    again = signing.private_key()  # the key is made once and reused
    assert signing.fingerprint(again.public_key()) == signing.fingerprint(published)


def test_unknown_certificate_says_so(client, db):
    response = client.get("/verify/EC-2026-NOSUCH/")
    assert response.status_code == 404 and "不是本平台签发的" in response.content.decode()
