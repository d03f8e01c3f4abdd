"""The eligibility checklist in a real browser: randomization waits for it, then goes ahead."""

import pytest
from playwright.sync_api import expect

from patients import services
from tests.conftest import make_patient

from .test_coordinator_desk import sign_in

pytestmark = pytest.mark.e2e


def test_coordinator_completes_the_checklist_then_randomizes(live_server, page, screenshot, study, site_a,
                                                              coordinator_a, data_manager):  # fmt: skip
    services.eligibility_criterion_define(study=study, kind="inclusion", text="Aged 18 or over", by=data_manager)
    services.eligibility_criterion_define(study=study, kind="exclusion", text="Pregnant or breastfeeding",
                                          by=data_manager)  # fmt: skip
    patient = make_patient(site_a, coordinator_a)
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Randomize").click()
    expect(page.get_by_role("alert")).to_contain_text("Complete the eligibility checklist")
    expect(page.get_by_role("button", name="Randomize now")).to_have_count(0)
    page.get_by_role("link", name="Open the eligibility checklist").click()

    page.get_by_role("group", name="Inclusion criteria: each must be met").get_by_label("Yes").check()
    page.get_by_role("group", name="Exclusion criteria: none may apply").get_by_label("No").check()
    screenshot("01-checklist")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Eligibility checklist")
    expect(page.locator("#eligibility")).to_contain_text("Eligible")

    page.get_by_role("link", name="Randomize").click()
    page.get_by_role("button", name="Randomize now").click()
    expect(page.locator(".messages")).to_contain_text("was randomized to")
