"""Bad input through the request page: a model whose inputs the data lacks, a label column with unseen
values, an empty group, an oversize upload. Each ends in a clear error on the request page (the form,
or the failed run's reason), nothing already saved is lost, and a failed run stays retryable."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadhandler import FileUploadHandler
from test_evaluation_service_support import PLAN, csv_bytes, form_data, frame, lab, make_request, run_worker

from gaodi.apps.algorithms import evaluation_actions as actions
from gaodi.apps.algorithms.evaluation_models import EvaluationRequest
from gaodi.apps.core.uploads import LimitedUploadHandler

# What reached the handlers after the limit (recorded per field by the handler below).
RECEIVED: dict[str, int] = {}


class RecordingHandler(FileUploadHandler):
    """Installed after the limiting handler: counts the bytes that were passed on to be stored."""

    def new_file(self, field_name, *args, **kwargs):
        super().new_file(field_name, *args, **kwargs)
        RECEIVED[field_name] = 0

    def receive_data_chunk(self, raw_data, start):
        RECEIVED[self.field_name] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def approved(world, make_filing):
    lab(world)
    return make_filing("approved")


def _run_and_reload(world, evaluation) -> EvaluationRequest:
    actions.accept(world.tina, evaluation)
    run_worker()
    evaluation.refresh_from_db()
    return evaluation


def _assert_failed_and_retryable(client, world, evaluation, kind: str, *words: str) -> None:
    assert evaluation.state == "failed" and evaluation.failure_kind == kind, evaluation.failure_reason
    stored = {name: hashlib.sha256(getattr(evaluation, name).read()).hexdigest() for name in ("model_file", "data_file")}
    # Nothing saved is lost: the uploads are still there, byte for byte, and so is the plan.
    assert stored == {"model_file": evaluation.model_sha256, "data_file": evaluation.data_sha256}
    assert hashlib.sha256(evaluation.plan_text.encode()).hexdigest() == evaluation.plan_sha256
    client.force_login(world.alice)
    page = client.get(f"/evaluations/{evaluation.pk}/").content.decode()
    assert "评估失败" in page and all(word in page for word in words), page[page.find("evaluation-failure"):][:800]
    assert "Traceback" not in page
    client.force_login(world.tina)
    assert client.post(f"/evaluations/{evaluation.pk}/retry/").status_code == 302
    evaluation.refresh_from_db()
    assert evaluation.state == "accepted" and evaluation.attempt == 2


@pytest.mark.django_db(transaction=True)
def test_model_whose_inputs_the_data_lacks(client, world, approved):
    plan = PLAN.replace('features = ["x1", "x2"]\n', "")  # the model names its inputs (gaodi model pack)
    assert "features" not in plan
    evaluation = _run_and_reload(world, make_request(world, approved, plan=plan,
                                                     data=csv_bytes(frame().rename({"x2": "z"}))))
    _assert_failed_and_retryable(client, world, evaluation, "model", "模型无法加载，或模型的输入与测试数据不符",
                                 "x2")


@pytest.mark.django_db(transaction=True)
def test_label_column_with_unseen_values(client, world, approved):
    data = frame().with_columns(y=frame().get_column("y").scatter([0, 1, 2], "maybe"))
    plan = PLAN.replace('positive_label = "yes"', 'positive_label = "yes"\nlabels = ["yes", "no"]')
    evaluation = _run_and_reload(world, make_request(world, approved, plan=plan, data=csv_bytes(data)))
    _assert_failed_and_retryable(client, world, evaluation, "data", "测试数据有问题", "maybe", "3 rows")


@pytest.mark.django_db(transaction=True)
def test_empty_group(client, world, approved):
    plan = PLAN + '\n[groups]\nsex = ["男", "女", "其他"]\n'
    evaluation = _run_and_reload(world, make_request(world, approved, plan=plan))
    _assert_failed_and_retryable(client, world, evaluation, "data", "测试数据有问题", "其他", "is empty")


def test_oversize_upload_is_cut_off_while_streaming(client, world, approved, settings):
    """The 2 GB case with a small limit: the data file is refused on its field, the request is not
    created, the plan text is kept on the page, and no more than the limit was passed on to be stored."""
    limit = 64 * 1024
    settings.EVALUATION_MAX_DATA_BYTES = limit
    settings.FILE_UPLOAD_HANDLERS = ["test_evaluation_bad_input.RecordingHandler",
                                     "django.core.files.uploadhandler.TemporaryFileUploadHandler"]
    RECEIVED.clear()
    big = csv_bytes(frame(n=40_000))  # about 800 KB, 12 times the limit
    assert len(big) > 12 * limit
    client.force_login(world.alice)
    data, files = form_data(world, data=big)
    response = client.post(f"/workspace/filings/{approved.pk}/evaluations/new/", {**data, **files})
    assert response.status_code == 200
    error = response.context["form"].errors["data"][0]
    assert "超过上限 64.0\xa0KB" in error and "停止接收" in error
    assert "小型测试" in response.content.decode()  # the plan the user wrote is still in the form
    assert 0 < RECEIVED["data"] <= limit  # the rest was discarded as it arrived, never stored
    assert RECEIVED["model"] > 0  # the other upload went through normally
    assert not EvaluationRequest.objects.exists()


def test_limiting_handler_skips_a_file_at_the_first_chunk_past_its_limit():
    from django.core.files.uploadhandler import SkipFile

    handler = LimitedUploadHandler(None, {"data": 100})
    handler.new_file("data", "d.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"x" * 60, 60)
    assert handler.oversize == {"data": 120}
    handler.new_file("plan_attachment", "p.txt", "text/plain", None)  # an unlimited field passes
    assert handler.receive_data_chunk(b"y" * 1000, 0) == b"y" * 1000


def test_model_limit_applies_while_streaming_too(client, world, approved, settings):
    settings.EVALUATION_MAX_MODEL_BYTES = 10
    client.force_login(world.alice)
    data, files = form_data(world)
    response = client.post(f"/workspace/filings/{approved.pk}/evaluations/new/", {**data, **files})
    assert "超过上限" in response.context["form"].errors["model"][0]
    assert "二选一" not in str(response.context["form"].errors)  # not mistaken for a missing model


def test_csrf_is_still_checked_on_the_request_page(world, approved):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    data, files = form_data(world)
    response = client.post(f"/workspace/filings/{approved.pk}/evaluations/new/", {**data, **files})
    assert response.status_code == 403 and not EvaluationRequest.objects.exists()
