"""The evaluation demo of `gaodi demo`: models evaluated by the demo testing institution through the real
actions and the worker's task, certificates signed with the platform key that the public verification page
accepts, a model approved into the recommended catalog, the evaluation summary on the filing's public page,
and an honest "not passed" report of a model that learnt from age-biased decisions."""

from __future__ import annotations

import base64
import json
import random

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import override_settings

from gaodi.apps.algorithms import catalog_actions, evaluation_demo
from gaodi.apps.algorithms.catalog_models import CatalogEntry
from gaodi.apps.algorithms.evaluation_models import EvaluationCertificate, EvaluationRequest
from gaodi.apps.algorithms.evaluation_views import verification
from gaodi.apps.core import demo
from gaodi.apps.core.models import AuditEntry, User, WorkflowHistory


@pytest.fixture(scope="module")
def demo_dirs(tmp_path_factory):
    return tmp_path_factory.mktemp("evaluation-demo")


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker, demo_dirs):
    """The whole demo once for this module, rolled back at the end (as tests/apps/test_demo.py does), signing
    with a key in the module's own folder instead of the platform's var/keys."""
    with django_db_blocker.unblock(), override_settings(
        MEDIA_ROOT=str(demo_dirs / "media"), PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        GAODI_COMPUTE_JOB_ROOT=str(demo_dirs / "compute-jobs"),
        GAODI_SIGNING_KEY_FILE=str(demo_dirs / "keys" / "ed25519.pem"),
    ):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield demo.load_demo(seed=7)["evaluations"]
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


pytestmark = pytest.mark.django_db


# First in the module: it needs an empty database, before `loaded` puts the demo in for the other tests.
def test_without_a_testing_institution_nothing_is_made(world, make_filing):
    make_filing("approved")
    made = evaluation_demo.load_evaluation_demo(random.Random(1))
    assert made["requests"] == 0 and EvaluationRequest.objects.count() == 0


def _by_role(loaded, role):
    return EvaluationRequest.objects.get(pk=next(e["id"] for e in loaded["evaluations"] if e["role"] == role))


def test_the_states_in_the_database_are_the_ones_the_loader_reports(loaded):
    assert loaded["requests"] == EvaluationRequest.objects.count() == 4
    assert loaded["by_state"] == {"completed": 1, "issued": 2, "requested": 1}
    assert loaded["certificates"] == EvaluationCertificate.objects.count() == 2
    assert loaded["catalog_entries"] == CatalogEntry.objects.count() == 1
    for item in loaded["evaluations"]:
        request = EvaluationRequest.objects.get(pk=item["id"])
        assert (request.state, request.passed, request.filing_id) == (item["state"], item["passed"], item["filing"])
        certificate = EvaluationCertificate.objects.filter(request=request).first()
        assert (certificate.certificate_id if certificate else None) == item["certificate"]
    roles = {e["role"]: e for e in loaded["evaluations"]}
    assert {r: (e["state"], e["passed"]) for r, e in roles.items()} == {
        "catalog": ("issued", True), "issued": ("issued", True), "not_passed": ("completed", False),
        "retrained": ("requested", None)}
    assert roles["catalog"]["catalog"] == "approved"


def test_requests_were_made_by_the_enterprises_and_run_by_t01_through_the_workflow(loaded):
    requests = list(EvaluationRequest.objects.select_related("filing", "institution", "created_by"))
    assert {r.institution.code for r in requests} == {"T01"}
    assert len({r.organization_id for r in requests}) == 3  # three enterprises
    for r in requests:
        assert r.filing.state == "approved" and r.model_format == "skops" and r.model_file.name.endswith(".skops")
        assert r.data_file.name.endswith(".csv") and r.created_by.memberships.filter(organization=r.organization)
    issued = _by_role(loaded, "catalog")
    transitions = list(WorkflowHistory.objects.filter(
        content_type=ContentType.objects.get_for_model(EvaluationRequest), object_id=issued.pk,
    ).order_by("pk").values_list("transition", flat=True))
    assert transitions == ["accept", "start", "complete", "issue"]
    assert AuditEntry.objects.filter(action="evaluation.issue").count() == 2
    assert AuditEntry.objects.filter(action="evaluation.request").count() == 4
    # The retrained model is evaluated on the same test set as the one that failed.
    failed, retrained = _by_role(loaded, "not_passed"), _by_role(loaded, "retrained")
    assert retrained.filing_id == failed.filing_id and retrained.data_sha256 == failed.data_sha256
    assert retrained.model_sha256 != failed.model_sha256 and retrained.attempt == 0


