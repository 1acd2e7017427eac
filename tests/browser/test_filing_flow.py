"""The whole filing lifecycle in the real UI, in Chromium: an enterprise files, a reviewer returns it with
a comment, the enterprise revises and resubmits, the reviewer approves, a publisher publishes a disclosure
batch, and an anonymous visitor finds the filing by a Traditional-script search from the home page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login, logout
from tests.factories import FILING_DATA, minimal_pdf

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"^310104-E0001-\d{4}-\d{4}$")
COMMENT = "请说明用户如何关闭个性化推荐"


def _fill_filing_form(page, pdf_path) -> None:
    page.get_by_label("受理部门").select_option(label="上海市互联网信息办公室")
    page.get_by_label("算法名称").fill(FILING_DATA["name"])
    page.get_by_label("算法类别").select_option(label="个性化推送类")
    page.get_by_label("备案主体角色").select_option(label="服务提供者")
    page.get_by_label("应用场景").fill(FILING_DATA["scenarios"])
    page.get_by_label("应用领域").fill(FILING_DATA["domain"])
    page.get_by_label("基本原理").fill(FILING_DATA["principle"])
    page.get_by_label("运行机制").fill(FILING_DATA["mechanism"])
    page.get_by_label("目的意图").fill(FILING_DATA["purpose"])
    page.get_by_label("使用该算法的产品及接口").fill(FILING_DATA["products"])
    page.get_by_label("拟公示内容").fill(FILING_DATA["public_text"])
    page.get_by_label("安全自评估报告").set_input_files(str(pdf_path))


def _open_in_review(page, live_server) -> None:
    main = page.locator("main")
    login(page, live_server, "rita")
    page.get_by_role("link", name="进入审核队列").click()
    expect(page.get_by_role("heading", name="算法备案审核队列")).to_be_visible()
    main.get_by_role("link", name=FILING_DATA["name"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(FILING_DATA["name"])
    expect(page.locator("h1 .badge")).to_have_text("待审核")


def test_filing_lifecycle_in_the_browser(page, live_server, bworld, tmp_path):
    pdf = tmp_path / "self-assessment.pdf"
    pdf.write_bytes(minimal_pdf())
    main = page.locator("main")

    # 1. The enterprise member drafts and submits the filing through the form.
    login(page, live_server, "alice")
    expect(page.get_by_role("heading", name="我的工作台")).to_be_visible()
    main.get_by_role("link", name="新建备案").click()
    expect(page.get_by_role("heading", name="新建备案")).to_be_visible()
    expect(main).to_contain_text("备案主体：甲智能科技有限公司")
    _fill_filing_form(page, pdf)
    page.get_by_role("button", name="保存并提交审核").click()
    expect(page.locator("h1 .badge")).to_have_text("待审核")
    expect(page.locator(".messages")).to_contain_text("已提交审核。")
    expect(main).to_contain_text("self-assessment.pdf")  # the uploaded report, under its original name
    expect(main).to_contain_text("上海市互联网信息办公室")
    logout(page)

    # 2. The reviewer returns it with a comment.
    _open_in_review(page, live_server)
    page.get_by_label("审核意见").fill(COMMENT)
    page.get_by_role("button", name="退回修改").click()
    expect(page.locator(".messages")).to_contain_text("审核操作已完成。")
    expect(main).to_contain_text("没有待审核的备案。")
    logout(page)

    # 3. The enterprise sees the comment, revises and resubmits.
    login(page, live_server, "alice")
    expect(main).to_contain_text(f"您的算法备案“{FILING_DATA['name']}”被退回修改：{COMMENT}")  # notification
    main.get_by_role("link", name=FILING_DATA["name"], exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("退回修改")
    expect(page.locator(".timeline")).to_contain_text(COMMENT)
    main.get_by_role("link", name="修改", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("修改备案")
    expect(main).to_contain_text("已上传报告: self-assessment.pdf")
    mechanism = page.get_by_label("运行机制")
    expect(mechanism).to_have_value(FILING_DATA["mechanism"])
    mechanism.fill(FILING_DATA["mechanism"] + "，设置页可一键关闭")
    page.get_by_role("button", name="保存并提交审核").click()
    expect(page.locator("h1 .badge")).to_have_text("待审核")
    expect(main).to_contain_text("设置页可一键关闭")
    logout(page)

    # 4. The reviewer approves; the filing gets its number and is public.
    _open_in_review(page, live_server)
    expect(main).to_contain_text("设置页可一键关闭")
    page.get_by_role("button", name="准予备案").click()
    expect(page.locator(".messages")).to_contain_text("审核操作已完成。")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="算法备案公示").click()
    row = page.locator("tbody tr", has_text=FILING_DATA["name"])
    expect(row).to_contain_text("已备案")
    number = row.locator("td").nth(1).inner_text().strip()
    assert NUMBER.match(number), number
    logout(page)

    # 5. The publisher publishes a disclosure batch whose period covers today.
    login(page, live_server, "paul")
    page.get_by_role("link", name="发布公示批次").click()
    expect(page.get_by_role("heading", name="发布公示批次")).to_be_visible()
    today = timezone.localdate()
    page.get_by_label("标题").fill("2026年第一批算法备案公示")
    page.get_by_label("起始日期").fill((today - timedelta(days=30)).isoformat())
    page.get_by_label("截止日期").fill(today.isoformat())
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("2026年第一批算法备案公示")
    expect(page.locator(".messages")).to_contain_text("已发布")
    batch_row = page.locator("tbody tr", has_text=FILING_DATA["name"])
    expect(batch_row).to_contain_text(number)
    expect(main).to_contain_text("上海市互联网信息办公室")
    logout(page)

    # 6. An anonymous visitor searches from the home page in Traditional script and reads the filing.
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("banner").get_by_role("link", name="登录")).to_be_visible()
    page.get_by_label("搜索已备案算法").fill("推薦")
    page.get_by_role("search").get_by_role("button", name="搜索").click()
    page.wait_for_url(re.compile(r"/filings/\?q="))
    expect(main).to_contain_text("共 1 项")
    expect(page.get_by_role("textbox", name="搜索")).to_have_value("推薦")
    main.get_by_role("link", name=FILING_DATA["name"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(FILING_DATA["name"])
    expect(page.locator("h1 .badge")).to_have_text("已备案")
    expect(main).to_contain_text(number)
    explanation = page.locator("section", has=page.get_by_role("heading", name="通俗说明"))
    expect(explanation).to_contain_text(FILING_DATA["public_text"])
    expect(main).to_contain_text("2026年第一批算法备案公示")  # the batch it was published in
    # The private parts of the filing are not on the public page.
    expect(main).not_to_contain_text("self-assessment.pdf")
