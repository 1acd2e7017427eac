"""The evaluation service and the recommended catalog in the real UI, in Chromium: the enterprise requests
an evaluation of its filing; the institution accepts it and watches the progress panel update while the
real worker runs the engine; it issues the certificate; an anonymous visitor verifies it; the enterprise
nominates the model; the department approves; the model appears on the public catalog. axe-core checks
each new page (WCAG 2.1 AA: no serious or critical violation)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, blocking, login, logout

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "apps" / "evaluations"))
from test_evaluation_service_support import PLAN, csv_bytes, fair_frame, lab, onnx_bytes  # noqa: E402

pytestmark = pytest.mark.browser

JUSTIFICATION = "该模型在电商推荐场景中准确率高、各性别群体结果一致，可推广。"


def _assert_axe_clean(page, label: str) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe: serious/critical WCAG violations on {label} ({page.url}):\n" + json.dumps(
        found, ensure_ascii=False, indent=2)


def _run_worker() -> None:
    """One pass of the real ORM worker in the test thread, as `gaodi worker` would run it."""
    from django_tasks_db.models import DBTaskResult

    call_command("db_worker", "--batch", "--no-startup-delay")
    task = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert task.status == "SUCCESSFUL", task.traceback


@pytest.fixture
def files(tmp_path):
    model, data = tmp_path / "screening.onnx", tmp_path / "applicants.csv"
    model.write_bytes(onnx_bytes())
    data.write_bytes(csv_bytes(fair_frame()))
    return model, data


def test_evaluation_certificate_and_catalog_in_the_browser(page, live_server, bworld, make_filing, files, settings,
                                                           tmp_path):
    settings.GAODI_SIGNING_KEY_FILE = str(tmp_path / "keys" / "ed25519.pem")
    lab(bworld)
    filing = make_filing("approved")
    main = page.locator("main")
    model, data = files

    # 1. The enterprise requests an evaluation of its approved filing.
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/evaluations/")
    main.get_by_role("link", name="申请测评").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申请测试评估")
    _assert_axe_clean(page, "evaluation request form")
    page.get_by_label("检测评估机构").select_option(label="上海人工智能检测中心")
    page.get_by_label("模型文件").set_input_files(str(model))
    page.get_by_label("测试数据").set_input_files(str(data))
    page.get_by_label("测试方案（TOML）").fill(PLAN)
    page.get_by_role("button", name="提交测评申请").click()
    expect(page.locator(".messages")).to_contain_text("测评申请已提交")
    expect(page.locator("#evaluation-status-panel .badge").first).to_have_text("待受理")
    expect(main).to_contain_text("screening.onnx")
    logout(page)

    # 2. The institution accepts; the page polls the run's progress while the worker runs it.
    login(page, live_server, "tina")
    page.goto(f"{live_server.url}/evaluations/")
    main.get_by_role("link", name=filing.name).click()
    page.get_by_role("button", name="受理并开始评估").click()
    panel = page.locator("#evaluation-status-panel")
    expect(panel.locator(".badge").first).to_have_text("已受理，排队中")
    expect(panel.locator("progress")).to_have_attribute("value", "0")
    _assert_axe_clean(page, "evaluation page while queued")
    _run_worker()
    # No reload: the HTMX poll (every 3 s) swaps the panel in with the finished run.
    expect(panel.locator(".badge").first).to_have_text("评估完成，待出具报告", timeout=20_000)
    expect(panel).to_contain_text("准确率")
    expect(panel.locator(".badge").nth(1)).to_have_text("通过")
    assert "/progress/" not in (panel.get_attribute("hx-get") or "")  # finished: the panel stops polling

    # 3. The institution issues the report: a signed certificate.
    panel.get_by_role("button", name="出具报告并签发证书").click()
    expect(page.locator(".messages")).to_contain_text("操作已完成")
    certificate_link = page.locator("#evaluation-status-panel a", has_text=re.compile(r"^EC-\d{4}-[0-9A-F]{12}$"))
    certificate_id = certificate_link.inner_text().strip()
    _assert_axe_clean(page, "evaluation page with certificate")
    logout(page)

    # 4. An anonymous visitor verifies it on the public page, and opens the certificate.
    page.goto(f"{live_server.url}/verify/{certificate_id}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text(certificate_id)
    expect(main.locator(".badge")).to_have_text("有效")
    expect(main).to_contain_text("真实：签名可用平台公钥验证")
    _assert_axe_clean(page, "certificate verification page")
    main.get_by_role("link", name="查看证书").click()
    expect(main.locator("svg")).to_be_visible()  # the QR code
    expect(main).to_contain_text(filing.filing_number)
    _assert_axe_clean(page, "certificate page")
    pdf = page.request.get(f"{live_server.url}/verify/{certificate_id}/certificate.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF-")

    # 5. The enterprise nominates the model for the recommended catalog.
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/evaluations/")
    main.get_by_role("link", name=filing.name).click()
    main.get_by_role("link", name="申报推荐目录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("申报推荐目录")
    _assert_axe_clean(page, "nomination form")
    page.get_by_label("推荐理由").fill(JUSTIFICATION)
    page.get_by_role("button", name="提交申报").click()
    expect(page.locator(".messages")).to_contain_text("推荐目录申报已提交")
    expect(main.locator(".badge").first).to_have_text("待审核")
    logout(page)

    # 6. The department that reviewed the filing approves the nomination.
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/workspace/catalog/")
    main.get_by_role("link", name=filing.name).click()
    _assert_axe_clean(page, "catalog entry under review")
    page.get_by_label("审核意见").first.fill("同意列入")
    page.get_by_role("button", name="同意列入推荐目录").click()
    expect(main.locator(".badge").first).to_have_text("已列入目录")
    logout(page)

    # 7. The model is on the public catalog page, found by search.
    page.goto(f"{live_server.url}/catalog/")
    page.get_by_role("textbox", name="搜索").fill("个性化推荐")
    page.get_by_role("button", name="筛选").click()
    row = main.locator("tbody tr", has_text=filing.name)
    expect(row).to_contain_text("已列入目录")
    expect(row).to_contain_text(filing.filing_number)
    _assert_axe_clean(page, "public catalog")
    row.get_by_role("link", name=filing.name).click()
    expect(main).to_contain_text(JUSTIFICATION)
    expect(main.get_by_role("link", name=certificate_id)).to_be_visible()
    _assert_axe_clean(page, "public catalog entry")