def test_certificates_are_genuine_on_the_public_verification_page(client, loaded, demo_dirs):
    assert (demo_dirs / "keys" / "ed25519.pem").exists()  # the platform key the service signs with
    for certificate in EvaluationCertificate.objects.all():
        assert verification(certificate) == {"genuine": True, "unaltered": True, "revoked": False, "valid": True}
        page = client.get(f"/verify/{certificate.certificate_id}/")  # anonymous visitor
        assert page.status_code == 200
        text = page.content.decode()
        assert "真实：签名可用平台公钥验证。" in text and "未被篡改：内容与签发时一致。" in text and "未撤销。" in text
        assert certificate.request.filing.name in text

        # Offline, as a partner region checks it: the public key and the downloaded certificate.json.
        key = load_pem_public_key(client.get("/verify/public-key.pem").content)
        document = json.loads(client.get(f"/verify/{certificate.certificate_id}/certificate.json").content)
        body = json.dumps(document["certificate"], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        key.verify(base64.b64decode(document["signature"]), body.encode())  # raises if not genuine
        assert document["certificate"]["passed"] is True
        assert catalog_actions.certificate_passed(certificate)


def test_catalog_lists_the_approved_model_for_an_anonymous_visitor(client, loaded):
    entry = CatalogEntry.objects.select_related("filing", "certificate", "decided_by").get()
    catalog = _by_role(loaded, "catalog")
    assert entry.state == "approved" and entry.certificate.request_id == catalog.pk and entry.listed_at
    # Approved by a reviewer of the department that reviewed the filing, as the workflow requires.
    assert entry.decided_by.memberships.filter(organization=entry.filing.department, role="reviewer").exists()
    page = client.get("/catalog/").content.decode()
    assert entry.filing.name in page and entry.filing.filing_number in page and f'href="/catalog/{entry.pk}/"' in page
    assert _by_role(loaded, "issued").filing.name not in page  # issued, not nominated
    detail = client.get(f"/catalog/{entry.pk}/")
    assert detail.status_code == 200 and entry.certificate.certificate_id in detail.content.decode()


def test_filing_page_shows_the_evaluation_summary(client, loaded):
    for role in ("catalog", "issued"):
        request = _by_role(loaded, role)
        page = client.get(f"/filings/{request.filing_id}/").content.decode()
        assert 'id="evaluation-summary"' in page and request.certificate.certificate_id in page
        assert request.summary_zh.splitlines()[1] in page  # e.g. 准确率为 80.2%，F1 为 0.79。
        assert "结论：通过。" in page
    # A report not yet issued is not public.
    failed = _by_role(loaded, "not_passed")
    assert 'id="evaluation-summary"' not in client.get(f"/filings/{failed.filing_id}/").content.decode()


def test_the_biased_model_gets_an_honest_not_passed_report(client, loaded, settings, demo_dirs):
    settings.MEDIA_ROOT = str(demo_dirs / "media")
    failed = _by_role(loaded, "not_passed")
    assert failed.state == "completed" and failed.passed is False and failed.failure_reason == ""
    scenario = evaluation_demo.scenario_for(failed.filing)
    age = scenario.sensitive[1].name
    assert scenario.key == "hiring"  # seed 7 has an approved hiring filing: Art. 67 (age in hiring)
    result = json.loads(failed.result_file.read())
    failing = [(c["metric"], c["scope"]) for c in result["checks"] if c["required"] and not c["passed"]]
    assert ("demographic_parity_ratio", age) in failing
    assert {e["test"] for e in result["results"]} >= {"performance", "fairness", "counterfactual", "robustness",
                                                       "explanation"}
    assert "结论：未通过。" in failed.summary_zh and f"只改变{age}而其他条件不变时" in failed.summary_zh
    # The institution sees the requests in their several states in its list.
    client.force_login(User.objects.get(username="t01.member"))
    page = client.get("/evaluations/").content.decode()
    assert page.count('class="badge badge-issued"') == 2
    assert page.count('class="badge badge-completed"') == 1 and page.count('class="badge badge-requested"') == 1


def test_generated_data_and_plans_are_deterministic_and_fair_by_construction():
    scenario = evaluation_demo.SCENARIOS["credit"]
    first = evaluation_demo.make_case(scenario, evaluation_demo._generator(random.Random(5)), biased=False)
    again = evaluation_demo.make_case(scenario, evaluation_demo._generator(random.Random(5)), biased=False)
    other = evaluation_demo.make_case(scenario, evaluation_demo._generator(random.Random(6)), biased=False)
    assert first.data_csv == again.data_csv != other.data_csv
    header = first.data_csv.decode().splitlines()[0].split(",")
    assert header[:4] == ["编号", "企业主性别", "企业主年龄段", "所在区"] and header[-1] == "按期还款"
    rows = first.data_csv.decode().splitlines()[1:]
    assert len(rows) == evaluation_demo.TEST_ROWS
    # Blocked randomisation: every group of every sensitive column is (almost) equally large.
    for i, attribute in enumerate(scenario.sensitive, start=1):
        sizes = [sum(1 for r in rows if r.split(",")[i] == v) for v in attribute.labels]
        assert max(sizes) - min(sizes) <= 1, (attribute.name, sizes)
    plan = evaluation_demo.make_plan(scenario, "标题", 3, with_age=False)
    assert plan == evaluation_demo.make_plan(scenario, "标题", 3, with_age=False)
    assert "[counterfactual]" not in plan and "[counterfactual]" in evaluation_demo.make_plan(
        scenario, "标题", 3, with_age=True)
