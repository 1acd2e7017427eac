"""Permission specs for an endpoint's credential: only the requesting enterprise may set, replace or
remove it (page and API); the testing institution sees the request but is refused (403); everyone else
gets 404. The matrix never decrypts: the stored value is a placeholder, and the permitted cases remove it."""

from __future__ import annotations

# Relative on purpose (see permission_specs/__init__.py).
from ..permission_matrix import LOGIN, Case, ModelSpec, _evaluation_request, register

API = "/api/v1"
REPLACE = {"endpoint_header": "X-API-Key", "endpoint_secret": "matrix-credential-0123456789"}
REMOVE = {"remove": "on"}


def _endpoint_request(world, make_filing):
    """ent_a's endpoint request to the matrix's lab (tina), with a credential in its header."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from gaodi.apps.algorithms import evaluation_actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest

    other = _evaluation_request(world, make_filing)  # makes the institutions, tina and ted
    form = EvaluationRequestForm(
        data={"institution": other.institution_id, "endpoint_url": "http://127.0.0.1:9/predict",
              "plan": 'target = "y"\npositive_label = "yes"\nfeatures = ["x"]\n'},
        files={"data": SimpleUploadedFile("d.csv", b"x,y\n1,yes\n0,no\n")})
    with override_settings(EVALUATION_ENDPOINT_ALLOWLIST=["127.0.0.1"]):
        request = evaluation_actions.request_evaluation(world.alice, other.filing, form)
    # A placeholder, not a real ciphertext: no key file is made and nothing is decrypted here.
    EvaluationRequest.objects.filter(pk=request.pk).update(endpoint_header="X-API-Key",
                                                           endpoint_secret_ciphertext="gAAAAA-matrix-placeholder")
    request.refresh_from_db()
    return request


def _snapshot(request):
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest
    from gaodi.apps.core.models import AuditEntry

    r = EvaluationRequest.objects.get(pk=request.pk)
    return (r.state, r.endpoint_header, r.endpoint_secret_ciphertext,
            AuditEntry.objects.filter(action="evaluation.endpoint_credential").count())


def _page_url(o):
    return f"/evaluations/{o.pk}/endpoint-credential/"


def _api_url(o):
    return f"{API}/evaluations/{o.pk}/endpoint-credential"


register(ModelSpec(
    "algorithms.evaluationrequest(endpoint credential, owner)",
    lambda world, mf: (_endpoint_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                      "permitted": world.alice, "other_org": world.bob}),
    _snapshot,
    [
        Case("remove the credential", "POST", _page_url,
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data=REMOVE),
        Case("api remove the credential", "POST", _api_url,
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, data={"remove": True},
             api=True),
        Case("replace refused on a bad header", "POST", _page_url,
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404},
             data={**REPLACE, "endpoint_header": "Host"}),
        Case("detail page", "GET", lambda o: f"/evaluations/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
    ],
))

register(ModelSpec(
    "algorithms.evaluationrequest(endpoint credential, institution)",
    lambda world, mf: (_endpoint_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                      "permitted": world.tina, "other_org": world.ted}),
    _snapshot,
    [
        Case("replace (institution may not)", "POST", _page_url,
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}, data=REPLACE),
        Case("api replace (institution may not)", "POST", _api_url,
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, data=REPLACE, api=True),
        Case("api remove (institution may not)", "POST", _api_url,
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, data={"remove": True},
             api=True),
        Case("api detail", "GET", lambda o: f"{API}/evaluations/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))
