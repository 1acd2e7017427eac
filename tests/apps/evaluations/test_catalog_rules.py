"""Refusals of the recommended catalog, each with a clear error."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import use_tmp_signing_key

from gaodi.apps.algorithms import catalog_actions, evaluation_actions
from gaodi.apps.algorithms.catalog_forms import NominationForm
from gaodi.apps.algorithms.catalog_models import CatalogEntry

REASON = {"justification": "该模型表现稳定，值得推荐。"}


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def _nominate(user, evaluation):
    return catalog_actions.nominate(user, evaluation, NominationForm(data=REASON))


def test_a_failed_evaluation_cannot_be_nominated(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"), passed=False)
    with pytest.raises(ValidationError, match="全部阈值均通过"):
        _nominate(world.alice, evaluation)
    client.force_login(world.alice)
    url = f"/evaluations/{evaluation.pk}/catalog/nominate/"
    assert url not in client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    response = client.get(url, follow=True)
    assert "全部阈值均通过" in response.content.decode()
    response = client.post(url, REASON)
    assert response.status_code == 400 and "全部阈值均通过" in response.content.decode()
    assert not CatalogEntry.objects.exists()


def test_every_threshold_must_pass_even_if_only_informative(world, make_filing):
    checks = [{"metric": "accuracy", "threshold": {"min": 0.5}, "passed": True, "required": True},
              {"metric": "demographic_parity", "threshold": {"max": 0.1}, "passed": False, "required": False}]
    evaluation = issued_evaluation(world, make_filing("approved"), passed=True, checks=checks)
    with pytest.raises(ValidationError, match="全部阈值均通过"):
        _nominate(world.alice, evaluation)


def test_a_revoked_certificate_cannot_be_nominated_nor_approved(world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = _nominate(world.alice, evaluation)
    evaluation_actions.revoke(world.tina, evaluation, "数据有误")
    with pytest.raises(ValidationError, match="已被撤销"):
        catalog_actions.approve(world.rita, entry)
    entry.refresh_from_db()
    assert entry.state == "suspended"  # the pending nomination was suspended with the revocation
    with pytest.raises(ValidationError, match="不能执行"):
        catalog_actions.reject(world.rita, entry, "证书已撤销")
    evaluation.refresh_from_db()
    with pytest.raises(ValidationError, match="已被撤销"):
        _nominate(world.alice, evaluation)


def test_an_unissued_evaluation_cannot_be_nominated(world, make_filing):
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest

    evaluation = issued_evaluation(world, make_filing("approved"))
    EvaluationRequest.objects.filter(pk=evaluation.pk).update(state="completed")
    evaluation.refresh_from_db()
    with pytest.raises(ValidationError, match="已出具证书"):
        _nominate(world.alice, evaluation)


def test_twice_while_pending_and_after_approval(world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = _nominate(world.alice, evaluation)
    with pytest.raises(ValidationError, match="正在审核"):
        _nominate(world.alice, evaluation)
    catalog_actions.approve(world.rita, entry)
    with pytest.raises(ValidationError, match="已凭此证书列入推荐目录"):
        _nominate(world.alice, evaluation)
    assert CatalogEntry.objects.count() == 1


def test_another_enterprise_cannot_nominate(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    with pytest.raises(PermissionDenied):
        _nominate(world.bob, evaluation)
    client.force_login(world.bob)
    assert client.post(f"/evaluations/{evaluation.pk}/catalog/nominate/", REASON).status_code == 404
    client.force_login(world.tina)  # the institution sees the evaluation but is not its enterprise
    assert client.get(f"/evaluations/{evaluation.pk}/catalog/nominate/").status_code == 404
    assert "/catalog/nominate/" not in client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert not CatalogEntry.objects.exists()


def test_only_the_filing_department_decides(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))  # reviewed by the cyberspace office
    entry = _nominate(world.alice, evaluation)
    with pytest.raises(PermissionDenied, match="无权"):
        catalog_actions.approve(world.ron, entry)  # a reviewer of the economy commission
    with pytest.raises(PermissionDenied):
        catalog_actions.approve(world.alice, entry)
    client.force_login(world.ron)
    assert client.post(f"/catalog/{entry.pk}/approve/").status_code == 404
    client.force_login(world.paul)  # the cyberspace office's publisher is not a reviewer
    assert client.post(f"/catalog/{entry.pk}/approve/").status_code == 404
    entry.refresh_from_db()
    assert entry.state == "pending"


def test_economy_department_reviews_its_own_filings(world, make_filing):
    filing = make_filing("approved", department=world.economy)
    entry = _nominate(world.alice, issued_evaluation(world, filing))
    assert entry.department_id == world.economy.pk
    assert catalog_actions.approve(world.ron, entry).state == "approved"
