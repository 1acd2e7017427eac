"""The recommended catalog end to end: nominate, review, the public page, search, exports, suspension."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import use_tmp_signing_key

from gaodi.apps.algorithms import catalog_actions, evaluation_actions
from gaodi.apps.algorithms.catalog_models import CatalogEntry
from gaodi.apps.algorithms.catalog_workflows import CATALOG
from gaodi.apps.core.models import AuditEntry, Notification
from gaodi.engines import workdays


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def test_nominate_approve_publish_search_export_and_suspend(client, world, make_filing):
    filing = make_filing("approved")
    evaluation = issued_evaluation(world, filing)
    certificate = evaluation.certificate

    client.force_login(world.alice)
    detail = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    nominate_url = f"/evaluations/{evaluation.pk}/catalog/nominate/"
    assert nominate_url in detail  # offered to the owner of a passing, valid certificate
    assert client.get(nominate_url).status_code == 200
    short = client.post(nominate_url, {"justification": "好"})
    assert short.status_code == 400 and "至少需要 10 个字" in short.content.decode()
    response = client.post(nominate_url, {"justification": "该模型在电商推荐场景中准确率高、公平性良好，可推广。"})
    assert response.status_code == 302
    entry = CatalogEntry.objects.get()
    assert entry.state == "pending" and entry.department_id == world.cyber.pk and entry.certificate == certificate
    assert entry.deadline == workdays.add_working_days(timezone.localdate(), 15)
    assert Notification.objects.filter(recipient=world.rita, url=f"/catalog/{entry.pk}/").exists()
    assert AuditEntry.objects.filter(action="catalog.nominate", object_id=str(entry.pk)).exists()
    assert nominate_url not in client.get(f"/evaluations/{evaluation.pk}/").content.decode()  # one is pending

    twice = client.post(nominate_url, {"justification": "再次申报同一个模型，理由相同。"})
    assert twice.status_code == 400 and "正在审核" in twice.content.decode()
    assert CatalogEntry.objects.count() == 1

    # Not public yet.
    client.logout()
    assert client.get(f"/catalog/{entry.pk}/").status_code == 404
    assert filing.name not in client.get("/catalog/").content.decode()

    client.force_login(world.rita)
    page = client.get(f"/catalog/{entry.pk}/").content.decode()
    assert "同意列入推荐目录" in page and "不予列入" in page
    assert filing.name in client.get("/workspace/catalog/").content.decode()
    assert client.post(f"/catalog/{entry.pk}/approve/", {"comment": "同意"}).status_code == 302
    entry.refresh_from_db()
    assert entry.state == "approved" and entry.decided_by == world.rita and entry.deadline is None
    (row,) = CATALOG.history(entry)
    assert (row.transition, row.from_state, row.to_state, row.actor, row.comment) == (
        "approve", "pending", "approved", world.rita, "同意")
    assert AuditEntry.objects.filter(action="catalog.approve", object_id=str(entry.pk)).exists()
    assert Notification.objects.filter(recipient=world.alice, url=f"/catalog/{entry.pk}/").exists()

    client.logout()
    listing = client.get("/catalog/").content.decode()
    assert filing.name in listing and f"/catalog/{entry.pk}/" in listing
    page = client.get(f"/catalog/{entry.pk}/").content.decode()
    assert f"/filings/{filing.pk}/" in page and f"/verify/{certificate.certificate_id}/" in page
    assert "已列入目录" in page

    # Search (Chinese full text, doc_type "catalog") and filters.
    assert filing.name in client.get("/catalog/", {"q": "个性化推荐"}).content.decode()
    assert filing.name in client.get("/catalog/", {"q": world.ent_a.name}).content.decode()
    assert filing.name not in client.get("/catalog/", {"q": "自动驾驶"}).content.decode()
    assert filing.name in client.get("/catalog/", {"category": "recommendation"}).content.decode()
    assert filing.name not in client.get("/catalog/", {"category": "generative"}).content.decode()
    if filing.district:
        assert filing.name in client.get("/catalog/", {"district": filing.district}).content.decode()
    other = next(code for code in ("310101", "310115", "310104") if code != filing.district)
    assert filing.name not in client.get("/catalog/", {"district": other}).content.decode()
    assert client.get("/catalog/", {"district": "nowhere"}).status_code == 200  # reported, not a 500

    # Exports.
    data = json.loads(client.get("/catalog/", {"format": "json"}).content)
    (item,) = data["items"]
    assert item["filing_number"] == filing.filing_number and item["certificate_id"] == certificate.certificate_id
    assert item["status"] == "listed" and item["verification_url"].endswith(f"/verify/{certificate.certificate_id}/")
    rows = list(csv.reader(io.StringIO(client.get("/catalog/", {"format": "csv"}).content.decode("utf-8-sig"))))
    assert rows[0][0].startswith("备案编号") and rows[1][1] == filing.name
    sheet = load_workbook(io.BytesIO(client.get("/catalog/", {"format": "xlsx"}).content)).active
    assert [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))][1] == filing.name
    assert client.get("/catalog/", {"format": "pdf"}).status_code == 400

    # The certificate is revoked later: the entry leaves the catalog through the workflow (a system
    # transition in the revocation's transaction), and stays public as suspended, with the reason.
    evaluation_actions.revoke(world.tina, evaluation, "测试数据有误")
    entry.refresh_from_db()
    assert entry.state == "suspended" and "测试数据有误" in entry.end_reason and entry.ended_by == world.tina
    assert [h.transition for h in CATALOG.history(entry)] == ["approve", "suspend"]
    assert Notification.objects.filter(recipient=world.rita, message__contains="已暂停").exists()
    page = client.get(f"/catalog/{entry.pk}/").content.decode()
    assert "已暂停" in page and "测试数据有误" in page
    assert f"/catalog/{entry.pk}/" not in client.get("/catalog/").content.decode()  # out of the catalog
    assert f"/catalog/{entry.pk}/" in client.get("/catalog/", {"status": "suspended"}).content.decode()
    assert json.loads(client.get("/catalog/", {"format": "json"}).content)["items"] == []
    (item,) = json.loads(client.get("/catalog/", {"format": "json", "status": "all"}).content)["items"]
    assert item["status"] == "suspended" and "测试数据有误" in item["end_reason"]
    assert filing.name not in client.get("/catalog/", {"status": "listed"}).content.decode()
    assert CatalogEntry.objects.listed().count() == 0


def test_reject_needs_a_comment_and_allows_a_new_nomination(client, world, make_filing):
    from django.core.exceptions import ValidationError

    from gaodi.apps.algorithms.catalog_forms import NominationForm

    evaluation = issued_evaluation(world, make_filing("approved"))
    form = NominationForm(data={"justification": "该模型表现稳定，值得推荐。"})
    entry = catalog_actions.nominate(world.alice, evaluation, form)
    with pytest.raises(ValidationError, match="须填写意见"):
        catalog_actions.reject(world.rita, entry, "  ")
    client.force_login(world.rita)
    client.post(f"/catalog/{entry.pk}/reject/", {"comment": ""})
    entry.refresh_from_db()
    assert entry.state == "pending"
    assert client.post(f"/catalog/{entry.pk}/reject/", {"comment": "缺少应用成效材料"}).status_code == 302
    entry.refresh_from_db()
    assert entry.state == "rejected" and entry.decision_comment == "缺少应用成效材料"
    assert Notification.objects.filter(recipient=world.alice, message__contains="缺少应用成效材料").exists()
    client.logout()
    assert client.get(f"/catalog/{entry.pk}/").status_code == 404  # a rejection is not published
    again = catalog_actions.nominate(world.alice, evaluation,
                                     NominationForm(data={"justification": "已补充应用成效材料，再次申报。"}))
    assert again.state == "pending" and CatalogEntry.objects.count() == 2
