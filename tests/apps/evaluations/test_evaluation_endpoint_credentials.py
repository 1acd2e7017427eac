"""Credentials for HTTP prediction endpoints: a real local endpoint that answers 401 without its header;
the run passes with the credential; the database holds only Fernet ciphertext; the value never reaches
the page, the API, the audit log, notifications or a failure reason (even from an endpoint that echoes
its request headers in an error body); header names and values are checked on their fields; the secret
is erased when the request can no longer run and kept for a retry; a wrong or missing key file gives a
plain reason; only the requesting enterprise may set, replace or remove it."""

from __future__ import annotations

import html
import json
import os
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client
from django.utils import timezone
from test_evaluation_service_support import (
    ENDPOINT_PLAN,
    endpoint_form_data,
    lab,
    run_worker,
    use_tmp_signing_key,
)

from gaodi.apps.algorithms import evaluation_actions as actions
from gaodi.apps.algorithms import evaluation_secrets as credentials
from gaodi.apps.algorithms.evaluation_forms import EndpointCredentialForm, EvaluationRequestForm
from gaodi.apps.algorithms.evaluation_models import EvaluationRequest
from gaodi.apps.core.models import AuditEntry, Notification, PersonalAccessToken, WorkflowHistory

API = "/api/v1"
HEADER = "X-API-Key"
# A backslash and a double quote make the error text escape it (repr, JSON): redaction must still find it.
SECRET = 'Zq7\\xR2"mZp9WvT4kLsN3-ab12'
OTHER_SECRET = "Bearer 9fK2pLmQ8rT4vW6xY1zA"


# ---- a local prediction endpoint that requires its credential --------------------------------------

class _Endpoint(BaseHTTPRequestHandler):
    """401 unless the request carries `server.required` = (header, value). Paths:
    /ok predictions (x1 + 0.5·x2 > 0); /echo a 400 quoting the credential it got; /echo-cut a 400 whose
    200-character quote ends inside the credential; /echo-missing predictions, but a 422 quoting the
    credential for rows with missing values (the robustness test); /down 503 while server.down;
    /redirect a 302 to server.redirect_to."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        header, value = self.server.required
        got = self.headers.get(header)
        self.server.calls.append((self.path, got))
        if self.path == "/redirect":
            return self._send(302, b"", "text/plain", {"Location": self.server.redirect_to})
        if got != value:
            return self._send(401, b'{"error": "credential required"}', "application/json")
        if self.path == "/echo":
            return self._send(400, f"bad request; you sent {header}={got!r} and rows".encode(), "text/plain")
        if self.path == "/echo-cut":
            return self._send(400, ("e" * 190 + got).encode(), "text/plain")
        if self.path == "/echo-missing" and any(v is None for r in body["rows"] for v in r.values()):
            return self._send(422, json.dumps({"error": f"missing value; headers were {dict(self.headers)}"}).encode(),
                              "application/json")
        if self.path == "/down" and self.server.down:
            return self._send(503, b"maintenance", "text/plain")
        predictions = ["yes" if r["x1"] + 0.5 * r["x2"] > 0 else "no" for r in body["rows"]]
        return self._send(200, json.dumps({"predictions": predictions}).encode(), "application/json")

    def _send(self, status, payload, content_type, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def endpoint(required=(HEADER, SECRET)):
    """Yields the running server: .url, .calls [(path, credential header received)], .down, .redirect_to."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    httpd.daemon_threads = True
    httpd.calls, httpd.required, httpd.down, httpd.redirect_to = [], required, False, ""
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---- fixtures and helpers ----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _keys(settings, tmp_path):
    use_tmp_signing_key(settings, tmp_path)
    settings.GAODI_ENDPOINT_SECRET_KEY_FILE = str(tmp_path / "keys" / "endpoint-secrets.key")
    settings.EVALUATION_ENDPOINT_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _request(world, filing, url, secret=SECRET, header=HEADER, plan=ENDPOINT_PLAN):
    data, files = endpoint_form_data(world, url, plan=plan)
    if secret:
        data.update(endpoint_header=header, endpoint_secret=secret)
    return actions.request_evaluation(world.alice, filing, EvaluationRequestForm(data=data, files=files))


