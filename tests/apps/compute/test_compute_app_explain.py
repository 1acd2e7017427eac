"""The engine's reasons carry codes and parameters; the platform stores those and renders them through gettext
in the reader's language: the same quote, job and bill read in Chinese and in English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import translation
from test_compute_app_support import build_compute_world, job_data, make_voucher, submit

from gaodi.apps.compute import actions, explain
from gaodi.apps.compute.forms import JobForm
from gaodi.apps.core.models import PersonalAccessToken
from gaodi.engines.compute.backends import Usage
from gaodi.engines.compute.reasons import Reason


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


@pytest.fixture(autouse=True)
def _restore_language():
    before = translation.get_language()
    yield
    translation.activate(before) if before else translation.deactivate()


def both(reason) -> tuple[str, str]:
    with translation.override("zh-hans"):
        zh = explain.render(reason)
    with translation.override("en"):
        en = explain.render(reason)
    return zh, en


def test_placement_and_subsidy_codes_render_in_both_languages():
    residency = Reason("placement.data_residency", {"data_region": "shanghai", "site_region": "ningxia"},
                       "the data may not leave shanghai and this site is in ningxia")
    assert both(residency) == ("数据不能离开上海，而该站点位于宁夏",
                               "the data may not leave Shanghai and this site is in Ningxia")
    assert both({"code": "subsidy.limited.budget", "params": {"limit": "50.00"}, "note": "x"}) == (
        "受算力券余额限制", "limited by the compute voucher balance")
    assert both(Reason("subsidy.rate_cut", {"rate": "30%", "applied": "20%"}, "")) == (
        "叠加上限使补贴比例由 30% 下调", "subsidy rate reduced from 30% by the stacking cap")
    assert both(Reason("placement.over_budget", {"cost": "90.00", "budget_cap": "70.00"}, "")) == (
        "需支付 ¥90.00，超过预算上限 ¥70.00", "would cost you ¥90.00, over the budget cap of ¥70.00")
    assert both(Reason("placement.too_few_nodes", {"has": 2, "asked": 4}, "")) == (
        "只有 2 个节点，少于所需的 4 个", "has 2 nodes, fewer than the 4 asked for")
    refused = explain.coded("failover.refused", "", pool="sh-local", backend="slurm", reason="invalid partition")
    assert both(refused) == ("资源池 sh-local（slurm）拒绝了此作业：invalid partition",
                             "Pool sh-local (slurm) refused this job: invalid partition")
    # A code the platform does not know (a newer engine) falls back to the engine's note; old text stays.
    assert both(Reason("placement.something_new", {}, "a new reason")) == ("a new reason", "a new reason")
    assert both("旧的说明") == ("旧的说明", "旧的说明")


def test_a_quote_explains_itself_in_the_readers_language(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "1000")
    form = JobForm(data=job_data(vouchers=[str(voucher.pk)], data_may_leave=""), organization=w.ent_a)
    result = actions.quote_job(w.alice, w.ent_a, form)
    codes = [r["code"] for r in result.explanation_codes]
    assert codes == ["explain.chosen", "explain.why", "explain.cost", "explain.start", "explain.data_stays",
                     "explain.rejected_count"]
    assert result.rejected_codes["nx-local"]["code"] == "placement.data_residency"
    with translation.override("zh-hans"):
        zh = result.explanation
        zh_rejected = result.rejected
    with translation.override("en"):
        en = result.explanation
        en_rejected = result.rejected
    assert zh[0].startswith("推荐资源池 sh-local：") and "长三角枢纽" in zh[0] and "上海" in zh[0]
    assert "您的数据不能离开上海" in zh[4] and "另有 1 个资源池不满足条件" in zh[5]
    assert en[0].startswith("Recommended resource pool sh-local:") and "Shanghai" in en[0]
    assert not any("推荐" in line or "上海" in line for line in en)
    assert zh_rejected["nx-local"] == "数据不能离开上海，而该站点位于宁夏"
    assert en_rejected["nx-local"] == "the data may not leave Shanghai and this site is in Ningxia"
    line = result.choice["lines"][0]
    assert line["voucher"] == voucher.number and line["reasons"] == [] and line["amount"] == "18.00"


def test_a_stored_job_and_bill_read_in_either_language(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "10")
    job = submit(w.alice, w.ent_a, vouchers=[str(voucher.pk)], data_may_leave="")
    assert all("code" in item for item in job.placement["explanation"])  # stored as codes, not as text
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    bill = actions.bill_usage(job, Usage(start, start + timedelta(hours=1), 3600.0, 1, 1, 3600.0, 3600.0,
                                         source="test"))
    line = bill.lines.get()
    assert line.reasons[0]["code"] == "subsidy.limited.budget"  # 30% of 120 is 36, the voucher holds 10
    with translation.override("en"):
        assert line.note_text == "limited by the compute voucher balance"
    with translation.override("zh-hans"):
        assert line.note_text == "受算力券余额限制"

    client = Client()
    client.force_login(w.alice)
    zh = client.get(f"/compute/workspace/jobs/{job.pk}/", headers={"accept-language": "zh-hans"}).content.decode()
    en = client.get(f"/compute/workspace/jobs/{job.pk}/", headers={"accept-language": "en"}).content.decode()
    assert "推荐资源池 sh-local" in zh and "数据不能离开上海，而该站点位于宁夏" in zh and "受算力券余额限制" in zh
    assert "Recommended resource pool sh-local" in en and "the data may not leave Shanghai and this site is in Ningxia" in en
    assert "limited by the compute voucher balance" in en and "推荐资源池" not in en


def test_the_api_gives_codes_and_text_in_the_requests_language(compute_world):
    w = compute_world
    _token, key = PersonalAccessToken.generate(w.alice, "t")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    body = {"name": "x", "script": "echo\n", "accelerators": 1, "accelerator_models": ["MLU370"],
            "estimated_hours": "0.5", "data_may_leave": False}
    en = api.post("/api/v1/compute/quote", body, content_type="application/json",
                  headers={"accept-language": "en"}).json()
    zh = api.post("/api/v1/compute/quote", body, content_type="application/json",
                  headers={"accept-language": "zh-hans"}).json()
    assert en["rejected_codes"]["nx-local"] == zh["rejected_codes"]["nx-local"]
    assert en["rejected_codes"]["nx-local"]["code"] == "placement.data_residency"
    assert en["rejected_codes"]["nx-local"]["params"] == {"data_region": "shanghai", "site_region": "ningxia"}
    assert en["rejected"]["nx-local"] == "the data may not leave Shanghai and this site is in Ningxia"
    assert zh["rejected"]["nx-local"] == "数据不能离开上海，而该站点位于宁夏"
    assert [c["code"] for c in en["explanation_codes"]][:2] == ["explain.chosen", "explain.why"]
    assert en["explanation"][0].startswith("Recommended resource pool") and zh["explanation"][0].startswith("推荐资源池")
    assert en["explanation_en"].startswith("Chosen: sh-local")
