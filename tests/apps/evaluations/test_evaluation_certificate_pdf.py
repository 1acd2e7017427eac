"""The certificate's PDF rendering: a structurally valid PDF (cross-reference table checked) with the
certificate id, the verification link, the signature and key fingerprint, CJK text in the built-in
STSong-Light font, and a QR code of the verification URL; linked from the HTML pages."""

from __future__ import annotations

import json
import re

import pytest
from reportlab.graphics.barcode.qr import QrCodeWidget
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import use_tmp_signing_key

from gaodi.apps.algorithms import evaluation_actions
from gaodi.apps.algorithms.evaluation_pdf import qr_drawing, render_certificate


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def assert_valid_pdf(body: bytes) -> None:
    """Header, trailer, and a cross-reference table whose every offset points at its object."""
    assert body.startswith(b"%PDF-1.") and body.rstrip().endswith(b"%%EOF")
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", body).group(1))
    assert body[start:start + 4] == b"xref"
    first, count = map(int, re.match(rb"xref\s+(\d+)\s+(\d+)\s", body[start:]).groups())
    table = re.findall(rb"(\d{10}) (\d{5}) ([nf])", body[start:])[:count]
    assert len(table) == count and count > 5
    for number, (offset, _gen, kind) in enumerate(table, start=first):
        if kind == b"n":
            assert re.match(rb"%d 0 obj" % number, body[int(offset):]), f"object {number} is not at {int(offset)}"
    assert re.search(rb"/Root \d+ 0 R", body)


def test_pdf_has_id_link_signature_fingerprint_and_cjk_font(world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    certificate = evaluation.certificate
    url = f"https://gaodi.example.cn/verify/{certificate.certificate_id}/"
    body = render_certificate(json.loads(certificate.payload), certificate_id=certificate.certificate_id,
                              signature=certificate.signature, key_fingerprint=certificate.key_fingerprint,
                              verify_url=url, compress=False)
    assert_valid_pdf(body)
    assert f"({certificate.certificate_id}) Tj".encode() in body  # drawn text, readable in the content stream
    assert f"/URI ({url})".encode() in body  # the clickable verification link
    assert certificate.key_fingerprint[:40].encode() in body
    assert certificate.signature[:20].encode() in body
    assert b"/BaseFont /STSong-Light" in body and b"UniGB-UCS2-H" in body  # Chinese via the CID font
    assert b"/Title (Gaodi evaluation certificate " + certificate.certificate_id.encode() in body
    assert b"REVOKED" not in body


def test_qr_code_encodes_the_verification_url():
    url = "https://gaodi.example.cn/verify/EC-2026-ABCDEF012345/"
    drawing = qr_drawing(url)
    (widget,) = [c for c in drawing.contents if isinstance(c, QrCodeWidget)]
    assert widget.value == url
    assert drawing.width == drawing.height > 0


def test_pdf_is_served_publicly_and_linked_from_the_certificate_pages(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    cid = evaluation.certificate.certificate_id
    pdf_url = f"/verify/{cid}/certificate.pdf"
    assert pdf_url in client.get(f"/verify/{cid}/").content.decode()
    assert pdf_url in client.get(f"/verify/{cid}/certificate/").content.decode()
    client.force_login(world.alice)
    assert pdf_url in client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    client.logout()

    response = client.get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{cid}.pdf"' in response["Content-Disposition"]
    body = response.content
    assert_valid_pdf(body)
    assert f"/URI (http://testserver/verify/{cid}/)".encode() in body
    assert cid.encode() in body

    evaluation_actions.revoke(world.tina, evaluation, "测试数据有误")
    assert b"REVOKED" in render_certificate({}, certificate_id=cid, signature="s", key_fingerprint="f",
                                            verify_url="https://x/", revoked_reason="测试数据有误", compress=False)
    assert client.get(pdf_url).status_code == 200
    assert client.get("/verify/EC-2026-NOSUCH/certificate.pdf").status_code == 404


def test_issue_time_reads_in_the_platform_time_zone(client, world, make_filing):
    from gaodi.apps.algorithms.evaluation_pdf import local_time

    assert local_time("2026-11-30T05:48:53.414303+00:00") == "2026-11-30 13:48:53 (Asia/Shanghai)"
    assert local_time("not a time") == "not a time"
    certificate = issued_evaluation(world, make_filing("approved")).certificate
    payload = json.loads(certificate.payload)
    html = client.get(f"/verify/{certificate.certificate_id}/certificate/").content.decode()
    # People read the local time; the machine-readable attribute keeps the signed value.
    assert f'<time datetime="{payload["issued_at"]}">{local_time(payload["issued_at"])}</time>' in html
    body = render_certificate(payload, certificate_id=certificate.certificate_id, signature=certificate.signature,
                              key_fingerprint=certificate.key_fingerprint, verify_url="https://x.example/v/",
                              compress=False)
    assert local_time(payload["issued_at"]).split(" (")[0].encode() in body  # PDF escapes the parentheses
    assert payload["issued_at"].encode() not in body