def _leaks(text: str, secret: str = SECRET) -> list[str]:
    """Every run of 6 characters of the secret found in `text` (a quote cut off mid-way counts too)."""
    return sorted({secret[i:i + 6] for i in range(len(secret) - 5) if secret[i:i + 6] in text})


def _strings(value) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}\n{_strings(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_strings(v) for v in value)
    return str(value)


def _api(user) -> Client:
    _token, key = PersonalAccessToken.generate(user, "test", timezone.now() + timedelta(days=1))
    return Client(headers={"Authorization": f"Bearer {key}"})


def _page(user, evaluation) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/evaluations/{evaluation.pk}/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _everything_stored(world, evaluation) -> str:
    """The pages, API answers, audit entries, notifications and workflow history of the request."""
    evaluation.refresh_from_db()
    parts = [evaluation.failure_reason, evaluation.summary_zh, evaluation.summary_en]
    for user in (world.alice, world.tina):
        parts.append(_page(user, evaluation))
        parts.append(_strings(_api(user).get(f"{API}/evaluations/{evaluation.pk}").json()))
        parts.append(_strings(_api(user).get(f"{API}/evaluations/{evaluation.pk}/progress").json()))
    parts += [_strings(e.data) for e in AuditEntry.objects.all()]
    parts += list(Notification.objects.values_list("message", flat=True))
    parts += list(WorkflowHistory.objects.values_list("comment", flat=True))
    return "\n".join(parts)


def _column(evaluation) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT endpoint_secret_ciphertext FROM algorithms_evaluationrequest WHERE id = %s",
                       [evaluation.pk])
        return cursor.fetchone()[0]


# ---- the run passes with the credential, and the credential is kept out of everything -----------------

