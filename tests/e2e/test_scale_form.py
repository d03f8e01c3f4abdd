"""A coordinator grades the Sunnybrook scale item by item on a phone (390 px): the subscores and
the composite show as the items are filled in, nothing runs off the screen, and the patient page
shows the composite computed on save."""

import pytest
from playwright.sync_api import expect

from tests.patients.test_scale_assessments import SB_WORKED

from .test_coordinator_desk import PHONE, sign_in
from .test_phone_layout import OFF_SCREEN, busy_patient, phone_page  # noqa: F401

pytestmark = pytest.mark.e2e


def test_coordinator_enters_a_sunnybrook_form_on_a_phone(live_server, phone_page, coordinator_a, busy_patient):  # noqa: F811
    patient, visit = busy_patient
    page = phone_page
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    grade = page.locator("#visits .scale-cell a", has_text="Grade").first
    expect(grade).to_be_visible()
    assert page.evaluate(OFF_SCREEN, ["#visits .scale-cell a", PHONE["width"]]) == []
    page.locator("#visits .scale-cell a[href$='/scales/sunnybrook/']").click()
    expect(page.locator("h1")).to_contain_text("Sunnybrook facial grading system")

    composite = page.locator("output[data-score='composite']")
    rest = page.locator("output[data-score='rest']")
    expect(rest).to_have_text("—")
    for code in ("sb_rest_eye", "sb_rest_cheek", "sb_rest_mouth"):
        page.locator(f"input[name='{code}'][value='{SB_WORKED[code]}']").check()
    expect(rest).to_have_text("20")  # live, before saving
    expect(composite).to_have_text("—")  # movement and synkinesis not graded yet: no composite
    for code, value in SB_WORKED.items():
        page.locator(f"input[name='{code}'][value='{value}']").check()
    expect(composite).to_have_text("36")
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"]
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#visits")).to_contain_text("Sunnybrook: 36")
    expect(page.locator("body")).to_contain_text("composite 36")
