"""Browser fixtures: Playwright driving Debian's Chromium against pytest-django's live_server.

Shared by tests/e2e and the worker tests in tests/integration: one browser per test session.
Playwright's sync API runs an event loop in the test's thread, which makes Django
refuse ORM calls from that thread ("async context") unless told otherwise; the
test thread only sets up data, and the server runs in its own thread.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (Debian's package; never `playwright install`).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


# Reports every Content-Security-Policy violation to the console, where the page fixture
# collects it; Chromium's own "Refused to ..." console message is collected as well.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline code"}`
    + ` at ${event.sourceFile}:${event.lineNumber}`);
});
"""


def is_csp_violation(text: str) -> bool:
    return "CSP violation" in text or "Content Security Policy" in text


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    context.set_default_timeout(15_000)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    violations: list[str] = []
    page.csp_violations = violations  # for the test that checks this listener itself
    page.on("console", lambda message: violations.append(message.text) if is_csp_violation(message.text) else None)
    yield page
    context.close()
    if violations:
        pytest.fail("The browser reported Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def screenshot(page, request):
    ARTIFACTS.mkdir(exist_ok=True)

    def _take(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)

    return _take