@pytest.mark.django_db(transaction=True)
def test_endpoint_requiring_a_header_is_evaluated_with_the_stored_credential(world, approved, settings):
    with endpoint() as server:
        client = Client()
        client.force_login(world.alice)
        data, files = endpoint_form_data(world, f"{server.url}/ok")
        response = client.post(f"/workspace/filings/{approved.pk}/evaluations/new/",
                                {**data, **files, "endpoint_header": "x-api-key", "endpoint_secret": SECRET})
        assert response.status_code == 302, response.context["form"].errors
        evaluation = EvaluationRequest.objects.get()
        assert evaluation.endpoint_header == HEADER  # the usual spelling

        # At rest: Fernet ciphertext in the column, which decrypts with the key file to the bound secret.
        stored = _column(evaluation)
        assert stored.startswith("gAAAAA") and not _leaks(stored)
        key = open(settings.GAODI_ENDPOINT_SECRET_KEY_FILE, "rb").read().strip()
        assert json.loads(Fernet(key).decrypt(stored.encode())) == {"request": evaluation.token, "secret": SECRET}
        assert os.stat(settings.GAODI_ENDPOINT_SECRET_KEY_FILE).st_mode & 0o777 == 0o600

        # The owner's page shows the header and the last 4 characters; the institution's, the header only.
        owner_page, lab_page = _page(world.alice, evaluation), _page(world.tina, evaluation)
        assert "已设置凭据：请求头 X-API-Key，末尾 …ab12" in owner_page
        assert "已设置凭据：请求头 X-API-Key" in lab_page and "ab12" not in lab_page
        assert 'name="endpoint_secret"' in owner_page and 'name="endpoint_secret"' not in lab_page
        assert not _leaks(owner_page) and not _leaks(lab_page)
        owner_api = _api(world.alice).get(f"{API}/evaluations/{evaluation.pk}").json()["endpoint_credential"]
        lab_api = _api(world.tina).get(f"{API}/evaluations/{evaluation.pk}").json()["endpoint_credential"]
        assert owner_api["set"] and owner_api["header"] == HEADER and owner_api["hint"] == "ab12"
        assert lab_api["set"] and lab_api["hint"] == ""
        assert not _leaks(_strings(owner_api)) and not _leaks(_strings(lab_api))

        actions.accept(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "completed", evaluation.failure_reason
        assert evaluation.passed is True
        assert len(server.calls) == 3 and all(got == SECRET for _path, got in server.calls)

    # Completed: no run can follow, so the credential is gone; the page says so.
    assert evaluation.endpoint_secret_ciphertext == "" and _column(evaluation) == ""
    assert evaluation.endpoint_secret_hint == "" and evaluation.endpoint_secret_erased_at is not None
    assert evaluation.endpoint_header == HEADER
    assert "平台已于" in _page(world.alice, evaluation)
    actions.issue(world.tina, evaluation)
    evaluation.refresh_from_db()
    assert evaluation.state == "issued" and _column(evaluation) == ""
    everything = _everything_stored(world, evaluation)
    assert not _leaks(everything)
    request_entry = AuditEntry.objects.get(action="evaluation.request")
    assert request_entry.data["endpoint_credential"] == {"header": HEADER}
    assert AuditEntry.objects.get(action="evaluation.complete").data["credential_erased"] is True


@pytest.mark.django_db(transaction=True)
def test_the_endpoint_refuses_requests_without_the_credential(world, approved):
    """The control: the same endpoint, no credential stored — the run fails on the 401."""
    with endpoint() as server:
        evaluation = _request(world, approved, f"{server.url}/ok", secret="")
        assert evaluation.endpoint_header == "" and not evaluation.has_endpoint_credential
        actions.accept(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert server.calls and all(got is None for _path, got in server.calls)
    assert evaluation.state == "failed" and evaluation.failure_kind == "endpoint_error"
    assert "answered HTTP 401" in evaluation.failure_reason
    assert "未设置凭据" in _page(world.alice, evaluation)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/echo", "/echo-cut"])
def test_an_endpoint_that_echoes_the_credential_cannot_leak_it(world, approved, path):
    with endpoint() as server:
        evaluation = _request(world, approved, f"{server.url}{path}")
        actions.accept(world.tina, evaluation)
        run_worker()
        assert server.calls and server.calls[0] == (path, SECRET)  # the endpoint did get (and echo) it
    evaluation.refresh_from_db()
    assert evaluation.state == "failed" and evaluation.failure_kind == "endpoint_error"
    assert "answered HTTP 400" in evaluation.failure_reason and credentials.MASK in evaluation.failure_reason
    assert not _leaks(evaluation.failure_reason)
    assert not _leaks(_everything_stored(world, evaluation))
    assert evaluation.has_endpoint_credential  # failed, not final: kept for a retry


@pytest.mark.django_db(transaction=True)
def test_error_text_kept_in_the_result_is_redacted(world, approved):
    """Robustness runs the endpoint on rows with blanks; this endpoint answers those with an error quoting
    its request headers. The row's error is kept in result.json and the report: redacted."""
    plan = ENDPOINT_PLAN.replace("robustness = false\n", "").replace(
        "[endpoint]", '[robustness]\nperturbations = ["missing"]\nseverities = [0.5]\n\n[endpoint]')
    with endpoint() as server:
        evaluation = _request(world, approved, f"{server.url}/echo-missing", plan=plan)
        actions.accept(world.tina, evaluation)
        run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "completed", evaluation.failure_reason
    result = evaluation.result_file.read().decode()
    report = evaluation.report_file.read().decode()
    robustness = next(r for r in json.loads(result)["results"] if r["test"] == "robustness")
    errors = [row["error"] for row in robustness["output"]["results"] if row.get("error")]
    assert errors and all("HTTP 422" in e and credentials.MASK in e for e in errors)
    assert not _leaks(result) and not _leaks(html.unescape(report))


@pytest.mark.django_db(transaction=True)
def test_redirects_are_not_followed_so_the_header_never_reaches_another_host(world, approved):
    with endpoint() as elsewhere, endpoint() as server:
        server.redirect_to = f"{elsewhere.url}/ok"
        evaluation = _request(world, approved, f"{server.url}/redirect")
        actions.accept(world.tina, evaluation)
        run_worker()
        assert server.calls and set(server.calls) == {("/redirect", SECRET)}  # one per batch, all refused
        assert elsewhere.calls == []
    evaluation.refresh_from_db()
    assert evaluation.failure_kind == "endpoint_error" and "answered HTTP 302" in evaluation.failure_reason


# ---- validation ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "expected"), [
    ("", "Authorization"), ("authorization", "Authorization"), ("x-api-key", "X-API-Key"), ("API-KEY", "Api-Key"),
    ("X-Model-Token", "X-Model-Token"), ("X-Ai-2-Key", "X-Ai-2-Key"),
])
def test_allowed_header_names(name, expected):
    assert credentials.clean_header(name) == expected


