"""The evaluation service end to end: request, accept, the real ORM worker, issue, verify, revoke."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.management import call_command
from test_evaluation_service_support import (
    csv_bytes,
    form_data,
    frame,
    lab,
    make_request,
    use_tmp_signing_key,
)

from gaodi.apps.algorithms.evaluation_models import EvaluationCertificate, EvaluationRequest


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def _run_worker():
    from django_tasks_db.models import DBTaskResult

    call_command("db_worker", "--batch", "--no-startup-delay")  # the real ORM worker, one pass
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert task.status == "SUCCESSFUL", task.traceback


@pytest.mark.django_db(transaction=True)  # the worker sees only committed rows, as in production
def test_request_run_issue_verify_and_revoke(client, world, make_filing, _key):
    lab(world)
    filing = make_filing("approved")
    client.force_login(world.alice)
    assert filing.name in client.get("/evaluations/").content.decode()  # offered for an evaluation
    data, files = form_data(world)
    response = client.post(f"/workspace/filings/{filing.pk}/evaluations/new/", {**data, **files})
    assert response.status_code == 302, response.content.decode()[:2000]
    evaluation = EvaluationRequest.objects.get()
    assert evaluation.state == "requested" and evaluation.model_format == "onnx"
    assert evaluation.model_file.name.endswith("/model.onnx") and evaluation.data_file.name.endswith("/data.csv")

    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/accept/").status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == "accepted" and evaluation.attempt == 1
    panel = client.get(f"/evaluations/{evaluation.pk}/progress/").content.decode()
    assert 'hx-trigger="every 3s"' in panel  # the page polls while queued or running

    _run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "completed", evaluation.failure_reason
    assert evaluation.progress == 100 and evaluation.passed is True and "准确率" in evaluation.summary_zh
    result = json.loads(evaluation.result_file.read())
    assert result["passed"] is True and result["checks"][0]["metric"] == "accuracy"
    assert b"<html" in evaluation.report_file.open("rb").read().lower()
    panel = client.get(f"/evaluations/{evaluation.pk}/progress/").content.decode()
    assert "hx-trigger" not in panel  # finished: polling stops
    report = client.get(f"/evaluations/{evaluation.pk}/files/report/")
    assert report.status_code == 200 and "sandbox" in report["Content-Security-Policy"]

    assert client.post(f"/evaluations/{evaluation.pk}/issue/").status_code == 302
    certificate = EvaluationCertificate.objects.get()
    payload = json.loads(certificate.payload)
    assert payload["filing_number"] == filing.filing_number and payload["model_sha256"] == evaluation.model_sha256
    assert payload["institution"]["code"] == "T0001" and payload["checks"][0]["passed"] is True
    assert _key.stat().st_mode & 0o777 == 0o600

    client.logout()  # verification and the public page are for everyone
    page = client.get(f"/verify/{certificate.certificate_id}/").content.decode()
    assert "有效" in page and "无效" not in page
    shown = client.get(f"/verify/{certificate.certificate_id}/certificate/").content.decode()
    assert "<svg" in shown and f"/verify/{certificate.certificate_id}/" in shown
    public = client.get(f"/filings/{filing.pk}/").content.decode()
    assert certificate.certificate_id in public and evaluation.summary_zh.splitlines()[0] in public

    document = json.loads(client.get(f"/verify/{certificate.certificate_id}/certificate.json").content)
    # Offline verification exactly as docs/evaluation.md shows it, with the published public key.
    key = load_pem_public_key(client.get("/verify/public-key.pem").content)
    body = json.dumps(document["certificate"], sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    key.verify(base64.b64decode(document["signature"]), body)
    ok = client.post(f"/verify/{certificate.certificate_id}/", {"document": json.dumps(document)}).content.decode()
    assert "有效" in ok and "无效" not in ok
    document["certificate"]["passed"] = not document["certificate"]["passed"]
    bad = client.post(f"/verify/{certificate.certificate_id}/", {"document": json.dumps(document)}).content.decode()
    assert "无效" in bad and "签名无法用平台公钥验证" in bad

    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/revoke/", {"comment": "测试数据有误"}).status_code == 302
    client.logout()
    page = client.get(f"/verify/{certificate.certificate_id}/").content.decode()
    assert "无效" in page and "测试数据有误" in page
    assert certificate.certificate_id not in client.get(f"/filings/{filing.pk}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_schema_mismatch_fails_with_the_reason_and_can_be_retried(client, world, make_filing):
    from gaodi.apps.algorithms import evaluation_actions as actions
    from gaodi.apps.core.models import WorkflowHistory

    lab(world)
    evaluation = make_request(world, make_filing("approved"), data=csv_bytes(frame().drop("x2")))
    actions.accept(world.tina, evaluation)
    _run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "failed" and "x2" in evaluation.failure_reason
    assert "\n" not in evaluation.failure_reason
    assert WorkflowHistory.objects.filter(object_id=evaluation.pk, transition="fail").get().comment == \
        evaluation.failure_reason
    client.force_login(world.alice)
    assert "x2" in client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/retry/").status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == "accepted" and evaluation.attempt == 2 and evaluation.failure_reason == ""
    _run_worker()  # the same bad data fails again, with the same reason
    evaluation.refresh_from_db()
    assert evaluation.state == "failed" and "x2" in evaluation.failure_reason
