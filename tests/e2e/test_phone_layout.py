"""At a phone's width nothing the coordinator acts on hides at the far end of a scroller: every
action link of the patient page, the dashboard's totals and the photo page's signed values are
inside the viewport (issue 21, item 12). The wide tables become one card per row."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from measurements import engine
from measurements import services as photo_services
from measurements.models import Photo, PhotoScore
from patients import services
from tests.conftest import make_patient, record_treatment
from tests.measurements.files import noise_jpeg

from .test_coordinator_desk import PHONE, sign_in

pytestmark = pytest.mark.e2e

# Each element matched, with what it is, and whether its box lies outside the viewport or
# outside the box of the scroller holding it (then it is hidden until scrolled to).
OFF_SCREEN = """
([selector, width]) => Array.from(document.querySelectorAll(selector)).flatMap((el) => {
  const wrap = el.closest(".table-wrap");
  if (wrap) wrap.scrollLeft = 0;  // as the page opens
  const box = el.getBoundingClientRect();
  const clip = wrap ? wrap.getBoundingClientRect() : {left: 0, right: width};
  const outside = box.left < 0 || box.right > width || box.left < clip.left - 0.5 || box.right > clip.right + 0.5;
  return outside ? [`${(el.textContent || "").trim()} at ${box.left}-${box.right}`] : [];
})
"""


@pytest.fixture
def busy_patient(site_a, coordinator_a, bont_arm, data_manager):
    """A BoNT-A patient with a recorded baseline (Edit, Void, Adverse event), week 2 open (Record),
    an injection session and an adverse event (Edit, Void)."""
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=13, full_name="Florence Nightingale")
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    visit, _ = record_treatment(patient, coordinator_a)
    services.adverse_event_record(
        patient=patient,
        by=coordinator_a,
        visit=visit,
        term="eyelid_ptosis",
        onset_date=patient.enrollment_date + timedelta(days=3),
        severity="mild",
        relatedness="possible",
        action_taken="none",
        outcome="recovering",
    )
    return patient, visit


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def test_every_action_link_of_the_patient_page_is_on_screen(live_server, phone_page, coordinator_a, busy_patient):
    patient, _ = busy_patient
    sign_in(phone_page, live_server, coordinator_a)
    phone_page.goto(f"{live_server.url}/patients/{patient.pk}/")
    links = phone_page.locator("main a.button, main .row-actions a")
    expect(links.filter(has_text="Record")).not_to_have_count(0)
    for name in ("Edit", "Void", "Adverse event", "Record"):
        expect(phone_page.locator("#visits .row-actions a", has_text=name).first).to_be_visible()
    expect(phone_page.locator("#adverse-events .row-actions a", has_text="Void")).to_have_count(1)
    offenders = phone_page.evaluate(OFF_SCREEN, ["main a.button, main .row-actions a", PHONE["width"]])
    assert offenders == []
    # The visit's state and date are on screen too, labelled.
    offenders = phone_page.evaluate(OFF_SCREEN, ["#visits td[data-label]", PHONE["width"]])
    assert offenders == []
    expect(phone_page.locator("#visits td[data-label='State']").first).to_be_visible()


def test_the_dashboards_total_column_is_on_screen(live_server, phone_page, coordinator_a, busy_patient):
    sign_in(phone_page, live_server, coordinator_a)
    totals = phone_page.locator("table.counts td[data-label='Total']")
    expect(totals).not_to_have_count(0)
    assert phone_page.evaluate(OFF_SCREEN, ["table.counts td", PHONE["width"]]) == []


def test_the_photo_pages_signed_column_is_on_screen(live_server, phone_page, coordinator_a, busy_patient):
    _, visit = busy_patient
    photo = photo_services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(seed=4242), filename="rest.jpg", by=coordinator_a
    )
    PhotoScore.objects.filter(photo=photo).delete()  # whatever the in-process worker made of the noise
    PhotoScore.objects.create(
        photo=photo,
        engine_version=engine.ENGINE_VERSION,
        model_version=engine.MODEL_VERSION,
        status="scored",
        metrics={name: 1.5 for name in engine.METRICS_BY_NAME},
    )
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.SCORED)
    sign_in(phone_page, live_server, coordinator_a)
    phone_page.goto(f"{live_server.url}/photos/{photo.pk}/")
    signed = phone_page.locator("table.metrics td[data-label='Signed']")
    expect(signed).not_to_have_count(0)
    assert phone_page.evaluate(OFF_SCREEN, ["table.metrics td", PHONE["width"]]) == []


def test_the_injection_form_warns_at_a_ceiling_before_saving(live_server, page, coordinator_a, busy_patient):
    # The study allows 10 U per point and 50 U per session (tests/conftest.py).
    patient, _ = busy_patient
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{patient.pk}/injections/new/")
    warning = page.locator("#points-ceiling-warning")
    expect(warning).to_be_hidden()
    for index, units in enumerate(["12", "9", "9"]):
        page.get_by_label(f"Point {index + 1}: Units").fill(units)
    expect(warning).to_contain_text("Point 1: 12 U is above this study's ceiling of 10 U per point.")
    for _ in range(3):
        page.get_by_role("button", name="Add a row").click()
    for index in range(3, 6):
        page.get_by_label(f"Point {index + 1}: Units").fill("8")
    expect(page.locator("#points-total")).to_have_text("54")
    expect(warning).to_contain_text("Total 54 U is above this study's ceiling of 50 U per session.")
    # Saved anyway: the server refuses, and each ceiling is stated once, by the server.
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("54 U, above this study's ceiling of 50 U per session")).to_have_count(1)
    expect(page.get_by_text("12 U is above this study's ceiling of 10 U per point.")).to_have_count(1)
    expect(warning).to_be_hidden()
    page.get_by_label("Point 1: Units").fill("2")
    page.get_by_label("Point 2: Units").fill("2")
    expect(warning).to_be_hidden()
