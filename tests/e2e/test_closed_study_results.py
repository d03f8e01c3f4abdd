"""A coordinator of a closed study whose results a data manager opened: the banner says the study is
read only, the navigation has "Outcomes", and the outcomes page opens."""

import pytest
from playwright.sync_api import expect

from patients import services
from tests.analysis.conftest import trial  # noqa: F401 - the fixture that builds measured patients
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_coordinator_of_a_closed_study_with_results_open_sees_them(
    live_server,
    page,
    screenshot,
    study,
    coordinator_a,
    data_manager,
    trial,  # noqa: F811
):
    for base, follow in ((3.5, 1.5), (3.0, 1.0), (4.0, 2.5)):
        trial.measured("bont-a", {"baseline": base, "week-12": follow})
    for base, follow in ((3.0, 2.8), (3.2, 3.3), (3.8, 3.0)):
        trial.measured("control", {"baseline": base, "week-12": follow})
    services.study_close(study=study, by=data_manager, reason="Database lock")
    study.refresh_from_db()
    study.results_open_to_coordinators = True
    services.common.save_audited(study, by=data_manager, reason="Results for the sites")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".study-closed")).to_contain_text("Study FACE-1 closed on")
    expect(page.locator(".study-closed")).to_contain_text("read only")
    expect(page.get_by_role("link", name="Register a patient")).to_have_count(0)
    page.get_by_role("link", name="Outcomes").click()
    expect(page.get_by_role("heading", name="Per arm and visit")).to_be_visible()
    expect(page.locator("#ancova")).to_contain_text("95% CI")
    screenshot("01-coordinator-outcomes-of-a-closed-study")
