"""The back office shows evaluation requests, certificates and catalog entries read-only: no add, no
delete, no field to change (changes go through the actions, with workflow history and audit)."""

from __future__ import annotations

import pytest
from test_catalog_support import issued_evaluation
from test_evaluation_service_support import use_tmp_signing_key

from gaodi.apps.algorithms import catalog_actions
from gaodi.apps.algorithms.catalog_forms import NominationForm


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def test_admin_is_read_only(client, world, make_filing):
    evaluation = issued_evaluation(world, make_filing("approved"))
    entry = catalog_actions.nominate(world.alice, evaluation, NominationForm(data={"justification": "值得推荐的稳定模型。"}))
    certificate = evaluation.certificate
    client.force_login(world.admin)
    for model, obj, text in (("evaluationrequest", evaluation, evaluation.filing.name),
                             ("evaluationcertificate", certificate, certificate.certificate_id),
                             ("catalogentry", entry, entry.filing.name)):
        base = f"/admin/algorithms/{model}/"
        listing = client.get(base)
        assert listing.status_code == 200 and text in listing.content.decode()
        assert client.get(f"{base}?q={text[:4]}").status_code == 200  # search works
        assert client.get(f"{base}add/").status_code == 403
        assert client.get(f"{base}{obj.pk}/delete/").status_code == 403
        page = client.get(f"{base}{obj.pk}/change/")
        assert page.status_code == 200
        html = page.content.decode()
        assert "<textarea" not in html and 'type="text"' not in html and "<select" not in html.split("</header>")[-1]
    # A forged POST to the change page changes nothing.
    client.post(f"/admin/algorithms/evaluationrequest/{evaluation.pk}/change/", {"state": "requested"})
    evaluation.refresh_from_db()
    assert evaluation.state == "issued"
    client.post(f"/admin/algorithms/catalogentry/{entry.pk}/change/", {"state": "approved"})
    entry.refresh_from_db()
    assert entry.state == "pending"


def test_admin_needs_staff(client, world):
    client.force_login(world.alice)
    assert client.get("/admin/algorithms/evaluationrequest/").status_code == 302


def test_admin_never_shows_the_endpoint_credential(client, world, make_filing):
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest

    evaluation = issued_evaluation(world, make_filing("approved"))
    EvaluationRequest.objects.filter(pk=evaluation.pk).update(endpoint_secret_ciphertext="gAAAA-cipher-text-marker",
                                                              endpoint_secret_hint="~Zq~")
    client.force_login(world.admin)
    page = client.get(f"/admin/algorithms/evaluationrequest/{evaluation.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert evaluation.filing.name in html
    assert "gAAAA-cipher-text-marker" not in html and "~Zq~" not in html
