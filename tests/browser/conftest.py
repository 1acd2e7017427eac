"""Browser fixtures: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright never downloads a browser here: we launch the system Chromium (`chromium` on PATH, or the
path in GAODI_CHROMIUM) through `executable_path`. Without it the browser tests skip, or fail under
GAODI_REQUIRE_SERVICES=1 (see tests/conftest.py).

Playwright's sync API keeps an asyncio event loop registered as running in the test thread, which
makes Django refuse ORM calls from the tests (SynchronousOnlyOperation). The documented workaround
for pytest-django + Playwright is DJANGO_ALLOW_ASYNC_UNSAFE; the ORM is still used synchronously.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import require_service

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "src" / "gaodi" / "config" / "static" / "vendor" / "axe.min.js"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    """GAODI_CHROMIUM (a path or a command name) if set, else `chromium` on PATH."""
    wanted = os.environ.get("GAODI_CHROMIUM")
    if wanted:
        if Path(wanted).is_file() and os.access(wanted, os.X_OK):
            return wanted
        return shutil.which(wanted)
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session; each test gets its own context (see `page`)."""
    path = chromium_path()
    require_service(path is not None, "Chromium not found (install Debian's chromium or set GAODI_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser):
    # zh-CN so Django's LocaleMiddleware serves the default zh-Hans UI (headless Chromium says en-US).
    ctx = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    # Uploaded reports go to a per-test folder, not ./var/media (the live server shares these settings).
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def bworld(transactional_db, live_server, world):
    """The shared `world`, committed for real so the live server thread sees it."""
    return world


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real login form and wait for the dashboard."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("main form #id_username").fill(username)
    page.locator("main form #id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/dashboard/")


def logout(page) -> None:
    page.locator("header form[action$='/accounts/logout/'] button").click()
    page.wait_for_load_state()


def axe_violations(page) -> list[dict]:
    """Run the vendored axe-core on the current page with the WCAG 2.0/2.1 A and AA rules."""
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return result["violations"]


def blocking(violations: list[dict]) -> list[dict]:
    """Serious and critical violations, reduced to what a reader needs to fix them."""
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [{"target": n["target"], "summary": n.get("failureSummary", "")} for n in v["nodes"][:5]],
        }
        for v in violations
        if v.get("impact") in BLOCKING_IMPACTS
    ]
