"""The testing institution's approval of the types a skops model file would create (issue 3).

A scikit-learn pipeline with a SimpleImputer saved with skops needs `numpy.dtype`, which skops does not
trust by default. The run is refused until the institution approves it; the enterprise cannot approve;
types that look dangerous cannot be approved by anyone; every approval is audited with its types; the
API shows and approves the same way; and the run trusts exactly the approved types.
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone
from test_evaluation_service_support import PLAN, form_data, frame, lab, run_worker, use_tmp_signing_key

from gaodi.apps.algorithms import evaluation_actions as actions
from gaodi.apps.algorithms.evaluation_forms import EvaluationRequestForm, TypeApprovalForm
from gaodi.apps.algorithms.evaluation_models import EvaluationRequest, EvaluationTypeApproval
from gaodi.apps.algorithms.evaluation_trust import approvable, refusal_reason, trusted_types
from gaodi.apps.core.models import AuditEntry, Membership, PersonalAccessToken

API = "/api/v1"


@pytest.fixture(autouse=True)
def _key(settings, tmp_path):
    return use_tmp_signing_key(settings, tmp_path)


def _skops(model) -> bytes:
    import skops.io as sio

    return sio.dumps(model)


def _fitted(*steps):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    data = frame()
    return make_pipeline(*steps, LogisticRegression()).fit(data.select(["x1", "x2"]).to_numpy(),
                                                         data.get_column("y").to_numpy())


def imputer_skops() -> bytes:
    """A common pipeline: SimpleImputer (needs numpy.dtype, outside skops' safe set) + logistic regression."""
    from sklearn.impute import SimpleImputer

    return _skops(_fitted(SimpleImputer()))


def partial_skops() -> bytes:
    """A FunctionTransformer wrapping functools.partial(numpy.round): functools.partial must never be approved."""
    from sklearn.preprocessing import FunctionTransformer

    return _skops(_fitted(FunctionTransformer(functools.partial(np.round, decimals=1))))


def getcwd_skops() -> bytes:
    """A FunctionTransformer calling os.getcwd: skops names it posix.getcwd (nt.getcwd on Windows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return _skops(make_pipeline(FunctionTransformer(os.getcwd), LogisticRegression()))


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _request(world, filing, model: bytes) -> EvaluationRequest:
    data, files = form_data(world, model=model, model_name="pipeline.skops")
    return actions.request_evaluation(world.alice, filing, EvaluationRequestForm(data=data, files=files))


def _as(user) -> Client:
    _token, key = PersonalAccessToken.generate(user, "test", timezone.now() + timedelta(days=1))
    return Client(headers={"Authorization": f"Bearer {key}"})


@pytest.mark.django_db(transaction=True)  # the real ORM worker sees only committed rows
def test_imputer_pipeline_runs_only_after_the_institution_approves(client, world, approved, monkeypatch):
    client.force_login(world.alice)
    data, files = form_data(world, model=imputer_skops(), model_name="pipeline.skops")
    response = client.post(f"/workspace/filings/{approved.pk}/evaluations/new/", {**data, **files})
    assert response.status_code == 302, response.content.decode()[:2000]
    evaluation = EvaluationRequest.objects.get()
    # Computed at submission, without loading the file, and stored on the request.
    assert evaluation.model_format == "skops" and evaluation.untrusted_types == ["numpy.dtype"]
    created = AuditEntry.objects.get(action="evaluation.request")
    assert created.data["untrusted_types"] == ["numpy.dtype"]

    # Both sides see the types in plain words; only the institution gets the approval form.
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert "numpy.dtype" in page and "不在 skops 默认信任的安全范围内" in page and "待机构批准" in page
    assert "approve-types" not in page
    client.force_login(world.tina)
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert f"/evaluations/{evaluation.pk}/approve-types/" in page and 'value="numpy.dtype"' in page
    assert f"/evaluations/{evaluation.pk}/accept/" not in page  # no accept button while a type is pending
    assert f"/evaluations/{evaluation.pk}/decline/" in page

    # The run is refused until the approval: accepting says why, on the page, and nothing is queued.
    response = client.post(f"/evaluations/{evaluation.pk}/accept/", follow=True)
    evaluation.refresh_from_db()
    assert evaluation.state == "requested" and evaluation.attempt == 0
    assert "尚未批准的类型：numpy.dtype" in response.content.decode()

    # The note is required; the error is on its field and nothing is approved.
    response = client.post(f"/evaluations/{evaluation.pk}/approve-types/", {"types": ["numpy.dtype"], "note": " "})
    assert response.status_code == 200 and "请填写审查说明" in response.content.decode()
    assert not EvaluationTypeApproval.objects.exists()

    response = client.post(f"/evaluations/{evaluation.pk}/approve-types/",
                           {"types": ["numpy.dtype"], "note": "numpy.dtype 只描述数组元素的类型，不执行代码。"})
    assert response.status_code == 302
    approval = EvaluationTypeApproval.objects.get()
    assert approval.types == ["numpy.dtype"] and approval.approved_by == world.tina
    entry = AuditEntry.objects.get(action="evaluation.approve_types")
    assert entry.actor_name == "tina" and entry.data["types"] == ["numpy.dtype"]
    assert entry.data["still_pending"] == [] and entry.data["model_sha256"] == evaluation.model_sha256
    assert entry.object_id == str(evaluation.pk)

    client.force_login(world.alice)  # the enterprise sees who approved what
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert "已批准" in page and "tina" in page and "不执行代码" in page

    # The run passes exactly the approved types as trusted= and completes.
    from gaodi.engines import evaluation as engine

    seen, real = [], engine.load_model

    def spy(path, *, trusted=()):
        seen.append(list(trusted))
        return real(path, trusted=trusted)

    monkeypatch.setattr(engine, "load_model", spy)  # open_model imports it from the engine at run time
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/accept/").status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == "accepted" and evaluation.attempt == 1
    run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "completed", evaluation.failure_reason
    assert evaluation.passed is True and "准确率" in evaluation.summary_zh
    assert seen == [["numpy.dtype"]]


@pytest.mark.django_db(transaction=True)
def test_run_with_unapproved_types_fails_with_the_reason_and_is_retried_after_approval(client, world, approved):
    """A request from before types were listed (nothing stored): the run finds numpy.dtype, fails in plain
    words without a stack trace, stores the types; after the approval the retry completes."""
    evaluation = _request(world, approved, imputer_skops())
    EvaluationRequest.objects.filter(pk=evaluation.pk).update(untrusted_types=[])
    actions.accept(world.tina, evaluation)
    run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "failed" and evaluation.failure_kind == "unapproved_types"
    assert "numpy.dtype" in evaluation.failure_reason and "approve" in evaluation.failure_reason
    assert evaluation.untrusted_types == ["numpy.dtype"]
    assert AuditEntry.objects.get(action="evaluation.fail").data["untrusted_types"] == {
        "before": [], "found": ["numpy.dtype"]}

    client.force_login(world.alice)
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert "评估失败" in page and "尚未经检测评估机构批准的类型" in page and "numpy.dtype" in page
    assert "Traceback" not in page

    client.force_login(world.tina)
    response = client.post(f"/evaluations/{evaluation.pk}/retry/", follow=True)  # still not approved
    assert "尚未批准的类型：numpy.dtype" in response.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.state == "failed" and evaluation.attempt == 1

    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/",
                       {"types": "numpy.dtype", "note": "数据类型描述，安全。"}).status_code == 302
    assert client.post(f"/evaluations/{evaluation.pk}/retry/").status_code == 302
    run_worker()
    evaluation.refresh_from_db()
    assert evaluation.state == "completed" and evaluation.attempt == 2, evaluation.failure_reason


@pytest.mark.django_db
def test_the_enterprise_cannot_approve(client, world, approved):
    evaluation = _request(world, approved, imputer_skops())
    body = {"types": ["numpy.dtype"], "note": "企业自己批准"}
    client.force_login(world.alice)  # the requesting enterprise sees the request, but may not approve
    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/", body).status_code == 403
    client.force_login(world.bob)  # another enterprise does not see it at all
    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/", body).status_code == 404
    client.force_login(world.ted)  # another institution neither
    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/", body).status_code == 404
    assert _as(world.alice).post(f"{API}/evaluations/{evaluation.pk}/approve-types", body,
                                 content_type="application/json").status_code == 403
    with pytest.raises(PermissionDenied):
        actions.approve_types(world.alice, evaluation, TypeApprovalForm(data=body, request=evaluation))

    # A member of the institution who also belongs to the requesting enterprise acts for the enterprise.
    Membership.objects.create(user=world.tina, organization=evaluation.organization, role="member")
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/", body).status_code == 403
    assert not EvaluationTypeApproval.objects.exists()
    assert not AuditEntry.objects.filter(action="evaluation.approve_types").exists()


@pytest.mark.django_db
def test_a_dangerous_type_cannot_be_approved_even_by_the_institution(client, world, approved):
    evaluation = _request(world, approved, partial_skops())
    assert evaluation.untrusted_types == ["functools.partial", "numpy.round"]
    client.force_login(world.tina)
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    # Shown as refused with the reason; only numpy.round gets a checkbox.
    assert "不能批准" in page and "functools.partial" in page and "包装并调用任意函数" in page
    assert 'value="numpy.round"' in page and 'value="functools.partial"' not in page
    assert "无法运行" in page

    response = client.post(f"/evaluations/{evaluation.pk}/approve-types/",
                           {"types": ["functools.partial", "numpy.round"], "note": "看起来没问题"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "functools.partial 不能批准" in text and "包装并调用任意函数" in text
    assert not EvaluationTypeApproval.objects.exists()

    # numpy.round alone may be approved, but the file still cannot run: accepting is refused with why.
    assert client.post(f"/evaluations/{evaluation.pk}/approve-types/",
                       {"types": ["numpy.round"], "note": "四舍五入"}).status_code == 302
    response = client.post(f"/evaluations/{evaluation.pk}/accept/", follow=True)
    assert "不能批准的类型：functools.partial" in response.content.decode()
    evaluation.refresh_from_db()
    assert evaluation.state == "requested" and trusted_types(evaluation) == ["numpy.round"]

    # The API refuses the same way, naming the field and the reason.
    refused = _as(world.tina).post(f"{API}/evaluations/{evaluation.pk}/approve-types",
                                   {"types": ["functools.partial"], "note": "试试"}, content_type="application/json")
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail[0]["field"] == "types" and "functools.partial 不能批准" in detail[0]["message"]


@pytest.mark.django_db
def test_an_operating_system_function_cannot_be_approved(client, world, approved):
    evaluation = _request(world, approved, getcwd_skops())
    name = f"{os.name == 'nt' and 'nt' or 'posix'}.getcwd"
    assert evaluation.untrusted_types == [name]
    form = TypeApprovalForm(data={"types": [name], "note": "只读当前目录"}, request=evaluation)
    with pytest.raises(ValidationError) as refused:
        actions.approve_types(world.tina, evaluation, form)
    assert "操作系统接口" in str(refused.value) and name in str(refused.value)
    assert not EvaluationTypeApproval.objects.exists()


@pytest.mark.parametrize(("name", "words"), [
    ("builtins.eval", "Python 内置函数"), ("builtins.getattr", "Python 内置函数"),
    ("os.system", "操作系统接口"), ("posix.system", "操作系统接口"), ("nt.system", "操作系统接口"),
    ("subprocess.Popen", "操作系统接口"), ("sys.modules", "解释器"), ("importlib.import_module", "解释器"),
    ("pickle.loads", "反序列化"), ("marshal.loads", "反序列化"), ("types.FunctionType", "构造函数"),
    ("functools.partial", "包装并调用任意函数"), ("operator.attrgetter", "包装并调用任意函数"),
    ("collections.OrderedDict", "不属于 scikit-learn、NumPy 或 SciPy"),
    ("numpy.load", "读写文件"), ("numpy.fromfile", "读写文件"), ("numpy.lib._npyio_impl.load", "读写文件"),
    ("scipy.io.loadmat", "读写文件"), ("sklearn.datasets.fetch_openml", "读写文件"),
    ("scipy.sparse.load_npz", "读写文件"), ("numpy.random._pickle.__bit_generator_ctor", "读写文件"),
    ("numpy.no_such_thing", "找不到"), ("numpy.linalg", "模块"), ("numpy.__builtins__", "不是合法的类型名"),
    ("numpy", "不是合法的类型名"), ("numpy.pi", "既不是类也不是函数"),
])
def test_dangerous_or_unknown_types_are_refused_with_a_reason(name, words):
    reason = refusal_reason(name)
    assert reason is not None and words in reason, reason
    assert not approvable(name)


@pytest.mark.parametrize("name", ["numpy.dtype", "numpy.round", "numpy.float64", "scipy.special.expit",
                                  "sklearn.utils._bunch.Bunch", "sklearn.impute._base.SimpleImputer",
                                  "numpy.random._generator.Generator"])
def test_plain_numeric_types_may_be_approved(name):
    assert refusal_reason(name) is None and approvable(name)


@pytest.mark.django_db
def test_api_shows_and_approves_the_types(world, approved):
    evaluation = _request(world, approved, imputer_skops())
    alice, tina = _as(world.alice), _as(world.tina)
    shown = alice.get(f"{API}/evaluations/{evaluation.pk}").json()
    assert shown["untrusted_types"] == ["numpy.dtype"] and shown["approved_types"] == []
    assert shown["type_review"] == [{"name": "numpy.dtype", "status": "pending", "reason": "", "approved_by": "",
                                     "approved_at": None, "note": ""}]
    before = tina.get(f"{API}/evaluations/{evaluation.pk}").json()
    assert [t["name"] for t in before["transitions"]] == ["decline"]  # accept waits for the approval
    refused = tina.post(f"{API}/evaluations/{evaluation.pk}/transitions/accept", {}, content_type="application/json")
    assert refused.status_code == 422 and "numpy.dtype" in refused.json()["detail"][0]["message"]

    missing_note = tina.post(f"{API}/evaluations/{evaluation.pk}/approve-types", {"types": ["numpy.dtype"], "note": ""},
                             content_type="application/json")
    assert missing_note.status_code == 422 and missing_note.json()["detail"][0]["field"] == "note"
    unknown = tina.post(f"{API}/evaluations/{evaluation.pk}/approve-types", {"types": ["numpy.float64"], "note": "x"},
                        content_type="application/json")
    assert unknown.status_code == 422 and "numpy.float64" in unknown.json()["detail"][0]["message"]

    done = tina.post(f"{API}/evaluations/{evaluation.pk}/approve-types",
                     {"types": ["numpy.dtype"], "note": "数组元素类型"}, content_type="application/json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["approved_types"] == ["numpy.dtype"] and body["type_review"][0]["status"] == "approved"
    assert body["type_review"][0]["approved_by"] == "tina" and body["type_review"][0]["note"] == "数组元素类型"
    assert [t["name"] for t in body["transitions"]] == ["accept", "decline"]
    assert AuditEntry.objects.get(action="evaluation.approve_types").data["types"] == ["numpy.dtype"]
    again = tina.post(f"{API}/evaluations/{evaluation.pk}/approve-types", {"types": ["numpy.dtype"], "note": "再批"},
                      content_type="application/json")
    assert again.status_code == 422  # nothing left to approve
    accepted = tina.post(f"{API}/evaluations/{evaluation.pk}/transitions/accept", {}, content_type="application/json")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert _as(world.bob).post(f"{API}/evaluations/{evaluation.pk}/approve-types",
                               {"types": ["numpy.dtype"], "note": "x"},
                               content_type="application/json").status_code == 404


@pytest.mark.django_db
def test_onnx_requests_need_no_approval(world, approved):
    data, files = form_data(world, plan=PLAN)
    evaluation = actions.request_evaluation(world.alice, approved, EvaluationRequestForm(data=data, files=files))
    assert evaluation.untrusted_types == []
    actions.accept(world.tina, evaluation)
    evaluation.refresh_from_db()
    assert evaluation.state == "accepted"
