"""A coordinator's main flow in a real browser: sign in, register, enroll, randomize, baseline, injection."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patients import services
from patients.models import Patient, RandomizationStratum, SeverityBand
from tests.conftest import PASSWORD, make_patient

pytestmark = pytest.mark.e2e

GRADE = 2  # House-Brackmann II: the mild-to-moderate stratum


def _next_slot_is_bont_a(site, by) -> None:
    """Randomize throwaway patients in the test patient's stratum until its next free slot is BoNT-A.

    The concealed list is random by design; this makes the browser flow deterministic
    without touching the list: every slot used here is allocated through the service.
    """
    stratum = RandomizationStratum.objects.get(site=site, severity_band=SeverityBand.for_grade(GRADE))
    for _ in range(20):
        slot = stratum.slots.filter(patient__isnull=True).order_by("position").first()
        if slot.arm.code == "bont-a":
            return
        services.patient_randomize(patient=make_patient(site, by, grade=GRADE), by=by)
    raise AssertionError("no BoNT-A slot in the first 20 of the stratum")


def test_coordinator_registers_randomizes_and_records_an_injection(
    live_server, page, screenshot, coordinator_a, site_a
):
    _next_slot_is_bont_a(site_a, coordinator_a)
    today = timezone.localdate().isoformat()

    # Sign in through the form.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    page.get_by_label("Username").fill(coordinator_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    screenshot("01-login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(page.locator(".who")).to_contain_text("Study coordinator")
    screenshot("02-dashboard")

    # Register a patient (screening: no dates yet).
    page.get_by_role("link", name="Register a patient").click()
    expect(page.get_by_label("Site")).to_have_value(str(site_a.pk))  # the coordinator's only site
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Affected side").select_option("left")
    page.get_by_label("Aetiology").select_option("bells_palsy")
    page.get_by_label("Months since onset").fill("9")
    page.get_by_label("Baseline House-Brackmann grade").select_option(str(GRADE))
    page.get_by_label("Full name").fill("Grace Browser")
    page.get_by_label("Date of birth").fill("1980-02-29")
    page.get_by_label("Medical record number").fill("E2E-0001")
    screenshot("03-register")
    page.get_by_role("button", name="Save").click()
    patient = Patient.objects.get(identifiers__medical_record_number="E2E-0001")
    expect(page).to_have_url(f"{live_server.url}/patients/{patient.pk}/")
    expect(page.locator(".messages")).to_contain_text(f"{patient.study_code} registered (screening)")
    expect(page.locator(".patient-header h1")).to_contain_text("Screening")
    expect(page.locator("#identifiers")).to_contain_text("Grace Browser")

    # Enroll.
    page.get_by_role("link", name="Enroll").click()
    page.get_by_label("Consent date").fill(today)
    page.get_by_label("Enrollment date").fill(today)
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(f"{patient.study_code} enrolled")
    expect(page.locator(".patient-header")).to_contain_text("Not randomized")

    # Randomize: a confirmation first, then the arm.
    page.get_by_role("link", name="Randomize").click()
    expect(page.locator("main")).to_contain_text("This cannot be undone")
    screenshot("04-randomize-confirm")
    page.get_by_role("button", name="Randomize now").click()
    expect(page.locator(".messages")).to_contain_text(f"{patient.study_code} was randomized to BoNT-A")
    expect(page.locator(".patient-header")).to_contain_text("BoNT-A")

    # Baseline visit, from the timeline's link.
    page.locator("#visits tr", has_text="Baseline").get_by_role("link", name="Record").click()
    expect(page.get_by_label("Scheduled visit")).to_have_value(str(patient.study.schedule.get(day_offset=0).pk))
    page.get_by_label("Date performed").fill(today)
    page.get_by_label("House-Brackmann grade").select_option(str(GRADE))
    page.get_by_label("Sunnybrook composite score").fill("61")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Baseline recorded")
    baseline_row = page.locator("#visits tbody tr", has_text="Baseline")
    expect(baseline_row).to_contain_text("Done")
    expect(baseline_row).to_contain_text("61")

    # Injection session with three points; the running total updates as units are typed.
    page.get_by_role("link", name="Record injection").click()
    page.get_by_label("Visit").select_option(label=f"Baseline – {today}")
    page.locator("#id_date").fill(today)
    page.locator("#id_product").select_option("onabotulinumtoxinA")
    page.get_by_label("Lot number").fill("C4821A")
    page.get_by_label("Dilution (mL saline per 100 U)").fill("2.5")
    page.get_by_label("Injector").fill("Dr Browser")
    points = [
        ("depressor_anguli_oris", "right", "4"),
        ("depressor_labii_inferioris", "right", "2.5"),
        ("mentalis", "midline", "2"),
    ]
    for index, (muscle, side, units) in enumerate(points):
        page.locator(f"#id_points-{index}-muscle").select_option(muscle)
        page.locator(f"#id_points-{index}-side").select_option(side)
        page.locator(f"#id_points-{index}-units").fill(units)
    expect(page.locator("#points-total")).to_have_text("8.5")
    page.get_by_role("button", name="Add a row").click()  # JS adds a fourth row in place
    expect(page.locator("#id_points-3-muscle")).to_be_visible()
    screenshot("05-injection-form")
    page.get_by_role("button", name="Save session").click()

    expect(page.locator(".messages")).to_contain_text(f"Injection session recorded for {patient.study_code}")
    session = page.locator("#injections article.session")
    expect(session).to_have_count(1)
    expect(session.locator("tbody tr")).to_have_count(3)
    expect(session.locator("[data-total-units]")).to_have_text("8.5 U")
    expect(session).to_contain_text("C4821A")
    screenshot("06-patient-page")

    # The audit trail names who did it.
    page.get_by_role("link", name="History").click()
    expect(page.locator("table.history")).to_contain_text("Randomized")
    expect(page.locator("table.history")).to_contain_text(coordinator_a.username)
    screenshot("07-history")

    patient.refresh_from_db()
    assert patient.arm.code == "bont-a"
    assert patient.injection_sessions.get().total_units == 8.5
