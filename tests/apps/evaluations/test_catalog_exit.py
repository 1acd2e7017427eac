"""Leaving the recommended catalog through the workflow: the enterprise withdraws, the department
removes, a revoked certificate suspends; and the nomination button shows only when the action would
accept the nomination."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import use_tmp_signing_key

from gaodi.apps.algorithms import catalog_actions, evaluation_actions
from gaodi.apps.algorithms.catalog_forms import NominationForm
from gaodi.apps.algorithms.catalog_models import CatalogEntry
from gaodi.apps.algorithms.catalog_workflows import CATALOG
from gaodi.apps.core.models import AuditEntry, Notification

REASON = {"justification": "该模型表现稳定，值得推荐。"}


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def _nominate(world, evaluation):
    return catalog_actions.nominate(world.alice, evaluation, NominationForm(data=REASON))


def _nominate_link(client, evaluation) -> bool:
    return f"/evaluations/{evaluation.pk}/catalog/nominate/" in client.get(f"/evaluations/{evaluation.pk}/").content.decode()


def test_nominate_button_only_when_eligible(client, world, make_filing):
    client.force_login(world.alice)
    failed = issued_evaluation(world, make_filing("approved"), passed=False)
    assert not _nominate_link(client, failed)
    evaluation = issued_evaluation(world, make_filing("approved", name="另一个推荐算法"))
    assert _nominate_link(client, evaluation)
    entry = _nominate(world, evaluation)
    assert not _nominate_link(client, evaluation)  # pending
    catalog_actions.approve(world.rita, entry)
    assert not _nominate_link(client, evaluation)  # listed
    catalog_actions.withdraw(world.alice, entry, "产品调整")
    assert _nominate_link(client, evaluation)  # withdrawn by the enterprise: may be nominated again
    entry = _nominate(world, evaluation)
    catalog_actions.approve(world.rita, entry)
    catalog_actions.remove(world.rita, entry, "发现歧视性结果")
    assert not _nominate_link(client, evaluation)  # removed by the department: needs a new certificate
    with pytest.raises(ValidationError, match="新的测评证书"):
        _nominate(world, evaluation)
    client.force_login(world.tina)  # the institution never gets the button
    other = issued_evaluation(world, make_filing("approved", name="第三个推荐算法"))
    assert not _nominate_link(client, other)


def test_owner_withdraws_a_listed_entry_through_the_page(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = catalog_actions.approve(world.rita, _nominate(world, evaluation))
    client.force_login(world.alice)
    page = client.get(f"/catalog/{entry.pk}/").content.decode()
    assert "撤回（退出推荐目录）" in page and "移出推荐目录" not in page.replace("退出推荐目录", "")
    client.post(f"/catalog/{entry.pk}/withdraw/", {"comment": ""})  # a reason is required
    assert CatalogEntry.objects.get().state == "approved"
    assert client.post(f"/catalog/{entry.pk}/withdraw/", {"comment": "产品下线"}).status_code == 302
    entry.refresh_from_db()
    assert entry.state == "withdrawn" and entry.end_reason == "产品下线" and entry.ended_by == world.alice
    assert [h.transition for h in CATALOG.history(entry)] == ["approve", "withdraw"]
    assert AuditEntry.objects.filter(action="catalog.withdraw", object_id=str(entry.pk)).exists()
    assert Notification.objects.filter(recipient=world.rita, message__contains="产品下线").exists()
    client.logout()
    assert f"/catalog/{entry.pk}/" not in client.get("/catalog/").content.decode()
    page = client.get(f"/catalog/{entry.pk}/").content.decode()  # the record stays public, with the reason
    assert "企业已撤回" in page and "产品下线" in page
    assert f"/catalog/{entry.pk}/" in client.get("/catalog/", {"status": "ended"}).content.decode()


def test_withdrawing_a_pending_nomination_keeps_it_private(client, world, make_filing):
    entry = _nominate(world, issued_evaluation(world, make_filing("approved")))
    catalog_actions.withdraw(world.alice, entry, "材料需要完善")
    client.logout()
    assert client.get(f"/catalog/{entry.pk}/").status_code == 404  # never listed: never public
    assert f"/catalog/{entry.pk}/" not in client.get("/catalog/", {"status": "all"}).content.decode()


def test_department_removes_with_a_reason_and_only_the_department(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = catalog_actions.approve(world.rita, _nominate(world, evaluation))
    with pytest.raises(PermissionDenied):
        catalog_actions.remove(world.alice, entry, "企业不能移出")
    with pytest.raises(PermissionDenied):
        catalog_actions.remove(world.ron, entry, "其他部门不能移出")
    with pytest.raises(PermissionDenied):
        catalog_actions.withdraw(world.rita, entry, "部门不能代企业撤回")
    client.force_login(world.alice)
    assert client.post(f"/catalog/{entry.pk}/remove/", {"comment": "x"}).status_code == 403
    client.force_login(world.bob)
    assert client.post(f"/catalog/{entry.pk}/withdraw/", {"comment": "x"}).status_code == 403
    client.force_login(world.rita)
    assert client.post(f"/catalog/{entry.pk}/remove/", {"comment": "应用中发现歧视性结果"}).status_code == 302
    entry.refresh_from_db()
    assert entry.state == "removed" and entry.end_reason == "应用中发现歧视性结果"
    assert Notification.objects.filter(recipient=world.alice, message__contains="移出推荐目录").exists()
    with pytest.raises(ValidationError, match="不能执行"):
        catalog_actions.withdraw(world.alice, entry, "已移出的条目不能再撤回")


def test_revoking_the_certificate_suspends_the_listed_entry_in_the_same_transaction(world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = catalog_actions.approve(world.rita, _nominate(world, evaluation))
    evaluation_actions.revoke(world.tina, evaluation, "数据造假")
    entry.refresh_from_db()
    assert entry.state == "suspended" and entry.suspended and not entry.is_listed
    (row,) = [h for h in CATALOG.history(entry) if h.transition == "suspend"]
    assert row.actor == world.tina and "数据造假" in row.comment
    assert AuditEntry.objects.filter(action="catalog.suspend", object_id=str(entry.pk)).exists()
    assert CatalogEntry.objects.listed().count() == 0
