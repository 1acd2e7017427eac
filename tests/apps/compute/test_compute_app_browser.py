"""In real Chromium: an enterprise applies for a voucher, the department approves it, the enterprise gets a
quote, submits a job, watches it finish (the status panel polls by itself) and sees the bill with the
subsidy; a provider sets a pool's backend options and a job refused there fails over to the next pool, with
the refusal shown on the job page; and the compute pages have no serious WCAG violations (axe-core)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect
from test_compute_app_support import build_compute_world

from tests.browser.conftest import LAUNCH_ARGS, axe_violations, blocking, chromium_path, login
from tests.conftest import require_service

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    path = chromium_path()
    require_service(path is not None, "Chromium not found (install Debian's chromium or set GAODI_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(chromium):
    ctx = chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx.new_page()
    ctx.close()


@pytest.fixture
def cworld(transactional_db, live_server, world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # The worker's job, done in the request: the queued job is submitted as soon as the submission commits.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return build_compute_world(world, settings, tmp_path)


def _assert_axe_clean(tab, label: str) -> None:
    found = blocking(axe_violations(tab))
    assert not found, f"axe on {label}:\n" + json.dumps(found, ensure_ascii=False, indent=2)


def test_apply_approve_quote_submit_watch_and_see_the_bill(tab, live_server, cworld):
    url = live_server.url
    login(tab, live_server, "alice")
    tab.goto(f"{url}/compute/workspace/applications/new/")
    tab.locator("#id_program").select_option(str(cworld.program.pk))
    tab.locator("#id_amount_requested").fill("600")
    tab.locator("#id_purpose").fill("微调客服大模型，预计使用 100 卡时。")
    tab.get_by_role("button", name="提交申请").click()
    expect(tab.locator("h1 .badge")).to_have_text("待审核")
    tab.context.clear_cookies()

    login(tab, live_server, "ron")
    tab.goto(f"{url}/compute/review/")
    tab.get_by_role("link", name=cworld.ent_a.name).click()
    _assert_axe_clean(tab, "review page")
    tab.get_by_role("button", name="批准并发放算力券").click()
    expect(tab.locator("main")).to_contain_text("已批准，发放算力券")
    tab.goto(f"{url}/compute/dashboard/")
    expect(tab.locator("[data-chart=timeline] canvas")).to_have_count(1)  # ECharts drew the chart
    _assert_axe_clean(tab, "dashboard")
    tab.context.clear_cookies()

    login(tab, live_server, "alice")
    tab.goto(f"{url}/compute/workspace/jobs/new/")
    tab.locator("#id_name").fill("浏览器作业")
    tab.locator("#id_script").fill('echo "hello from the browser"; sleep 0.3\n')
    tab.locator("#id_accelerators").fill("1")
    tab.get_by_label("MLU370").check()
    tab.locator("#id_estimated_hours").fill("0.5")
    tab.get_by_role("button", name="获取报价").click()
    quote = tab.locator("#quote-title").locator("..")
    expect(quote).to_contain_text("推荐资源池 sh-local")
    expect(quote).to_contain_text("−18.00")  # 60 at list price, 30% from the voucher
    _assert_axe_clean(tab, "quote")
    tab.locator("button[name=submit_pool][value=sh-local]").click()
    expect(tab.locator("#job-status-panel .badge")).to_have_text("已完成", timeout=20_000)
    panel = tab.locator("#job-status-panel")
    expect(panel).to_contain_text("hello from the browser")
    expect(panel).to_contain_text("−¥0.60")  # one billed minute at 120/h = 2.00; 30% subsidy
    expect(panel).to_contain_text("¥1.40")
    _assert_axe_clean(tab, "job page")


def test_compute_pages_have_no_serious_axe_violations(tab, live_server, cworld):
    login(tab, live_server, "petra")
    for path in ("/compute/", f"/compute/pools/{cworld.pool_a.pk}/", "/compute/programs/",
                 f"/compute/programs/{cworld.program.pk}/", "/compute/provider/"):
        tab.goto(live_server.url + path)
        _assert_axe_clean(tab, path)
    tab.context.clear_cookies()
    login(tab, live_server, "alice")
    for path in ("/compute/workspace/", "/compute/workspace/jobs/", "/compute/workspace/bills/",
                 "/compute/workspace/jobs/new/"):
        tab.goto(live_server.url + path)
        _assert_axe_clean(tab, path)
    tab.get_by_role("button", name="提交作业").click()  # nothing filled in: every field says what is missing
    expect(tab.locator(".field-error").first).to_be_visible()
    _assert_axe_clean(tab, "job form with errors")


def test_a_refusal_fails_over_and_the_job_page_shows_why(tab, live_server, cworld):
    url = live_server.url
    login(tab, live_server, "petra")
    tab.goto(f"{url}/compute/provider/pools/{cworld.pool_a.pk}/edit/")
    tab.locator("#id_backend_options").fill("accelerators=0")  # this machine offers no accelerators
    _assert_axe_clean(tab, "pool form")
    tab.get_by_role("button", name="保存").click()
    expect(tab.locator("main")).to_contain_text("资源池已更新")
    tab.context.clear_cookies()

    login(tab, live_server, "alice")
    tab.goto(f"{url}/compute/workspace/jobs/new/")
    tab.locator("#id_name").fill("改投作业")
    tab.locator("#id_script").fill('echo "ran after failover"\n')
    tab.locator("#id_accelerators").fill("1")
    tab.get_by_label("MLU370").check()
    tab.locator("#id_estimated_hours").fill("0.5")
    tab.get_by_role("button", name="提交作业").click()
    expect(tab.locator("#job-status-panel .badge")).to_have_text("已完成", timeout=20_000)
    panel = tab.locator("#job-status-panel")
    expect(panel).to_contain_text("ran after failover")
    expect(panel).to_contain_text("由资源池 sh-local 改投 nx-local")
    expect(panel).to_contain_text("this machine has 0")
    expect(tab.locator("main")).to_contain_text("nx-local")
    _assert_axe_clean(tab, "job page after failover")
    tab.context.clear_cookies()

    login(tab, live_server, "ron")
    tab.goto(f"{url}/compute/review/applications/")
    _assert_axe_clean(tab, "department application list")