@pytest.mark.parametrize(("name", "message"), [
    ("Host", "由平台或网络连接本身设定"), ("cookie", "由平台或网络连接本身设定"),
    ("Content-Length", "由平台或网络连接本身设定"), ("Transfer-Encoding", "由平台或网络连接本身设定"),
    ("Connection", "由平台或网络连接本身设定"), ("X-Forwarded-For", "代理服务器"), ("X-Real-IP", "代理服务器"),
    ("X-HTTP-Method-Override", "代理服务器"), ("X-API-Key\r\nHost: evil.example", "换行"),
    ("X-Key\n", "换行"), ("My Header", "不可用"), ("Authorization:", "不可用"), ("Bearer", "不可用"),
    ("X-", "不可用"), ("X-" + "a" * 70, "最多 64 个字符"),
])
def test_refused_header_names(name, message):
    from django import forms

    with pytest.raises(forms.ValidationError) as caught:
        credentials.clean_header(name)
    assert message in caught.value.messages[0]


@pytest.mark.parametrize(("value", "message"), [
    ("abcd\r\nX-Evil: 1", "换行（CR、LF）或空字符（NUL）"), ("abcdefgh\nij", "换行"), ("abcd\x00efghij", "空字符"),
    ("abcd\tefghij", "可打印的 ASCII"), ("密钥密钥密钥密钥", "可打印的 ASCII"),
    ("k" * (credentials.MAX_SECRET_LENGTH + 1), "不能超过 4096 个字符"), ("short", "太短"),
])
def test_refused_secret_values_are_named_but_never_quoted(value, message):
    from django import forms

    with pytest.raises(forms.ValidationError) as caught:
        credentials.clean_secret(value)
    assert message in caught.value.messages[0]
    assert value.strip() not in caught.value.messages[0]


def test_form_errors_are_on_their_fields_and_the_value_is_not_shown_back(client, world, approved):
    client.force_login(world.alice)
    url = f"/workspace/filings/{approved.pk}/evaluations/new/"
    data, files = endpoint_form_data(world, "http://127.0.0.1:9/p")
    response = client.post(url, {**data, **files, "endpoint_header": "Cookie", "endpoint_secret": "ab\ncd" + SECRET})
    errors = response.context["form"].errors
    assert "由平台或网络连接本身设定" in errors["endpoint_header"][0] and "换行" in errors["endpoint_secret"][0]
    assert not _leaks(html.unescape(response.content.decode()))

    # The secret is entered again after another field's error: it is never put back into the page.
    data, files = endpoint_form_data(world, "http://127.0.0.1:9/p", plan="[treshold]")
    response = client.post(url, {**data, **files, "endpoint_header": HEADER, "endpoint_secret": SECRET})
    assert "plan" in response.context["form"].errors
    assert not _leaks(html.unescape(response.content.decode()))

    # A credential belongs to an endpoint; a header name alone is a forgotten value.
    from test_evaluation_service_support import form_data

    data, files = form_data(world)
    response = client.post(url, {**data, **files, "endpoint_header": HEADER, "endpoint_secret": SECRET})
    assert "只用于预测接口" in response.context["form"].errors["endpoint_secret"][0]
    data, files = endpoint_form_data(world, "http://127.0.0.1:9/p")
    response = client.post(url, {**data, **files, "endpoint_header": HEADER, "endpoint_secret": ""})
    assert "请同时填写凭据值" in response.context["form"].errors["endpoint_secret"][0]
    assert not EvaluationRequest.objects.exists()


def test_api_create_takes_the_credential_and_never_returns_it(world, approved):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from test_evaluation_service_support import csv_bytes

    body = {"filing": approved.pk, "institution": world.lab.pk, "plan": ENDPOINT_PLAN,
            "endpoint_url": "http://127.0.0.1:9/p", "endpoint_header": HEADER, "endpoint_secret": SECRET,
            "data": SimpleUploadedFile("test.csv", csv_bytes())}
    created = _api(world.alice).post(f"{API}/evaluations", body)
    assert created.status_code == 201, created.content
    assert created.json()["endpoint_credential"]["set"] is True and created.json()["endpoint_credential"]["hint"] == "ab12"
    assert not _leaks(_strings(created.json()))
    refused = _api(world.alice).post(f"{API}/evaluations", {**body, "endpoint_header": "Host",
                                                            "data": SimpleUploadedFile("test.csv", csv_bytes())})
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["detail"]} == {"endpoint_header"}


