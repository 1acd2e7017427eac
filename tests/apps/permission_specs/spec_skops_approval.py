"""Permission specs for approving the types a skops model file would create: only the chosen testing
institution may (page and API); the requesting enterprise sees the request but is refused (403);
everyone else gets 404."""

from __future__ import annotations

# Relative on purpose (see permission_specs/__init__.py).
from ..permission_matrix import LOGIN, Case, ModelSpec, _evaluation_request, register

API = "/api/v1"
APPROVAL = {"types": ["numpy.dtype"], "note": "numpy.dtype 只描述数组元素的类型。"}
_SKOPS: list[bytes] = []


def _imputer_skops() -> bytes:
    """SimpleImputer + logistic regression saved with skops: needs numpy.dtype (made once per session)."""
    if not _SKOPS:
        import numpy as np
        import skops.io as sio
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        x = np.array([[0.0, 1.0], [1.0, 0.0], [np.nan, 1.0], [1.0, np.nan]] * 5)
        y = np.array(["yes", "no", "yes", "no"] * 5)
        _SKOPS.append(sio.dumps(make_pipeline(SimpleImputer(), LogisticRegression()).fit(x, y)))
    return _SKOPS[0]


def _skops_request(world, make_filing):
    """ent_a's request with a skops file needing numpy.dtype, addressed to the matrix's lab (tina)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from gaodi.apps.algorithms import evaluation_actions
    from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm

    other = _evaluation_request(world, make_filing)  # makes the institutions, tina and ted
    files = {"model": SimpleUploadedFile("m.skops", _imputer_skops()),
             "data": SimpleUploadedFile("d.csv", b"x1,x2,y\n1,0,no\n0,1,yes\n")}
    form = EvaluationRequestForm(data={"institution": other.institution_id,
                                       "plan": 'target = "y"\npositive_label = "yes"\n'}, files=files)
    request = evaluation_actions.request_evaluation(world.alice, other.filing, form)
    assert request.untrusted_types == ["numpy.dtype"]
    return request


def _snapshot(request):
    from gaodi.apps.algorithms.evaluation_models import EvaluationRequest, EvaluationTypeApproval

    r = EvaluationRequest.objects.get(pk=request.pk)
    return (r.state, r.attempt, r.untrusted_types, EvaluationTypeApproval.objects.count())


def _approve_url(o):
    return f"/evaluations/{o.pk}/approve-types/"


def _api_approve_url(o):
    return f"{API}/evaluations/{o.pk}/approve-types"


register(ModelSpec(
    "algorithms.evaluationrequest(skops approval, institution)",
    lambda world, mf: (_skops_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                   "permitted": world.tina, "other_org": world.ted}),
    _snapshot,
    [
        Case("detail page", "GET", lambda o: f"/evaluations/{o.pk}/",
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 200, "other_org": 404}),
        Case("approve types", "POST", _approve_url,
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 302, "other_org": 404}, data=APPROVAL),
        Case("api approve types", "POST", _api_approve_url,
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, data=APPROVAL, api=True),
        Case("accept before approval", "POST", lambda o: f"{API}/evaluations/{o.pk}/transitions/accept",
             {"anonymous": 401, "unprivileged": 404, "permitted": 422, "other_org": 404}, api=True),
    ],
))

register(ModelSpec(
    "algorithms.evaluationrequest(skops approval, owner)",
    lambda world, mf: (_skops_request(world, mf), {"anonymous": None, "unprivileged": world.nobody,
                                                   "permitted": world.alice, "other_org": world.bob}),
    _snapshot,
    [
        Case("approve types (enterprise may not)", "POST", _approve_url,
             {"anonymous": LOGIN, "unprivileged": 404, "permitted": 403, "other_org": 404}, data=APPROVAL),
        Case("api approve types (enterprise may not)", "POST", _api_approve_url,
             {"anonymous": 401, "unprivileged": 404, "permitted": 403, "other_org": 404}, data=APPROVAL, api=True),
        Case("api detail lists the types", "GET", lambda o: f"{API}/evaluations/{o.pk}",
             {"anonymous": 401, "unprivileged": 404, "permitted": 200, "other_org": 404}, api=True),
    ],
))
