"""Evaluation requests that name an HTTP prediction endpoint instead of a model file: the SSRF rule at
submission and again at run time, and endpoints that time out, answer garbage or point inside —
each a failed run with its reason in plain words on the request page, and retryable."""

from __future__ import annotations

import json

import pytest
from test_evaluation_service_support import (
    endpoint_form_data,
    form_data,
    lab,
    make_endpoint_request,
    prediction_server,
    run_worker,
    use_tmp_signing_key,
)

from gaodi.apps.algorithms import evaluation_actions as actions
from gaodi.apps.algorithms.evaluation_models import EvaluationCertificate, EvaluationRequest


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _post(client, filing, data, files):
    return client.post(f"/workspace/filings/{filing.pk}/evaluations/new/", {**data, **files})


@pytest.mark.django_db(transaction=True)
def test_endpoint_request_runs_against_an_allowlisted_server_and_is_certified(client, world, approved, settings):
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    with prediction_server() as (url, calls):
        client.force_login(world.alice)
        data, files = endpoint_form_data(world, f"{url}/ok")
        response = _post(client, approved, data, files)
        assert response.status_code == 302, response.context["form"].errors
        evaluation = EvaluationRequest.objects.get()
        assert evaluation.endpoint_url == f"{url}/ok" and evaluation.model_format == "http"
        assert not evaluation.model_file and evaluation.model_sha256 == ""
        assert f"{url}/ok" in client.get(f"/evaluations/{evaluation.pk}/").content.decode()

        actions.accept(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "completed", evaluation.failure_reason
        assert evaluation.passed is True and evaluation.progress == 100
        assert len(calls) == 3 and set(calls) == {"/ok"}  # 120 rows in batches of 50
        result = json.loads(evaluation.result_file.read())
        assert result["checks"][0]["metric"] == "accuracy" and result["checks"][0]["value"] > 0.8

    certificate = actions.issue(world.tina, evaluation)
    payload = json.loads(certificate.payload)
    assert payload["model_endpoint"] == f"{url}/ok" and payload["model_sha256"] == ""
    client.logout()
    assert f"{url}/ok" in client.get(f"/verify/{certificate.certificate_id}/certificate/").content.decode()
    assert EvaluationCertificate.objects.count() == 1


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://model.example.com/predict", "http:// 或 https://"),
    ("http:///predict", "缺少主机名"),
    ("http://user:secret@model.example.com/predict", "用户名或密码"),
    ("http://127.0.0.1:8000/predict", "127.0.0.1（本机回环地址）"),
    ("http://localhost/predict", "本机回环"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254（链路本地"),
    ("http://10.1.2.3/predict", "内网"),
    ("http://2130706433/predict", "127.0.0.1"),  # a numeric spelling of 127.0.0.1
    ("http://no-such-host.invalid/predict", "无法解析预测接口地址的主机名"),
])
def test_unsafe_or_malformed_endpoints_are_refused_on_the_field(client, world, approved, url, message):
    client.force_login(world.alice)
    data, files = endpoint_form_data(world, url)
    response = _post(client, approved, data, files)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in errors["endpoint_url"][0], errors
    assert "预测接口地址" in response.content.decode()  # the field's label is on the page with its error
    assert not EvaluationRequest.objects.exists()


def test_allowlist_opens_one_address_only(client, world, approved, settings):
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    client.force_login(world.alice)
    data, files = endpoint_form_data(world, "http://169.254.169.254/latest/meta-data/")
    assert "链路本地" in _post(client, approved, data, files).context["form"].errors["endpoint_url"][0]
    data, files = endpoint_form_data(world, "http://127.0.0.1:9/predict")
    assert _post(client, approved, data, files).status_code == 302


def test_model_and_endpoint_are_one_or_the_other(client, world, approved, settings):
    client.force_login(world.alice)
    data, files = form_data(world)
    response = _post(client, approved, {**data, "endpoint_url": "https://model.example.com/p"}, files)
    assert "二者只能选一种" in response.context["form"].errors["endpoint_url"][0]
    data, files = form_data(world)
    files.pop("model")
    response = _post(client, approved, data, files)
    assert "二选一" in response.context["form"].errors["model"][0]
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    data, files = endpoint_form_data(world, "http://127.0.0.1:9/p", plan='target = "y"\npositive_label = "yes"\n')
    response = _post(client, approved, data, files)
    assert "features" in response.context["form"].errors["plan"][0]
    assert not EvaluationRequest.objects.exists()


def _failed_page(client, world, evaluation) -> str:
    evaluation.refresh_from_db()
    assert evaluation.state == "failed"
    client.force_login(world.alice)
    return client.get(f"/evaluations/{evaluation.pk}/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_endpoint_that_times_out_fails_in_plain_words_and_can_be_retried(client, world, approved, settings):
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    with prediction_server() as (url, _calls):
        evaluation = make_endpoint_request(world, approved, f"{url}/slow")
        data_sha256 = evaluation.data_sha256
        actions.accept(world.tina, evaluation)
        run_worker()
        page = _failed_page(client, world, evaluation)
        assert evaluation.failure_kind == "endpoint_timeout"
        assert "预测接口超时未响应" in page and "did not answer within 0.5 s" in page
        assert "已提交的文件与方案均已保存" in page

        client.force_login(world.tina)
        assert "重新运行" in client.get(f"/evaluations/{evaluation.pk}/").content.decode()
        # The owner of the endpoint fixes it (here: the URL answers at /ok); the institution retries.
        EvaluationRequest.objects.filter(pk=evaluation.pk).update(endpoint_url=f"{url}/ok")
        assert client.post(f"/evaluations/{evaluation.pk}/retry/").status_code == 302
        evaluation.refresh_from_db()
        assert evaluation.state == "accepted" and evaluation.failure_kind == "" and evaluation.attempt == 2
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "completed" and evaluation.data_sha256 == data_sha256


@pytest.mark.django_db(transaction=True)
def test_endpoint_that_returns_garbage_fails_in_plain_words(client, world, approved, settings):
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]
    with prediction_server() as (url, calls):
        evaluation = make_endpoint_request(world, approved, f"{url}/garbage")
        actions.accept(world.tina, evaluation)
        run_worker()
        page = _failed_page(client, world, evaluation)
        assert calls and evaluation.failure_kind == "endpoint_garbage"
        assert "预测接口返回的内容无法识别" in page and "endpoint returned garbage: not JSON" in page
        assert "Traceback" not in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("allow", "url", "address"), [
    (["127.0.0.1"], "http://127.0.0.1:{port}/ok", "127.0.0.1, a loopback address"),
    (["169.254.0.0/16"], "http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
])
def test_address_is_checked_again_at_run_time(client, world, approved, settings, allow, url, address):
    """Allowed when submitted, refused when run (the operator narrowed the allowlist meanwhile): the
    engine re-resolves and re-checks before it sends anything."""
    settings.EVALUATION_ENDPOINT_ALLOWLIST = allow
    with prediction_server() as (base, calls):
        port = base.rsplit(":", 1)[1]
        evaluation = make_endpoint_request(world, approved, url.format(port=port))
        actions.accept(world.tina, evaluation)
        settings.EVALUATION_ENDPOINT_ALLOWLIST = []
        run_worker()
        page = _failed_page(client, world, evaluation)
        assert calls == []  # nothing was sent
    assert evaluation.failure_kind == "endpoint_unsafe" and address in evaluation.failure_reason
    assert "平台出于安全不予调用" in page
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/retry/").status_code == 302
    assert EvaluationRequest.objects.get().state == "accepted"
