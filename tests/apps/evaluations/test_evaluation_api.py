"""The evaluation, certificate and catalog API at /api/v1 with personal access tokens: the same actions
and permissions as the pages, refusals included (401, 403, 404, 422 with field names)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import (
    ENDPOINT_PLAN,
    PLAN,
    csv_bytes,
    lab,
    make_request,
    onnx_bytes,
    use_tmp_signing_key,
)

from gaodi.apps.algorithms.catalog_models import CatalogEntry
from gaodi.apps.algorithms.evaluation_models import EvaluationRequest
from gaodi.apps.core.models import PersonalAccessToken

API = "/api/v1"


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def _as(user) -> Client:
    _token, key = PersonalAccessToken.generate(user, "test", timezone.now() + timedelta(days=1))
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _multipart(world, the_filing, **overrides) -> dict:
    body = {"filing": the_filing.pk, "institution": world.lab.pk, "plan": PLAN,
            "model": SimpleUploadedFile("model.onnx", onnx_bytes()),
            "data": SimpleUploadedFile("test.csv", csv_bytes())}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def _fields(response) -> dict[str, str]:
    assert response.status_code == 422, response.content
    return {e["field"]: e["message"] for e in response.json()["detail"]}


def test_create_list_detail_and_refusals(world, approved, settings):
    alice, bob, tina = _as(world.alice), _as(world.bob), _as(world.tina)
    assert Client().post(f"{API}/evaluations", _multipart(world, approved)).status_code == 401
    assert bob.post(f"{API}/evaluations", _multipart(world, approved)).status_code == 404  # not bob's filing

    created = alice.post(f"{API}/evaluations", _multipart(world, approved))
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["state"] == "requested" and item["model_source"] == "file" and item["model_format"] == "onnx"
    assert item["institution"]["code"] == "T0001" and item["transitions"] == []  # alice is not the institution
    evaluation_id = item["id"]

    # Bad input: one 422 per field, named.
    assert "二选一" in _fields(alice.post(f"{API}/evaluations", _multipart(world, approved, model=None)))["model"]
    bad_plan = _fields(alice.post(f"{API}/evaluations", _multipart(world, approved, plan="[treshold]")))
    assert "测试方案有误" in bad_plan["plan"]
    unsafe = alice.post(f"{API}/evaluations", _multipart(
        world, approved, model=None, plan=ENDPOINT_PLAN, endpoint_url="http://169.254.169.254/latest/meta-data/"))
    assert "链路本地" in _fields(unsafe)["endpoint_url"]
    settings.EVALUATION_MAX_DATA_BYTES = 1024
    oversize = alice.post(f"{API}/evaluations", _multipart(world, approved))
    assert "超过上限" in _fields(oversize)["data"]
    settings.EVALUATION_MAX_DATA_BYTES = 2**30
    assert "filing" in _fields(alice.post(f"{API}/evaluations", _multipart(world, approved, filing="x")))
    assert EvaluationRequest.objects.count() == 1

    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    endpoint = alice.post(f"{API}/evaluations", _multipart(world, approved, model=None, plan=ENDPOINT_PLAN,
                                                           endpoint_url="http://127.0.0.1:9/predict"))
    assert endpoint.status_code == 201 and endpoint.json()["model_source"] == "endpoint"
    assert endpoint.json()["endpoint_url"] == "http://127.0.0.1:9/predict"

    listed = alice.get(f"{API}/evaluations").json()
    assert listed["count"] == 2
    assert tina.get(f"{API}/evaluations", {"state": "requested"}).json()["count"] == 2
    assert bob.get(f"{API}/evaluations").json()["count"] == 0
    assert _as(world.ted).get(f"{API}/evaluations").json()["count"] == 0
    assert "state" in _fields(alice.get(f"{API}/evaluations", {"state": "nonsense"}))
    for client, status in ((bob, 404), (_as(world.ted), 404), (_as(world.nobody), 404), (alice, 200), (tina, 200)):
        assert client.get(f"{API}/evaluations/{evaluation_id}").status_code == status
    detail = tina.get(f"{API}/evaluations/{evaluation_id}").json()
    assert {t["name"] for t in detail["transitions"]} == {"accept", "decline"}
    assert Client().get(f"{API}/evaluations/{evaluation_id}").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_accept_run_issue_verify_and_public_key(world, approved):
    from test_evaluation_service_support import run_worker

    evaluation = make_request(world, approved)
    alice, tina, ted = _as(world.alice), _as(world.tina), _as(world.ted)
    url = f"{API}/evaluations/{evaluation.pk}/transitions"
    assert alice.post(f"{url}/accept", {}, content_type="application/json").status_code == 403
    assert ted.post(f"{url}/accept", {}, content_type="application/json").status_code == 404
    assert tina.post(f"{url}/launch", {}, content_type="application/json").status_code == 404
    declined = tina.post(f"{url}/decline", {"comment": ""}, content_type="application/json")
    assert "comment" in _fields(declined)
    accepted = tina.post(f"{url}/accept", {}, content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    progress = alice.get(f"{API}/evaluations/{evaluation.pk}/progress").json()
    assert progress["state"] == "accepted" and progress["progress"] == 0

    run_worker()
    progress = alice.get(f"{API}/evaluations/{evaluation.pk}/progress").json()
    assert progress["state"] == "completed" and progress["progress"] == 100 and progress["stage"] == "done"
    issued = tina.post(f"{url}/issue", {}, content_type="application/json").json()
    cid = issued["certificate"]["certificate_id"]
    assert issued["state"] == "issued" and issued["certificate"]["pdf_url"] == f"/verify/{cid}/certificate.pdf"
    assert issued["passed"] is True and issued["summary_zh"]

    anon = Client()
    shown = anon.get(f"{API}/certificates/{cid}").json()
    assert shown["valid"] and shown["genuine"] and shown["unaltered"] and not shown["revoked"]
    document = shown["document"]
    key = anon.get(f"{API}/public-key").json()
    public = load_pem_public_key(key["pem"].encode())
    body = json.dumps(document["certificate"], sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    public.verify(base64.b64decode(document["signature"]), body)  # offline, as docs/evaluation.md shows
    assert key["sha256"] == document["public_key_sha256"]
    assert anon.post(f"{API}/certificates/{cid}/verify", {"document": document},
                     content_type="application/json").json()["valid"] is True
    document["certificate"]["passed"] = False
    tampered = anon.post(f"{API}/certificates/{cid}/verify", {"document": document},
                         content_type="application/json").json()
    assert tampered["valid"] is False and tampered["genuine"] is False
    assert anon.get(f"{API}/certificates/EC-2026-NOSUCH").status_code == 404

    assert "comment" in _fields(tina.post(f"{url}/revoke", {}, content_type="application/json"))
    revoked = tina.post(f"{url}/revoke", {"comment": "数据有误"}, content_type="application/json").json()
    assert revoked["state"] == "revoked" and revoked["certificate"]["revoked"] is True
    shown = anon.get(f"{API}/certificates/{cid}").json()
    assert shown["valid"] is False and shown["revoked"] is True and shown["revoke_reason"] == "数据有误"


def test_catalog_nominate_decide_list_withdraw_and_remove(world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    alice, bob, rita, ron = _as(world.alice), _as(world.bob), _as(world.rita), _as(world.ron)
    reason = {"evaluation": evaluation.pk, "justification": "该模型在电商推荐场景中表现稳定，值得推荐。"}
    assert alice.get(f"{API}/evaluations/{evaluation.pk}").json()["nomination_allowed"] is True
    assert _as(world.tina).get(f"{API}/evaluations/{evaluation.pk}").json()["nomination_allowed"] is False
    assert Client().post(f"{API}/catalog", reason, content_type="application/json").status_code == 401
    assert bob.post(f"{API}/catalog", reason, content_type="application/json").status_code == 404
    short = alice.post(f"{API}/catalog", {**reason, "justification": "好"}, content_type="application/json")
    assert "至少需要 10 个字" in _fields(short)["justification"]
    created = alice.post(f"{API}/catalog", reason, content_type="application/json")
    assert created.status_code == 201 and created.json()["state"] == "pending"
    entry_id = created.json()["id"]
    assert alice.get(f"{API}/evaluations/{evaluation.pk}").json()["nomination_allowed"] is False  # pending
    assert "正在审核" in _fields(alice.post(f"{API}/catalog", reason, content_type="application/json"))["__all__"]

    anon = Client()
    assert anon.get(f"{API}/catalog/{entry_id}").status_code == 404  # a nomination is not public
    assert anon.get(f"{API}/catalog").json()["count"] == 0
    url = f"{API}/catalog/{entry_id}/transitions"
    assert alice.post(f"{url}/approve", {}, content_type="application/json").status_code == 403
    assert ron.post(f"{url}/approve", {}, content_type="application/json").status_code == 404
    assert {t["name"] for t in rita.get(f"{API}/catalog/{entry_id}").json()["transitions"]} == {"approve", "reject"}
    approved = rita.post(f"{url}/approve", {"comment": "同意"}, content_type="application/json").json()
    assert approved["state"] == "approved" and approved["status"] == "listed" and approved["listed_at"]

    listing = anon.get(f"{API}/catalog", {"q": "个性化推荐"}).json()
    assert listing["count"] == 1 and listing["items"][0]["certificate_id"] == evaluation.certificate.certificate_id
    assert anon.get(f"{API}/catalog", {"q": "自动驾驶"}).json()["count"] == 0
    assert "district" in _fields(anon.get(f"{API}/catalog", {"district": "nowhere"}))
    assert anon.get(f"{API}/catalog/{entry_id}").json()["transitions"] == []

    assert bob.post(f"{url}/withdraw", {"comment": "x"}, content_type="application/json").status_code == 403
    assert rita.post(f"{url}/withdraw", {"comment": "x"}, content_type="application/json").status_code == 403
    assert "comment" in _fields(alice.post(f"{url}/withdraw", {}, content_type="application/json"))
    assert alice.post(f"{url}/remove", {"comment": "x"}, content_type="application/json").status_code == 403
    withdrawn = alice.post(f"{url}/withdraw", {"comment": "产品下线"}, content_type="application/json").json()
    assert withdrawn["state"] == "withdrawn" and withdrawn["end_reason"] == "产品下线"
    assert anon.get(f"{API}/catalog").json()["count"] == 0
    assert anon.get(f"{API}/catalog", {"status": "ended"}).json()["items"][0]["status"] == "withdrawn"
    assert anon.get(f"{API}/catalog/{entry_id}").status_code == 200  # it was listed: the record stays public

    # Nominated again (withdrawal is the enterprise's choice), approved, then removed by the department.
    again = alice.post(f"{API}/catalog", reason, content_type="application/json").json()
    rita.post(f"{API}/catalog/{again['id']}/transitions/approve", {}, content_type="application/json")
    url = f"{API}/catalog/{again['id']}/transitions"
    assert "comment" in _fields(rita.post(f"{url}/remove", {}, content_type="application/json"))
    removed = rita.post(f"{url}/remove", {"comment": "应用中发现歧视性结果"}, content_type="application/json").json()
    assert removed["state"] == "removed" and removed["status_label"] == "已移出目录"
    refused = alice.post(f"{API}/catalog", reason, content_type="application/json")
    assert "移出推荐目录" in _fields(refused)["__all__"]
    assert CatalogEntry.objects.count() == 2
