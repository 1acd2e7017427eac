"""The compute pages and the API: apply, approve, quote, submit, watch the job finish, see the bill with
the subsidy; providers' pages; the public page and the department's dashboard."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from test_compute_app_support import build_compute_world, job_data, make_voucher, wait_until_done

from gaodi.apps.compute import actions
from gaodi.apps.compute.forms import JobForm
from gaodi.apps.compute.models import Job, Pool, Redemption, Site, Voucher, VoucherApplication
from gaodi.apps.core import workflow
from gaodi.apps.core.models import Notification, PersonalAccessToken


@pytest.fixture
def compute_world(world, settings, tmp_path):
    return build_compute_world(world, settings, tmp_path)


API = "/api/v1/compute"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_web_flow_apply_approve_quote_submit_watch_and_bill(compute_world):
    w = compute_world
    alice, ron = _login(w.alice), _login(w.ron)
    response = alice.post("/compute/workspace/applications/new/", {
        "program": w.program.pk, "amount_requested": "500", "purpose": "微调客服大模型，预计使用 100 卡时。"})
    application = VoucherApplication.objects.get()
    assert response.status_code == 302 and application.state == "submitted" and application.deadline
    assert Notification.objects.filter(recipient=w.ron).exists()

    queue = ron.get("/compute/review/").content.decode()
    assert w.ent_a.name in queue
    page = ron.get(f"/compute/review/applications/{application.pk}/").content.decode()
    assert "项目剩余可发放预算：10000.00 元" in page
    ron.post(f"/compute/review/applications/{application.pk}/approve/", {"comment": "", "approved_amount": "400"})
    voucher = Voucher.objects.get()
    assert voucher.amount == voucher.balance == 400 and voucher.organization == w.ent_a
    assert voucher.number in alice.get("/compute/workspace/").content.decode()

    form_page = alice.get("/compute/workspace/jobs/new/").content.decode()
    assert voucher.number in form_page and "MLU370" in form_page
    data = {**job_data(vouchers=[str(voucher.pk)]), "quote": "1"}
    quote = alice.post("/compute/workspace/jobs/new/", data).content.decode()
    assert "报价与调度建议" in quote and "推荐资源池 sh-local" in quote and "次优：nx-local" in quote
    assert "−18.00" in quote and "42.00" in quote  # 60 list, 30% subsidy, 42 to pay
    response = alice.post("/compute/workspace/jobs/new/", {**job_data(vouchers=[str(voucher.pk)]),
                                                           "submit_pool": "nx-local"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/compute/workspace/jobs/{job.pk}/"
    assert job.pool.code == "nx-local" and job.placement["recommended"] == "sh-local"

    actions.dispatch_job(job.pk)  # what the worker's task does after the commit
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        fragment = alice.get(f"/compute/workspace/jobs/{job.pk}/status/").content.decode()  # the HTMX poll
        if "已完成" in fragment:
            break
        time.sleep(0.1)
    assert "已完成" in fragment and "hx-trigger" not in fragment  # polling stops when the job ends
    assert "hello from gaodi" in fragment
    # One started minute on one accelerator at 180/h: 3.00, 30% subsidy 0.90, 2.10 to pay.
    assert "¥3.00" in fragment and "−¥0.90" in fragment and "¥2.10" in fragment and voucher.number in fragment
    page = alice.get(f"/compute/workspace/jobs/{job.pk}/").content.decode()
    assert "为什么选这个资源池" in page
    bill = Redemption.objects.get(job=job)
    bill_page = alice.get(f"/compute/workspace/bills/{bill.pk}/").content.decode()
    assert "记账凭证" in bill_page and "3.00" in bill_page and "算力券 · " + voucher.number in bill_page
    assert _login(w.bob).get(f"/compute/workspace/bills/{bill.pk}/").status_code == 404
    assert "399.10" in alice.get(f"/compute/workspace/vouchers/{voucher.pk}/").content.decode()


def test_provider_registers_a_site_and_a_pool(compute_world):
    w = compute_world
    petra = _login(w.petra)
    response = petra.post("/compute/provider/sites/new/", {
        "code": "sh-lingang", "name": "临港智算中心", "hub": "yangtze_river_delta", "region": "shanghai",
        "pue": "1.25", "green_share": "0.3", "latency_ms": "2"})
    assert response.status_code == 302
    site = Site.objects.get(code="sh-lingang")
    assert site.provider == w.prov_a
    bad = petra.post("/compute/provider/pools/new/", {
        "site": site.pk, "code": "sh-lingang-910b", "accelerator": "Ascend 910B", "count": "12", "per_node": "8",
        "price_per_hour": "11.50", "backend": "slurm", "active": "on"}).content.decode()
    assert "不能均分" in bad
    petra.post("/compute/provider/pools/new/", {
        "site": site.pk, "code": "sh-lingang-910b", "accelerator": "Ascend 910B", "count": "16", "per_node": "8",
        "price_per_hour": "11.50", "backend": "slurm", "active": "on"})
    pool = Pool.objects.get(code="sh-lingang-910b")
    assert pool.memory_gb == 64 and pool.free == 16  # memory from the catalog's accelerator facts
    assert "sh-lingang-910b" in petra.get("/compute/provider/").content.decode()
    quinn = _login(w.quinn)
    assert quinn.get(f"/compute/provider/pools/{pool.pk}/edit/").status_code == 404
    assert quinn.post(f"/compute/provider/sites/{site.pk}/edit/", {"code": "x"}).status_code == 404
    # Another provider's site cannot be chosen for a pool.
    page = quinn.post("/compute/provider/pools/new/", {
        "site": site.pk, "code": "steal", "accelerator": "A800", "count": "8", "per_node": "8",
        "price_per_hour": "1", "backend": "local", "active": "on"}).content.decode()
    assert not Pool.objects.filter(code="steal").exists() and "site" in page


def test_public_page_shows_capacity_prices_and_the_eight_hubs(client, compute_world):
    page = client.get("/compute/").content.decode()
    for hub in ("京津冀枢纽", "长三角枢纽", "粤港澳大湾区枢纽", "成渝枢纽", "内蒙古枢纽", "贵州枢纽", "甘肃枢纽", "宁夏枢纽"):
        assert hub in page
    assert "sh-local" in page and "120.00" in page and "vendor/echarts.min.js" in page
    assert 'id="capacity-data"' in page
    assert "公共算力" in client.get("/").content.decode()  # the nav link
    programs = client.get("/compute/programs/").content.decode()
    assert "上海市算力券（测试）" in programs
    detail = client.get(f"/compute/programs/{compute_world.program.pk}/").content.decode()
    assert "10000.00" in detail


def test_dashboard_for_the_department_only(compute_world):
    w = compute_world
    voucher = make_voucher(w.alice, w.ent_a, w.ron, w.program, "100")
    job = actions.submit_job(w.alice, w.ent_a, JobForm(data=job_data(vouchers=[str(voucher.pk)]),
                                                       organization=w.ent_a))
    actions.dispatch_job(job.pk)
    wait_until_done(job)
    page = _login(w.ron).get("/compute/dashboard/").content.decode()
    for chart in ("chart-hubs", "chart-pools", "chart-sme", "chart-queue", "chart-subsidy", "chart-timeline"):
        assert f'id="{chart}"' in page
    assert "工作日时间线" in page and "vendor/echarts.min.js" in page
    assert _login(w.alice).get("/compute/dashboard/").status_code == 403
    _token, key = PersonalAccessToken.generate(w.ron, "t")
    data = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get(f"{API}/dashboard").json()
    assert data["sme"]["sme_jobs"] == 1 and data["sme"]["jobs_share"] == 1.0
    program = next(p for p in data["subsidy"] if p["code"] == "sh-test-general")
    assert program["issued"] == 100.0 and program["spent"] == 0.6 and program["unallocated"] == 9900.0
    assert len(data["timeline"]["days"]) == 20 and data["timeline"]["jobs_submitted"][-1] >= 1
    assert {h["hub"] for h in data["utilization"]["by_hub"]} >= {"ningxia", "yangtze_river_delta"}
    assert data["queue"]["all"]["jobs"] == 1


def _api(user=None) -> Client:
    if user is None:
        return Client()
    _token, key = PersonalAccessToken.generate(user, "t")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def test_api_flow(compute_world):
    w = compute_world
    alice, ron = _api(w.alice), _api(w.ron)
    capacity = _api().get(f"{API}/capacity").json()
    assert capacity["total"] == 24 and len(capacity["hubs"]) == 8
    pools = _api().get(f"{API}/pools").json()
    assert pools["count"] == 2 and pools["items"][0]["free"] in (8, 16)

    created = alice.post(f"{API}/applications", {"program": w.program.pk, "amount_requested": "800",
                                                 "purpose": "训练多模态模型，预计 300 卡时。"},
                         content_type="application/json")
    assert created.status_code == 201 and created.json()["state"] == "submitted"
    app_id = created.json()["id"]
    assert _api(w.bob).get(f"{API}/applications/{app_id}").status_code == 404
    assert alice.post(f"{API}/applications/{app_id}/transitions/approve", {},
                      content_type="application/json").status_code == 403
    approved = ron.post(f"{API}/applications/{app_id}/transitions/approve", {"comment": "同意"},
                        content_type="application/json").json()
    assert approved["state"] == "approved" and approved["voucher"]["balance"] == "800.00"
    number = approved["voucher"]["number"]
    assert [v["number"] for v in alice.get(f"{API}/vouchers").json()] == [number]

    body = {"name": "api 作业", "script": "echo api-run\n", "accelerators": 2, "accelerator_models": ["mlu-370"],
            "estimated_hours": "1"}
    quote = alice.post(f"{API}/quote", body, content_type="application/json").json()
    assert quote["recommended"]["pool"]["code"] == "sh-local" and quote["recommended"]["list_price"] == "240.00"
    assert quote["recommended"]["lines"][0]["voucher"] == number and quote["recommended"]["pays"] == "168.00"
    assert quote["alternatives"][0]["pool"]["code"] == "nx-local" and "sh-local" in quote["explanation"][0]
    response = alice.post(f"{API}/jobs", body, content_type="application/json")
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["state"] == "queued" and job["vouchers"] == [number]
    actions.dispatch_job(job["id"])
    deadline = time.monotonic() + 20
    while job["state"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = alice.get(f"{API}/jobs/{job['id']}?refresh=true").json()
    assert job["state"] == "completed" and job["bills"][0]["subsidy"] == "1.20"  # 2 x 1 min x 120/h = 4.00
    assert job["bills"][0]["payable"] == "2.80" and job["bills"][0]["lines"][0]["voucher"] == number
    assert "api-run" in alice.get(f"{API}/jobs/{job['id']}/logs").json()["logs"]
    assert alice.get(f"{API}/jobs/{job['id']}/bills").json()[0]["list_price"] == "4.00"
    assert _api(w.bob).get(f"{API}/jobs/{job['id']}").status_code == 404
    assert _api().get(f"{API}/jobs").status_code == 401
    cancelled = alice.post(f"{API}/jobs/{job['id']}/cancel", content_type="application/json")
    assert cancelled.status_code == 422 and "已结束" in cancelled.json()["detail"][0]["message"]
    assert re.match(r"^CV-\d{4}-\d{3}-\d{5}$", number)


def test_api_provider_and_programme_management(compute_world):
    w = compute_world
    petra = _api(w.petra)
    site = petra.post(f"{API}/sites", {"code": "gz-guian", "name": "贵安集群", "hub": "guizhou", "region": "guizhou",
                                       "pue": "1.2", "green_share": "0.5", "latency_ms": "30"},
                      content_type="application/json")
    assert site.status_code == 201, site.content
    pool = petra.post(f"{API}/pools", {"site": site.json()["id"], "code": "gz-a800", "accelerator": "A800",
                                       "count": 64, "price_per_hour": "13.2", "backend": "slurm"},
                      content_type="application/json")
    assert pool.status_code == 201 and pool.json()["memory_gb"] == 80
    patched = petra.patch(f"{API}/pools/{pool.json()['id']}", {"price_per_hour": "12.00"},
                          content_type="application/json")
    assert patched.json()["price_per_hour"] == "12.00" and patched.json()["count"] == 64
    assert _api(w.quinn).patch(f"{API}/pools/{pool.json()['id']}", {"price_per_hour": "1"},
                               content_type="application/json").status_code == 403
    bad = petra.post(f"{API}/pools", {"site": site.json()["id"], "code": "gz-x", "accelerator": "Quantum-1",
                                      "count": 8, "price_per_hour": "1", "backend": "local"},
                     content_type="application/json")
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "accelerator"
    ron = _api(w.ron)
    program = ron.patch(f"{API}/programs/{w.program.pk}", {"budget": "12000"}, content_type="application/json")
    assert program.status_code == 200 and program.json()["unallocated"] == "12000.00"
    assert _api(w.alice).patch(f"{API}/programs/{w.program.pk}", {"budget": "1"},
                               content_type="application/json").status_code == 403
    assert _api().get(f"{API}/programs").json()["count"] == 1


def test_returned_application_is_edited_and_resubmitted_then_withdrawn(compute_world):
    w = compute_world
    alice, ron = _login(w.alice), _login(w.ron)
    alice.post("/compute/workspace/applications/new/", {
        "program": w.program.pk, "amount_requested": "500", "purpose": "微调客服大模型，预计使用 100 卡时。"})
    application = VoucherApplication.objects.get()
    ron.post(f"/compute/review/applications/{application.pk}/return/", {"comment": ""})
    application.refresh_from_db()
    assert application.state == "submitted"  # a return needs a reason
    ron.post(f"/compute/review/applications/{application.pk}/return/", {"comment": "请说明预计卡时的测算依据"})
    application.refresh_from_db()
    assert application.state == "returned"
    assert "请说明预计卡时的测算依据" in alice.get(f"/compute/workspace/applications/{application.pk}/").content.decode()
    alice.post(f"/compute/workspace/applications/{application.pk}/edit/", {
        "program": w.program.pk, "amount_requested": "450", "purpose": "微调客服大模型：每周 20 卡时，共 5 周。"})
    application.refresh_from_db()
    assert application.state == "submitted" and application.amount_requested == 450
    alice.post(f"/compute/workspace/applications/{application.pk}/withdraw/")
    application.refresh_from_db()
    assert application.state == "withdrawn"
    history = [h.transition for h in workflow.history(application)]
    assert history == ["submit", "return", "submit", "withdraw"]
