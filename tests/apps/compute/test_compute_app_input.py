"""Bad input gets a clear refusal naming the field, on the page and in the API, and nothing is saved:
negative or absurd resources, an unknown accelerator, a deadline in the past, a script over the size limit,
an expired voucher, another firm's voucher; and the programme and application rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone
from test_compute_app_support import (
    build_compute_world,
    expired,
    job_data,
    make_program,
    make_voucher,
    program_data,
)

from gaodi.apps.compute import actions, ledger
from gaodi.apps.compute.forms import ApplicationForm, JobForm, ProgramForm
from gaodi.apps.compute.models import Job, SubsidyProgram, Voucher, VoucherApplication
from gaodi.apps.core.models import PersonalAccessToken


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


def _errors(w, **overrides) -> dict:
    form = JobForm(data=job_data(**overrides), organization=w.ent_a)
    with pytest.raises(ValidationError) as exc:
        actions.submit_job(w.alice, w.ent_a, form)
    assert Job.objects.count() == 0
    return exc.value.message_dict


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"accelerators": "-2"}, "accelerators", "至少为 1"),
    ({"accelerators": "0"}, "accelerators", "至少为 1"),
    ({"accelerators": "100000"}, "accelerators", "不能超过"),
    ({"accelerators": "64"}, "accelerators", "最大的资源池只有 16 张卡"),
    ({"accelerators": "two"}, "accelerators", ""),
    ({"estimated_hours": "-1"}, "estimated_hours", "须大于 0"),
    ({"estimated_hours": "100000"}, "estimated_hours", "不能超过一年"),
    ({"accelerator_models": ["TPU-v9"]}, "accelerator_models", "未知的加速卡型号“TPU-v9”"),
    ({"accelerator_models": []}, "accelerator_models", "至少选择一种"),
    ({"data_size_gb": "-5"}, "data_size_gb", "不能为负数"),
    ({"data_region": "atlantis"}, "data_region", ""),
])
def test_bad_resources_are_refused_with_the_field_named(compute_world, overrides, field, words):
    errors = _errors(compute_world, **overrides)
    assert field in errors, errors
    assert words in " ".join(errors[field])


def test_deadline_in_the_past_or_too_close(compute_world):
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert "已经过去" in " ".join(_errors(compute_world, deadline=past)["deadline"])
    soon = (timezone.localtime() + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M")
    assert "来不及完成" in " ".join(_errors(compute_world, deadline=soon, estimated_hours="2")["deadline"])


def test_script_over_the_size_limit(compute_world, settings):
    settings.GAODI_COMPUTE_MAX_SCRIPT_BYTES = 1024
    errors = _errors(compute_world, script="echo x\n" + "#" * 2000)
    assert "超过上限 1,024 字节" in errors["script"][0]
    assert "不能为空" in _errors(compute_world, script="   \n")["script"][0]


def test_expired_voucher_and_another_firms_voucher_are_refused(compute_world):
    w = compute_world
    mine = expired(make_voucher(w.alice, w.ent_a, w.ron, w.program, "500"))
    theirs = make_voucher(w.bob, w.ent_b, w.ron, w.program, "500")
    errors = _errors(w, vouchers=[str(mine.pk)])["vouchers"]
    assert errors == [f"算力券 {mine.number} 已于 {mine.expires_on} 到期，不能使用。"]
    errors = _errors(w, vouchers=[theirs.number])["vouchers"]
    assert errors == [f"算力券 {theirs.number} 不属于本企业，不能使用。"]
    assert "找不到算力券" in _errors(w, vouchers=["CV-1999-000-00001"])["vouchers"][0]
    # The other firm's voucher is not even offered in the form.
    form = JobForm(organization=w.ent_a)
    assert str(theirs.pk) not in [c[0] for c in form.fields["vouchers"].choices]


def test_data_that_may_not_leave_its_region_is_never_placed_outside(compute_world):
    w = compute_world
    form = JobForm(data=job_data(data_region="ningxia", data_may_leave=""), organization=w.ent_a)
    result = actions.quote_job(w.alice, w.ent_a, form)
    assert [o["pool"]["code"] for o in result.options] == ["nx-local"]
    assert "sh-local" in result.placement.rejected
    form = JobForm(data=job_data(data_region="shanghai", data_grade="core", pool="nx-local"), organization=w.ent_a)
    with pytest.raises(ValidationError) as exc:
        actions.submit_job(w.alice, w.ent_a, form)
    assert "nx-local" in exc.value.message_dict["pool"][0]


def test_web_form_shows_field_errors_and_keeps_the_input(client, compute_world):
    w = compute_world
    client.force_login(w.alice)
    page = client.post("/compute/workspace/jobs/new/", {**job_data(accelerators="-3", name="保留的名字"),
                                                         "submit": "1"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "加速卡数至少为 1。" in html and "保留的名字" in html
    assert Job.objects.count() == 0


def _api(user):
    _token, key = PersonalAccessToken.generate(user, "t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_api_refusals_are_422_naming_the_field(compute_world):
    w = compute_world
    client = _api(w.alice)
    other = make_voucher(w.bob, w.ent_b, w.ron, w.program, "100")
    body = {"name": "x", "script": "echo\n", "accelerators": 1, "accelerator_models": ["MLU370"],
            "estimated_hours": "0.5"}
    cases = [
        ({"accelerators": -1}, "accelerators"),
        ({"accelerator_models": ["NoSuchCard"]}, "accelerator_models"),
        ({"deadline": (timezone.now() - timedelta(days=1)).isoformat()}, "deadline"),
        ({"script": "#" * (70 * 1024)}, "script"),
        ({"vouchers": [other.number]}, "vouchers"),
    ]
    for change, field in cases:
        response = client.post("/api/v1/compute/jobs", {**body, **change}, content_type="application/json")
        assert response.status_code == 422, (change, response.content)
        assert field in [d["field"] for d in response.json()["detail"]], response.json()
    assert Job.objects.count() == 0


def test_programme_rules(compute_world):
    w = compute_world
    form = ProgramForm(data=program_data(code="bad-1", rate="0.8"))
    with pytest.raises(ValidationError) as exc:
        actions.create_program(w.ron, w.economy, form)
    assert "50%" in exc.value.message_dict["rate"][0]
    today = timezone.localdate()
    form = ProgramForm(data=program_data(code="bad-2", valid_to=(today - timedelta(days=30)).isoformat()))
    with pytest.raises(ValidationError) as exc:
        actions.create_program(w.ron, w.economy, form)
    assert "valid_to" in exc.value.message_dict
    form = ProgramForm(data=program_data(code="bad-3", level="district"))
    with pytest.raises(ValidationError) as exc:
        actions.create_program(w.ron, w.economy, form)
    assert "district" in exc.value.message_dict
    assert SubsidyProgram.objects.count() == 1
    # The budget can shrink only to what was issued.
    make_voucher(w.alice, w.ent_a, w.ron, w.program, "4000")
    form = ProgramForm(data=program_data(budget="3000"), instance=w.program)
    with pytest.raises(ValidationError) as exc:
        actions.update_program(w.ron, w.program, form)
    assert "4000" in exc.value.message_dict["budget"][0]
    program = actions.update_program(w.ron, w.program, ProgramForm(data=program_data(budget="6000"),
                                                                   instance=w.program))
    assert program.budget == Decimal("6000") and ledger.program_unallocated(program) == Decimal("2000.00")
    assert ledger.unbalanced_transactions() == []


def test_application_rules_and_approval_never_exceeds_the_budget(compute_world):
    w = compute_world
    sme_only = make_program(w.ron, w.economy, code="sme-only", sme_only="on")
    form = ApplicationForm(data={"program": str(sme_only.pk), "amount_requested": "100",
                                 "purpose": "训练行业大模型，预计 100 卡时。"})
    with pytest.raises(ValidationError) as exc:
        actions.create_application(w.bob, w.ent_b, form)  # ent_b is a large enterprise
    assert "仅面向中小企业" in exc.value.message_dict["program"][0]

    form = ApplicationForm(data={"program": str(w.program.pk), "amount_requested": "20000",
                                 "purpose": "训练行业大模型，预计 100 卡时。"})
    with pytest.raises(ValidationError) as exc:
        actions.create_application(w.alice, w.ent_a, form)
    assert "剩余预算 10000" in exc.value.message_dict["amount_requested"][0]

    def apply(user, org, amount):
        f = ApplicationForm(data={"program": str(w.program.pk), "amount_requested": amount,
                                  "purpose": "训练行业大模型，预计 100 卡时。"})
        return actions.create_application(user, org, f)

    first, second = apply(w.alice, w.ent_a, "7000"), apply(w.bob, w.ent_b, "6000")
    with pytest.raises(ValidationError) as exc:
        apply(w.alice, w.ent_a, "100")
    assert "已有该项目的申请在办理中" in exc.value.message_dict["program"][0]
    actions.approve_application(w.ron, first)
    with pytest.raises(ValidationError) as exc:
        actions.approve_application(w.ron, second)
    assert "剩余预算只有 3000" in exc.value.message_dict["approved_amount"][0]
    second.refresh_from_db()
    assert second.state == "submitted"
    with pytest.raises(ValidationError):
        actions.approve_application(w.ron, second, Decimal("7000"))  # more than asked for
    voucher = actions.approve_application(w.ron, second, Decimal("3000"))
    assert voucher.amount == Decimal("3000") and ledger.program_unallocated(w.program) == Decimal("0.00")
    assert Voucher.objects.count() == 2 and VoucherApplication.objects.filter(state="approved").count() == 2
    with pytest.raises(ValidationError) as exc:  # one active voucher per programme and firm
        apply(w.bob, w.ent_b, "1")
    assert f"已持有该项目的有效算力券 {voucher.number}" in exc.value.message_dict["program"][0]
    other = make_program(w.ron, w.economy, code="second")
    pending = actions.create_application(w.bob, w.ent_b, ApplicationForm(data={
        "program": str(other.pk), "amount_requested": "1", "purpose": "训练行业大模型，预计 100 卡时。"}))
    for reviewer_action in (actions.return_application, actions.reject_application):
        with pytest.raises(ValidationError) as exc:  # returning and rejecting need a reason
            reviewer_action(w.ron, pending, "")
        assert "comment" in exc.value.message_dict
    with pytest.raises(PermissionDenied):  # the other department's reviewer may not decide
        actions.approve_application(w.rita, pending)
    pending.refresh_from_db()
    assert pending.state == "submitted"


def test_more_accelerators_than_the_largest_pool_of_the_model_is_refused_naming_the_pool(compute_world):
    from test_compute_app_support import make_pool

    w = compute_world
    make_pool(w.petra, w.site_a, "sh-910b", "Ascend 910B", count=64, price="10.00")  # bigger, another model
    errors = _errors(w, accelerators="20")  # MLU370: sh-local has 8, nx-local 16
    assert errors["accelerators"] == [
        "MLU370 型号最大的资源池 nx-local 只有 16 张卡：请把加速卡数调到 16 以下、接受其他型号或拆分作业。"]
    errors = _errors(w, accelerators="12", data_may_leave="")  # the data stays in Shanghai: sh-local's 8
    assert "数据不能离开上海" in errors["accelerators"][0] and "sh-local 只有 8 张卡" in errors["accelerators"][0]
    errors = _errors(w, accelerators="12", data_grade="core")
    assert "sh-local 只有 8 张卡" in errors["accelerators"][0]
    # Accepting the bigger model as well makes the request feasible.
    form = JobForm(data=job_data(accelerators="20", accelerator_models=["MLU370", "Ascend 910B"]), organization=w.ent_a)
    assert actions.quote_job(w.alice, w.ent_a, form).choice["pool"]["code"] == "sh-910b"


def test_api_refuses_absurd_values_naming_the_field(compute_world):
    w = compute_world
    client = _api(w.alice)
    body = {"name": "x", "script": "echo\n", "accelerators": 1, "accelerator_models": ["MLU370"],
            "estimated_hours": "0.5"}
    cases = [
        ({"accelerators": 100000}, "accelerators"),
        ({"accelerators": 20}, "accelerators"),  # more than the largest MLU370 pool (16)
        ({"estimated_hours": "0"}, "estimated_hours"),
        ({"estimated_hours": "99999"}, "estimated_hours"),
        ({"data_size_gb": "-1"}, "data_size_gb"),
        ({"data_size_gb": "100000000"}, "data_size_gb"),
        ({"budget_cap": "-5"}, "budget_cap"),
        ({"data_region": "atlantis"}, "data_region"),
        ({"data_grade": "secret"}, "data_grade"),
        ({"workload": "mining"}, "workload"),
        ({"accelerator_models": []}, "accelerator_models"),
        ({"pool": "no-such-pool"}, "pool"),
        ({"name": ""}, "name"),
        ({"deadline": (timezone.now() + timedelta(minutes=5)).isoformat(), "estimated_hours": "3"}, "deadline"),
    ]
    for change, field in cases:
        response = client.post("/api/v1/compute/jobs", {**body, **change}, content_type="application/json")
        assert response.status_code == 422, (change, response.content)
        detail = response.json()["detail"]
        assert field in [d["field"] for d in detail], (change, detail)
        assert all(d["message"] for d in detail)
    assert Job.objects.count() == 0


def test_expired_voucher_is_refused_in_the_api_too(compute_world):
    w = compute_world
    mine = expired(make_voucher(w.alice, w.ent_a, w.ron, w.program, "500"))
    body = {"name": "x", "script": "echo\n", "accelerators": 1, "accelerator_models": ["MLU370"],
            "estimated_hours": "0.5", "vouchers": [mine.number]}
    response = _api(w.alice).post("/api/v1/compute/jobs", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"] == [{"field": "vouchers",
                                          "message": f"算力券 {mine.number} 已于 {mine.expires_on} 到期，不能使用。"}]
