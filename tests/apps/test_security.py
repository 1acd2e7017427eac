"""Bad and hostile input: each gets a clear refusal naming the field, and nothing changes."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from gaodi.apps.algorithms.models import AlgorithmFiling
from tests.factories import FILING_DATA, minimal_pdf, pdf_upload

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _post_new(client, world, **overrides):
    data = {**FILING_DATA, "department": world.cyber.pk, "save": "1", **overrides}
    return client.post("/workspace/filings/new/", data)


def _docx(with_macro: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
        if with_macro:
            zf.writestr("word/vbaProject.bin", b"\x00" * 16)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("report.pdf", pickle.dumps({"evil": 1}), "不符"),  # a pickle disguised as a PDF
        ("report.pdf", b"MZ\x90\x00" + b"\x00" * 100, "不符"),  # an executable renamed
        ("report.exe", minimal_pdf(), "只接受"),
        ("report.docx", b"PK\x03\x04garbage", "不符"),
        ("report.docx", _docx(with_macro=True), "不符"),
        ("report.pdf", b"", "空"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_saved(client, world, name, content, message):
    client.force_login(world.alice)
    response = _post_new(client, world, report=SimpleUploadedFile(name, content))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'id="id_report_error"' in response.content.decode()  # the error sits on the report field
    assert AlgorithmFiling.objects.count() == 0


def test_oversize_upload_is_refused(client, world, settings):
    settings.GAODI_MAX_REPORT_BYTES = 2048
    client.force_login(world.alice)
    big = minimal_pdf() + b"%" + b"x" * 4096
    response = _post_new(client, world, report=SimpleUploadedFile("big.pdf", big))
    assert "超过上限" in response.content.decode()
    assert AlgorithmFiling.objects.count() == 0


def test_real_office_document_is_accepted(client, world):
    client.force_login(world.alice)
    _post_new(client, world, report=SimpleUploadedFile("report.docx", _docx()))
    assert AlgorithmFiling.objects.get().report_extension == ".docx"


def test_missing_name_is_refused_with_field_message(client, world):
    client.force_login(world.alice)
    response = _post_new(client, world, name="")
    assert response.status_code == 200 and 'id="id_name_error"' in response.content.decode()
    assert AlgorithmFiling.objects.count() == 0


def test_xss_in_every_text_field_is_escaped_everywhere(client, world, make_filing):
    fields = {k: XSS for k in ("scenarios", "domain", "principle", "mechanism", "purpose", "products")}
    fields["name"] = XSS[:100]
    fields["public_text"] = XSS * 2
    filing = make_filing("approved", **fields)
    pages = [f"/filings/{filing.pk}/", "/filings/", "/", f"/filings/?q={XSS}"]
    client.force_login(world.alice)
    pages.append(f"/workspace/filings/{filing.pk}/")
    for url in pages:
        body = client.get(url).content.decode()
        assert "<script>alert" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;" in client.get(f"/filings/{filing.pk}/").content.decode()


def test_guessed_filing_url_reveals_nothing_to_another_enterprise(client, world, make_filing):
    draft = make_filing("draft")
    client.force_login(world.bob)
    for url in (f"/filings/{draft.pk}/", f"/workspace/filings/{draft.pk}/", f"/workspace/filings/{draft.pk}/report/",
                f"/workspace/filings/{draft.pk}/edit/", "/filings/999999/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert draft.name not in response.content.decode()
    client.post(f"/workspace/filings/{draft.pk}/submit/")
    draft.refresh_from_db()
    assert draft.state == "draft"


def test_post_without_csrf_token_is_refused(world, make_filing):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    draft = make_filing("draft")
    response = client.post(f"/workspace/filings/{draft.pk}/submit/")
    assert response.status_code == 403 and "跨站请求伪造" in response.content.decode()
    draft.refresh_from_db()
    assert draft.state == "draft"
    response = _post_new(client, world)
    assert response.status_code == 403 and AlgorithmFiling.objects.count() == 1


def test_logins_are_rate_limited(world):
    client = Client()
    for _ in range(4):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong-password"})
        assert response.status_code == 200
    # The fifth failure locks the account for this address; even the right password is then refused.
    assert client.post("/accounts/login/", {"username": "alice", "password": "x"}).status_code == 429
    locked = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert locked.status_code == 429 and "锁定" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_correct_login_works(world):
    client = Client()
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(world.alice.pk)


def test_passwords_are_hashed_with_argon2():
    from gaodi.config import settings as production_settings

    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_report_download_is_never_rendered_inline(client, world, make_filing):
    filing = make_filing("draft")
    client.force_login(world.alice)
    response = client.get(f"/workspace/filings/{filing.pk}/report/")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_export_cells_cannot_become_formulas(client, world, make_filing):
    make_filing("approved", domain="=HYPERLINK(\"http://evil\")")
    body = client.get("/filings/?format=csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK" in body


def test_elder_mode_redirect_is_not_an_open_redirect(client):
    response = client.post("/prefs/elder/", {"elder": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert response.cookies["elder"].value == "1"


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {"GAODI_ENV": "production", "GAODI_SECRET_KEY": "x" * 60 + "production-secret-for-check",
           "GAODI_ALLOWED_HOSTS": "gaodi.example.org", "GAODI_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "gaodi.cli", "check", "--deploy", "--fail-level", "WARNING"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_upload_helper_accepts_real_pdf(world):
    from gaodi.apps.core.uploads import check_document

    checked = check_document(pdf_upload(), 10**6)
    assert checked.extension == ".pdf" and len(checked.sha256) == 64


def test_form_errors_are_shown_once(client, world):
    client.force_login(world.alice)
    body = _post_new(client, world, name="").content.decode()
    error_block = body.split('id="id_name_error"', 1)[1].split("</div>", 1)[0]
    assert error_block.count("<li>") == 1
