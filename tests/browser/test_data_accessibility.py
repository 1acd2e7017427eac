"""The public data-resource pages (Art. 16-17) in real Chromium: axe-core finds no serious or critical
WCAG violation, in the normal and the elder-friendly mode."""

from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, blocking

pytestmark = pytest.mark.browser


@pytest.fixture
def data_demo(bworld, settings, tmp_path):
    from gaodi.apps.data.demo import load_data_demo
    from gaodi.apps.data.models import Dataset

    made = load_data_demo(random.Random(3))
    assert made["datasets"] > 0
    return Dataset.objects.order_by("pk").first()


@pytest.mark.parametrize("mode", ["normal", "elder"])
@pytest.mark.parametrize("path", ["/data/", "dataset", "/data/statistics/", "/data/open-lists/", "/data/fairness/"])
def test_data_pages_have_no_serious_axe_violations(page, live_server, data_demo, path, mode):
    url = f"/data/datasets/{data_demo.pk}/" if path == "dataset" else path
    page.goto(live_server.url + url)
    expect(page.locator("main h1")).to_be_visible()
    if mode == "elder":
        page.locator("header .elder-toggle").get_by_role("button", name="长者模式").click()
        expect(page.locator("html")).to_have_class("elder")
    found = blocking(axe_violations(page))
    assert not found, f"axe on {url} ({mode}):\n" + json.dumps(found, ensure_ascii=False, indent=2)
