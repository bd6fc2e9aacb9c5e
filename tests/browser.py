"""What the end-to-end browser tests share: Debian's Chromium driven by Playwright, the marks
(a transactional database — the live server runs in another thread — and a visible skip
without Chromium), the fixture and the login, and where screenshots go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"

MARKS = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"
    ),
]


def shots_dir(tmp_path: Path) -> Path:
    """docs/screenshots with COUNTYCARE_SCREENSHOTS=1 (refreshing them), else a temp dir."""
    return SHOTS if os.environ.get("COUNTYCARE_SCREENSHOTS") else tmp_path


@pytest.fixture
def browser():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def login(browser, live_server, user, viewport=None, *, timeout_ms: int = 20000):
    """A new browser context logged in as ``user`` (Chinese UI): (context, page)."""
    context = browser.new_context(
        viewport=viewport or {"width": 1024, "height": 768}, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.goto(live_server.url + reverse("login"))
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("input[name=password] >> xpath=ancestor::form//button[@type='submit']")
    page.wait_for_load_state("networkidle")
    return context, page