# ---- erasure, retry and the key file -------------------------------------------------------------------

def test_declining_erases_the_credential(world, approved):
    evaluation = _request(world, approved, "http://127.0.0.1:9/ok")
    assert evaluation.has_endpoint_credential
    actions.decline(world.tina, evaluation, "超出认可范围")
    evaluation.refresh_from_db()
    assert evaluation.state == "declined" and _column(evaluation) == "" and evaluation.endpoint_secret_erased_at
    assert AuditEntry.objects.get(action="evaluation.decline").data["credential_erased"] is True


@pytest.mark.django_db(transaction=True)
def test_a_retry_of_a_failed_run_keeps_the_credential(world, approved):
    with endpoint() as server:
        server.down = True
        evaluation = _request(world, approved, f"{server.url}/down")
        stored = _column(evaluation)
        actions.accept(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "failed" and "answered HTTP 503" in evaluation.failure_reason
        assert _column(evaluation) == stored  # failed is not final

        server.down = False
        actions.retry(world.tina, evaluation)
        assert _column(evaluation) == stored
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "completed", evaluation.failure_reason
        assert len(server.calls) == 6 and all(got == SECRET for _path, got in server.calls)  # 3 batches, twice
    assert _column(evaluation) == ""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key_file", ["missing", "different"])
def test_a_missing_or_different_key_file_fails_with_a_plain_reason(world, approved, settings, tmp_path, key_file):
    with endpoint() as server:
        evaluation = _request(world, approved, f"{server.url}/ok")
        other = tmp_path / "restored" / "endpoint-secrets.key"
        if key_file == "different":  # e.g. var/ restored from another machine
            other.parent.mkdir()
            other.write_bytes(Fernet.generate_key() + b"\n")
            os.chmod(other, 0o600)
        settings.GAODI_ENDPOINT_SECRET_KEY_FILE = str(other)
        actions.accept(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert server.calls == []  # nothing was sent without the credential
        assert evaluation.state == "failed" and evaluation.failure_kind == "endpoint_credential"
        assert "cannot be decrypted" in evaluation.failure_reason
        assert "ask the enterprise to enter it again" in evaluation.failure_reason
        page = _page(world.alice, evaluation)
        assert "预测接口凭据无法解密，请申请企业重新填写凭据" in page and "Traceback" not in page
        assert not other.exists() or key_file == "different"  # decrypting never makes a new key

        # The enterprise enters it again (encrypted with the key now in place); the institution retries.
        client = Client()
        client.force_login(world.alice)
        response = client.post(f"/evaluations/{evaluation.pk}/endpoint-credential/",
                               {"endpoint_header": HEADER, "endpoint_secret": SECRET})
        assert response.status_code == 302
        actions.retry(world.tina, evaluation)
        run_worker()
        evaluation.refresh_from_db()
        assert evaluation.state == "completed", evaluation.failure_reason
        assert server.calls and all(got == SECRET for _path, got in server.calls)


def test_a_ciphertext_moved_to_another_request_does_not_decrypt(world, approved):
    first = _request(world, approved, "http://127.0.0.1:9/a")
    second = _request(world, approved, "http://127.0.0.1:9/b", secret=OTHER_SECRET, header="Authorization")
    assert credentials.decrypt(first.endpoint_secret_ciphertext, first.token) == SECRET
    assert credentials.decrypt(second.endpoint_secret_ciphertext, second.token) == OTHER_SECRET
    with pytest.raises(credentials.EndpointCredentialError, match="ask the enterprise to enter it again"):
        credentials.decrypt(first.endpoint_secret_ciphertext, second.token)
    assert second.endpoint_secret_hint == "Y1zA"


# ---- who may set, replace or remove it -------------------------------------------------------------------

def test_only_the_enterprise_sets_replaces_or_removes_the_credential(world, approved):
    evaluation = _request(world, approved, "http://127.0.0.1:9/ok")
    stored = _column(evaluation)
    url = f"/evaluations/{evaluation.pk}/endpoint-credential/"
    api_url = f"{API}/evaluations/{evaluation.pk}/endpoint-credential"
    replace = {"endpoint_header": "Authorization", "endpoint_secret": OTHER_SECRET}
    for user, status in ((world.tina, 403), (world.ted, 404), (world.bob, 404), (world.nobody, 404)):
        client = Client()
        client.force_login(user)
        assert client.post(url, replace).status_code == status
        assert _api(user).post(api_url, replace, content_type="application/json").status_code == status
    assert _column(evaluation) == stored

    # The enterprise replaces it on the page: one audit entry, naming headers, never a value.
    client = Client()
    client.force_login(world.alice)
    assert client.post(url, replace).status_code == 302
    evaluation.refresh_from_db()
    assert credentials.decrypt(evaluation.endpoint_secret_ciphertext, evaluation.token) == OTHER_SECRET
    assert evaluation.endpoint_header == "Authorization" and evaluation.endpoint_secret_hint == OTHER_SECRET[-4:]
    entry = AuditEntry.objects.get(action="evaluation.endpoint_credential")
    assert entry.data == {"change": "replaced", "header": "Authorization", "previous_header": HEADER,
                          "state": "requested"}
    assert not _leaks(_strings(entry.data), OTHER_SECRET) and not _leaks(_strings(entry.data))
    lab_page = _page(world.tina, evaluation)
    assert "已设置凭据：请求头 Authorization" in lab_page and OTHER_SECRET[-4:] not in lab_page

    # Field errors on the page; removal through the API.
    response = client.post(url, {"endpoint_header": "Host", "endpoint_secret": OTHER_SECRET})
    assert response.status_code == 200 and "由平台或网络连接本身设定" in response.content.decode()
    response = _api(world.alice).post(api_url, {"endpoint_secret": "x\r\ny-evil-value"}, content_type="application/json")
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "endpoint_secret"
    removed = _api(world.alice).post(api_url, {"remove": True}, content_type="application/json")
    assert removed.status_code == 200 and removed.json()["endpoint_credential"]["set"] is False
    assert _column(evaluation) == "" and AuditEntry.objects.filter(action="evaluation.endpoint_credential").count() == 2
    assert "未设置凭据" in _page(world.alice, evaluation)


@pytest.mark.parametrize("state", ["running", "completed", "issued"])
def test_the_credential_cannot_change_while_running_or_after_the_end(world, approved, state):
    evaluation = _request(world, approved, "http://127.0.0.1:9/ok")
    EvaluationRequest.objects.filter(pk=evaluation.pk).update(state=state)
    stored = _column(evaluation)
    form = EndpointCredentialForm(data={"endpoint_header": HEADER, "endpoint_secret": OTHER_SECRET})
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        actions.set_endpoint_credential(world.alice, evaluation, form)
    assert "不能更改接口凭据" in caught.value.message_dict["endpoint_secret"][0]
    response = _api(world.alice).post(f"{API}/evaluations/{evaluation.pk}/endpoint-credential",
                                      {"endpoint_secret": OTHER_SECRET}, content_type="application/json")
    assert response.status_code == 422 and _column(evaluation) == stored
    assert 'name="endpoint_secret"' not in _page(world.alice, evaluation)


# ---- redaction itself ---------------------------------------------------------------------------------

def test_redaction_masks_the_secret_its_escapes_and_cut_off_parts():
    secret = 'Zq7\\xR2"mZp9WvT4kLsN3-ab12'
    for text in (f"got {secret}", f"got {secret!r}", f"got {json.dumps(secret)}", repr(f"body {secret!r}"),
                 f"cut {secret[:9]}", f"tail {secret[-8:]}", "x" * 190 + secret):
        redacted = credentials.redact(text, secret)
        assert credentials.MASK in redacted and not _leaks(redacted, secret), (text, redacted)
    assert credentials.redact("endpoint answered HTTP 500", secret) == "endpoint answered HTTP 500"
    assert credentials.redact_document({"a": [f"x {secret}"], "n": 1}, secret) == {"a": [f"x {credentials.MASK}"], "n": 1}
