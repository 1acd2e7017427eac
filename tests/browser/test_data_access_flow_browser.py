"""Access to conditional data in the real UI, in Chromium (Art. 17): a department lists a conditional
dataset on its public data open list, an SME applies, the department approves, the SME downloads, the
grant expires and the next download is refused with a clear message. axe-core runs on the pages of the
flow and on the data product pages, in the normal and the elder-friendly mode."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, blocking, login, logout

pytestmark = pytest.mark.browser

CSV = "编号,路口,流量\n1,漕溪北路,320\n2,肇嘉浜路,410\n".encode()
TITLE = "徐汇区路口流量数据"
PURPOSE = "训练路口流量预测模型，用于信号灯配时优化研究。"


@pytest.fixture
def conditional_dataset(bworld):
    from gaodi.apps.data import actions
    from gaodi.apps.data.forms import DatasetForm, ResourceForm

    dataset = actions.create_dataset(bworld.paul, bworld.cyber, DatasetForm(data={
        "title": TITLE, "title_en": "Xuhui junction flows", "description": "主要路口逐小时流量。", "theme": "transport",
        "licence": "CC BY 4.0", "update_frequency": "daily", "spatial": "上海市徐汇区", "open_type": "conditional",
        "security_level": "general", "conditions": "仅限交通研究使用，不得再分发。"}))
    actions.add_resource(bworld.paul, dataset, ResourceForm(
        data={"name": "流量表", "kind": "file"}, files={"file": SimpleUploadedFile("flows.csv", CSV)}))
    return dataset


def _no_serious_violations(page, label: str) -> None:
    for mode in ("normal", "elder"):
        if mode == "elder":
            page.locator("header .elder-toggle").get_by_role("button", name="长者模式").click()
            expect(page.locator("html")).to_have_class("elder")
        found = blocking(axe_violations(page))
        assert not found, f"axe on {label} ({mode}):\n" + json.dumps(found, ensure_ascii=False, indent=2)
    page.locator("header .elder-toggle").get_by_role("button", name="标准模式").click()
    expect(page.locator("html")).not_to_have_class("elder")


def test_conditional_data_from_open_list_to_expired_grant(page, live_server, bworld, conditional_dataset, tmp_path):
    from gaodi.apps.data.models import AccessLog, Grant

    main = page.locator("main")

    # 1. The department's publisher lists the dataset on its open list as conditional.
    login(page, live_server, "paul")
    page.goto(f"{live_server.url}/data/open-lists/manage/")
    page.get_by_label("数据项名称").fill(TITLE)
    page.get_by_label("对应数据集").select_option(label=TITLE)
    page.get_by_label("开放范围").fill("徐汇区主要路口")
    page.get_by_label("开放类型").select_option(label="有条件开放")
    page.get_by_label("开放条件").fill("签署数据使用协议，仅限交通研究")
    page.get_by_label("更新频率").select_option(label="每日")
    page.get_by_role("button", name="保存并生成新版本").click()
    expect(page.locator(".messages")).to_contain_text("已保存，清单生成了新版本。")
    logout(page)

    # 2. The SME finds it on the public open list and applies.
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/data/open-lists/")
    row = main.locator("tbody tr", has_text=TITLE)
    expect(row).to_contain_text("有条件开放")
    expect(row).to_contain_text("签署数据使用协议")
    row.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)
    main.get_by_role("link", name="申请访问").click()
    page.get_by_label("申请企业").select_option(label="甲智能科技有限公司")
    page.get_by_label("使用目的").fill(PURPOSE)
    page.get_by_label("应用场景").fill("智慧交通信号控制")
    page.get_by_label("安全保障措施").fill("专网存储，最小权限，访问留痕。")
    page.get_by_label("使用期限（天）").fill("30")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("h1 .badge")).to_have_text("待审核")
    application_url = page.url
    logout(page)

    # 3. The department's reviewer approves from the review queue.
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/data/review/")
    main.get_by_role("link", name=TITLE).first.click()
    expect(main).to_contain_text(PURPOSE)
    page.get_by_role("button", name="批准并授权").click()
    expect(page.locator(".messages")).to_contain_text("操作已完成。")
    expect(page.locator("h1 .badge")).to_have_text("已批准")
    expect(main).to_contain_text("授权有效")
    logout(page)

    # 4. The SME downloads the file with the grant.
    login(page, live_server, "alice")
    expect(main).to_contain_text(f"您的数据访问申请已批准：{TITLE}")  # the notification on the dashboard
    page.goto(application_url)
    with page.expect_download() as info:
        main.get_by_role("link", name="下载 流量表").click()
    saved = tmp_path / "download.csv"
    info.value.save_as(saved)
    assert saved.read_bytes() == CSV
    page.goto(application_url)
    expect(main.locator("table", has_text="已下载")).to_be_visible()  # the access log shows the download
    _no_serious_violations(page, "application page with a grant")

    # 5. The grant expires (its own time, no job needed) and the next download is refused, clearly.
    grant = Grant.objects.get(grantee=bworld.alice)
    Grant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    page.goto(application_url)
    expect(main).to_contain_text("授权已于")
    main.get_by_role("link", name="下载 流量表").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("不能下载")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("到期，不能再下载")
    expect(alert).to_contain_text("重新申请")
    _no_serious_violations(page, "refused download")
    page.goto(f"{live_server.url}/data/access/")
    expect(main.locator("tbody tr", has_text=TITLE).last).to_contain_text("已到期")
    _no_serious_violations(page, "my data access")
    # one allowed download, then only refusals (the mode toggles reload the refused page, each one logged)
    allowed = list(AccessLog.objects.filter(grant=grant).order_by("id").values_list("allowed", flat=True))
    assert allowed[0] is True and len(allowed) > 1 and not any(allowed[1:])
    logout(page)

    # The reviewer sees the expired grant with its access log; the review queue passes axe.
    login(page, live_server, "rita")
    page.goto(f"{live_server.url}/data/review/")
    _no_serious_violations(page, "review queue")


def test_data_product_pages_have_no_serious_axe_violations(page, live_server, bworld, conditional_dataset):
    from gaodi.apps.data import actions
    from gaodi.apps.data import products_actions as pactions
    from gaodi.apps.data.products_forms import ListingForm, ProductForm

    version = actions.run_quality_report(conditional_dataset.resources.get().latest.pk)
    product = pactions.create_product(bworld.paul, bworld.cyber, ProductForm(data={
        "title": "路口拥堵指数", "title_en": "Junction congestion index", "summary": "按路口计算的拥堵指数。",
        "datasets": [conditional_dataset.pk], "quality_version": version.pk, "scenario": "导航与信号配时",
        "compliance_assessment": "数据来源合法，不含个人信息。", "price_model": "subscription", "price_amount": "800",
        "price_unit": "per_month"}, publisher=bworld.cyber))
    pactions.publish_product(bworld.paul, product)
    today = timezone.localdate().isoformat()
    pactions.record_listing(bworld.paul, product, "listing_submit", ListingForm(data={"on": today}))
    pactions.record_listing(bworld.paul, product, "listing_list", ListingForm(data={"on": today, "code": "SDE-0001"}))

    page.goto(f"{live_server.url}/data/products/")
    row = page.locator("main tbody tr", has_text="路口拥堵指数")
    expect(row).to_contain_text("800.00 元/月")
    expect(row).to_contain_text("已挂牌")
    expect(page.locator("main")).to_contain_text("本平台不进行数据交易")
    _no_serious_violations(page, "product list")
    row.get_by_role("link", name="路口拥堵指数").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("路口拥堵指数")
    expect(page.locator("main")).to_contain_text("SDE-0001")
    _no_serious_violations(page, "product page")

    # the publisher's side: the card with its forms, and the edit form
    login(page, live_server, "paul")
    page.goto(f"{live_server.url}/data/products/{product.pk}/")
    expect(page.get_by_role("button", name="记录已摘牌")).to_be_visible()
    _no_serious_violations(page, "product page (publisher)")
    page.goto(f"{live_server.url}/data/products/{product.pk}/edit/")
    expect(page.get_by_label("产品名称")).to_have_value("路口拥堵指数")
    _no_serious_violations(page, "product edit form")
