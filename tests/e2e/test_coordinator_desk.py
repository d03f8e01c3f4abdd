"""A day at the clinic desk in a real browser: find a patient by name, the visit window on the
visit form, an adverse event, a refused upload, and the pages at a phone's width."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from patients import services
from patients.models import AdverseEvent
from tests.conftest import PASSWORD, make_patient, record_treatment

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


def sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()


def no_page_scroll(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page itself scrolls sideways: {widths}"


@pytest.fixture
def treated(site_a, coordinator_a, bont_arm, data_manager):
    """In the BoNT-A arm, enrolled 13 days ago, baseline and injection recorded: week 2 opens today."""
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=13, full_name="Florence Nightingale")
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    record_treatment(patient, coordinator_a)
    return patient


def test_coordinator_finds_a_patient_by_name(live_server, page, screenshot, coordinator_a, treated, site_a):
    make_patient(site_a, coordinator_a, full_name="Mary Seacole")
    sign_in(page, live_server, coordinator_a)
    page.get_by_role("link", name="Patients").first.click()
    page.get_by_label("Name, record number or study code").fill("nightin")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.patients tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Florence Nightingale")
    screenshot("01-search-by-name")
    rows.first.get_by_role("link", name=treated.study_code).click()
    expect(page.locator(".patient-header h1")).to_contain_text(treated.study_code)


def test_visit_form_shows_the_window_and_warns_outside_it(live_server, page, screenshot, coordinator_a, treated):
    week_2_target = treated.enrollment_date + timedelta(days=14)
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{treated.pk}/")
    page.locator("#visits").get_by_role("link", name="Record", exact=True).click()
    help_text = page.locator("#id_scheduled_visit_helptext")
    expect(help_text).to_contain_text(f"Target date {week_2_target:%Y-%m-%d}")
    # Only week 2 is offered: the baseline is done, weeks 4 and 12 have not opened.
    options = page.get_by_label("Scheduled visit").locator("option:not([value=''])")
    expect(options).to_have_text(["Week 2"])

    page.get_by_label("Date performed").fill(f"{treated.enrollment_date + timedelta(days=5):%Y-%m-%d}")
    warning = page.locator("#id_date_performed_warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("outside this visit's window")
    screenshot("01-outside-window")
    page.get_by_role("button", name="Save").click()
    # Refused by the server: its message beside the date, and only that one.
    expect(page.locator("#id_date_performed_error_1")).to_contain_text("Outside the window")
    expect(page.get_by_text("outside this visit's window")).to_have_count(0)
    page.get_by_label("Date performed").fill(f"{treated.enrollment_date + timedelta(days=13):%Y-%m-%d}")
    expect(warning).to_be_hidden()
    expect(page.locator("#id_date_performed_error_1")).to_be_hidden()


def test_coordinator_records_an_adverse_event(live_server, page, screenshot, coordinator_a, treated):
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{treated.pk}/")
    page.get_by_role("link", name="Record adverse event").click()
    page.locator("#id_term").select_option(label="Eyelid ptosis")
    page.get_by_label("Onset date").fill(f"{treated.enrollment_date + timedelta(days=5):%Y-%m-%d}")
    page.get_by_label("Severity").select_option(label="Moderate")
    page.get_by_label("Serious adverse event").check()
    page.get_by_label("Relatedness to the study drug").select_option(label="Probable")
    page.get_by_label("Action taken").select_option(label="None")
    page.get_by_label("Outcome").select_option(label="Recovering / resolving")
    page.get_by_role("button", name="Save").click()
    # The serious event without its criterion is refused beside the field; nothing typed is lost.
    expect(page.get_by_text("A serious event needs its seriousness criterion.")).to_be_visible()
    expect(page.get_by_label("Severity")).to_have_value("moderate")
    page.get_by_label("Seriousness criterion").select_option(label="Other important medical event")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Adverse event recorded")
    events = page.locator("#adverse-events")
    expect(events).to_contain_text("Eyelid ptosis")
    expect(events).to_contain_text("Serious")
    events.scroll_into_view_if_needed()
    screenshot("01-adverse-event")
    assert AdverseEvent.objects.get(patient=treated).serious


def test_refused_upload_is_reported_on_the_patient_page(
    live_server, page, screenshot, coordinator_a, treated, tmp_path
):
    text = tmp_path / "letter.jpg"
    text.write_bytes(b"A referral letter, not a photo.")
    sign_in(page, live_server, coordinator_a)
    page.goto(f"{live_server.url}/patients/{treated.pk}/")
    form = page.locator("#photos form.photo-upload").first
    page.locator("#photos details.upload").first.evaluate("details => { details.open = true; }")
    expect(form.get_by_text("JPEG, PNG, WebP or HEIC photos, up to")).to_be_visible()
    form.locator("input[name=photo_rest]").set_input_files(text)
    form.get_by_role("button", name="Upload").click()
    report = page.locator("#upload-report")
    expect(report).to_contain_text("Rest: “letter.jpg” not saved: “letter.jpg” is not a JPEG, PNG, WebP or HEIC photo.")
    expect(page.locator(".patient-header")).to_be_visible()
    report.scroll_into_view_if_needed()
    screenshot("01-upload-refused")


@pytest.mark.parametrize("where", ["dashboard", "patient", "visit form", "injection form", "patient list"])
def test_pages_fit_a_phone(live_server, browser, coordinator_a, treated, site_a, request, where):
    for _ in range(3):  # a few rows in the dashboard's lists
        other = make_patient(site_a, coordinator_a, enrolled_days_ago=20)
        services.patient_assign_arm_externally(
            patient=other, arm=treated.arm, by=request.getfixturevalue("data_manager"), reason="Test set-up"
        )
    context = browser.new_context(viewport=PHONE, locale="en-GB", is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, coordinator_a)
        url = {
            "dashboard": "/",
            "patient": f"/patients/{treated.pk}/",
            "visit form": f"/patients/{treated.pk}/visits/new/",
            "injection form": f"/patients/{treated.pk}/injections/new/",
            "patient list": "/patients/",
        }[where]
        page.goto(f"{live_server.url}{url}")
        no_page_scroll(page)
        if where == "injection form":
            # Every field of a point is on screen and labelled: muscle, side, units, and the total.
            for label in ("Point 1: Muscle", "Point 1: Side", "Point 1: Units"):
                field = page.get_by_label(label)
                expect(field).to_be_visible()
                box = field.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], label
            page.get_by_label("Point 1: Units").fill("4")
            expect(page.locator("#points-total")).to_have_text("4")
        if where == "visit form":
            box = page.get_by_label("Date performed").bounding_box()
            assert box["x"] + box["width"] <= PHONE["width"]
        if where in ("dashboard", "patient"):
            # A wide table scrolls inside its box, and its first column stays put; the tables
            # whose last columns matter become cards instead (tests/e2e/test_phone_layout.py).
            wrap = page.locator(".table-wrap:not(:has(> .cards-on-phone))").first
            assert wrap.evaluate("el => getComputedStyle(el).overflowX") == "auto"
            first = page.locator(".table-wrap > table:not(.cards-on-phone) > tbody > tr > :first-child").first
            assert first.evaluate("el => getComputedStyle(el).position") == "sticky"
        name = where.replace(" ", "-")
        from tests.browser import ARTIFACTS

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    finally:
        context.close()


def test_admin_study_page_fits_a_laptop(live_server, page, data_manager, study):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(data_manager.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/admin/patients/study/{study.pk}/change/")
    expect(page.get_by_role("heading", name="Treatment arms")).to_be_visible()
    no_page_scroll(page)
