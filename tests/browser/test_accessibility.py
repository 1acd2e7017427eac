"""WCAG 2.1 AA in real Chromium: the vendored axe-core finds no serious or critical violation on the public
pages and the filing form, in the normal and the elder-friendly mode (Art. 68), and in the English UI.
The elder mode really enlarges the text and stays on across pages and on the account."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, blocking, login

pytestmark = pytest.mark.browser

PAGES = ["home", "filing_list", "filing_detail", "filing_form"]


@pytest.fixture
def published(bworld, make_filing):
    """An approved filing that is in a published disclosure batch, so every public page has content."""
    from gaodi.apps.algorithms import actions

    filing = make_filing("approved")
    today = timezone.localdate()
    actions.publish_batch(bworld.paul, bworld.cyber, "2026年第一批", today - timedelta(days=10), today)
    return filing


def _root_font_px(page) -> float:
    return float(page.evaluate("getComputedStyle(document.documentElement).fontSize").removesuffix("px"))


def _turn_elder_on(page) -> None:
    page.locator("header .elder-toggle").get_by_role("button", name="长者模式").click()
    expect(page.locator("html")).to_have_class("elder")


def _broken_aria_refs(page) -> list[str]:
    """aria-describedby/labelledby ids that name no element (axe only lists these as 'incomplete')."""
    return page.evaluate("""() => [...document.querySelectorAll('[aria-describedby], [aria-labelledby]')]
        .flatMap(el => ['aria-describedby', 'aria-labelledby'].flatMap(a => (el.getAttribute(a) || '')
            .split(/\\s+/).filter(id => id && !document.getElementById(id)).map(id => `${el.id || el.tagName}: ${a}=${id}`)))""")


def _assert_axe_clean(page, label: str) -> None:
    found = blocking(axe_violations(page))
    assert not found, f"axe: serious/critical WCAG violations on {label} ({page.url}):\n" + json.dumps(
        found, ensure_ascii=False, indent=2
    )


@pytest.mark.parametrize("mode", ["normal", "elder"])
@pytest.mark.parametrize("which", PAGES)
def test_no_serious_axe_violations(page, live_server, bworld, published, which, mode):
    urls = {
        "home": "/",
        "filing_list": "/filings/",
        "filing_detail": f"/filings/{published.pk}/",
        "filing_form": "/workspace/filings/new/",
    }
    if which == "filing_form":
        login(page, live_server, "alice")
    page.goto(live_server.url + urls[which])
    if mode == "elder":
        _turn_elder_on(page)
        assert page.url == live_server.url + urls[which]  # the toggle returns to the same page
    # The page really has its content (an empty page would pass axe trivially).
    expected = {"home": published.name, "filing_list": published.name, "filing_detail": published.public_text,
                "filing_form": "保存并提交审核"}[which]
    expect(page.locator("main")).to_contain_text(expected)
    _assert_axe_clean(page, f"{which} ({mode})")
    assert _broken_aria_refs(page) == []


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_filing_form_with_errors_has_no_serious_axe_violations(page, live_server, bworld, mode):
    login(page, live_server, "alice")
    page.goto(f"{live_server.url}/workspace/filings/new/")
    if mode == "elder":
        _turn_elder_on(page)
    page.get_by_role("button", name="保存草稿").click()  # no name: the form comes back with an error
    expect(page.locator("main .field-error", has=page.get_by_label("算法名称"))).to_contain_text("必填")
    _assert_axe_clean(page, f"filing form with errors ({mode})")
    assert _broken_aria_refs(page) == []
    # Each field's error is linked to it, so screen readers announce it with the field.
    expect(page.get_by_label("算法名称")).to_have_attribute("aria-invalid", "true")


def test_english_home_page_has_no_serious_axe_violations(page, live_server, bworld, published):
    page.goto(f"{live_server.url}/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    page.get_by_label("语言").select_option("en")
    page.locator("header .lang-switch button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#language-select")).to_have_value("en")
    expect(page.locator("main")).to_contain_text(published.name)
    _assert_axe_clean(page, "home (English)")
    # The choice sticks for the next page.
    page.locator("nav.site-nav a[href='/filings/']").click()
    page.wait_for_url(f"{live_server.url}/filings/")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_elder_mode_enlarges_text_and_persists(page, live_server, bworld, published):
    page.goto(f"{live_server.url}/")
    normal = _root_font_px(page)
    body_normal = float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px"))
    toggle = page.locator("header .elder-toggle button")
    expect(toggle).to_have_attribute("aria-pressed", "false")

    _turn_elder_on(page)
    elder = _root_font_px(page)
    assert elder >= 22 and elder >= normal * 1.3, (normal, elder)
    body_elder = float(page.evaluate("getComputedStyle(document.body).fontSize").removesuffix("px"))
    assert body_elder > body_normal
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_text("标准模式")

    # Across pages (the cookie), including a page opened fresh in the same browser context.
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="算法备案公示").click()
    expect(page.locator("html")).to_have_class("elder")
    assert _root_font_px(page) == elder
    other = page.context.new_page()
    other.goto(f"{live_server.url}/filings/{published.pk}/")
    expect(other.locator("html")).to_have_class("elder")
    assert _root_font_px(other) == elder
    other.close()

    # Turning it off restores the normal size.
    page.locator("header .elder-toggle").get_by_role("button", name="标准模式").click()
    expect(page.locator("html")).not_to_have_class("elder")
    assert _root_font_px(page) == normal


def test_elder_mode_is_remembered_on_the_account(live_server, bworld, browser):
    first = browser.new_context(locale="zh-CN")
    try:
        page = first.new_page()
        login(page, live_server, "alice")
        _turn_elder_on(page)
    finally:
        first.close()
    bworld.alice.refresh_from_db()
    assert bworld.alice.elder_mode is True
    # A new browser (no elder cookie) gets the mode as soon as alice signs in.
    second = browser.new_context(locale="zh-CN")
    try:
        page = second.new_page()
        page.goto(f"{live_server.url}/")
        expect(page.locator("html")).not_to_have_class("elder")
        login(page, live_server, "alice")
        expect(page.locator("html")).to_have_class("elder")
        assert _root_font_px(page) >= 22
    finally:
        second.close()
