"""The browser enforces the Content-Security-Policy, and the shared page fixture fails a test
on any violation the browser reports (tests/browser.py); this checks that listener itself."""

import pytest

pytestmark = pytest.mark.e2e


def test_injected_inline_script_is_blocked_and_reported(live_server, page):
    page.goto(f"{live_server.url}/accounts/login/")

    ran = page.evaluate(
        """() => {
            window.injected = false;
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            return window.injected;
        }"""
    )
    page.wait_for_timeout(200)  # the violation event is dispatched asynchronously

    assert ran is False, "the inline script ran: no CSP"
    assert any("script-src" in v or "default-src" in v for v in page.csp_violations), page.csp_violations
    page.csp_violations.clear()  # reported as it should be: not a failure of this test


def test_the_api_documentation_loads_under_the_policy(live_server, page, data_manager):
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(data_manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/api/docs/")

    # Swagger UI is served from our static files (drf-spectacular-sidecar), its start-up script as a file.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("BoNT-A facial symmetry trial API")


def test_the_api_documentation_without_a_login_leads_to_the_login_and_back(live_server, page, data_manager):
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Username").fill(data_manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("BoNT-A facial symmetry trial API")
