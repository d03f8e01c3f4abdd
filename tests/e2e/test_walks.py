"""One walk per kind of user, in a real browser, as the README shows them.

- A coordinator registers, enrolls and randomizes a patient, records the baseline, uploads the
  standard photo set, sees the photos scored and opens an overlay, records an injection session,
  and is refused a dose above the study's ceiling, with the message and nothing saved.
- An investigator opens the outcomes of the demo trial, switches metric and visit, reads Table 1
  and the CONSORT flow, and downloads the XLSX and an SVG figure, which open.
- An API client creates nothing in the browser: a data manager issues its token in the admin, and
  the client fetches the anonymized dataset ZIP with it and loads it with pandas.

Each walk saves its main pages at desktop and phone widths (test-artifacts/); a few of these are
kept in docs/screenshots/ for the README.
"""

import io
import re
import xml.etree.ElementTree as ET
import zipfile

import pandas as pd
import pytest
import requests
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import expect

from analysis import demo_trial
from measurements.models import Photo
from patients.models import InjectionSession, Patient
from tests.conftest import PASSWORD
from tests.e2e.test_coordinator_flow import GRADE, _next_slot_is_bont_a
from tests.imaging import astronaut_face, pull_commissure_down, to_jpeg_bytes

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def at_both_widths(page, screenshot):
    """Screenshot the page at desktop and at phone width, and check the page itself never scrolls sideways."""

    def _take(name: str) -> None:
        screenshot(f"{name}-desktop")
        page.set_viewport_size(PHONE)
        page.wait_for_timeout(100)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow} px at phone width"
        screenshot(f"{name}-phone")
        page.set_viewport_size(DESKTOP)

    return _take


def sign_in(page, live_server, username, password=PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_coordinator_walks_from_registration_to_scored_photos(
    live_server, page, at_both_widths, coordinator_a, site_a, study, tmp_path
):
    _next_slot_is_bont_a(site_a, coordinator_a)
    today = timezone.localdate().isoformat()
    sign_in(page, live_server, coordinator_a.username)
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    at_both_widths("coordinator-01-dashboard")

    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("Sex").select_option("male")
    page.get_by_label("Affected side").select_option("right")
    page.get_by_label("Aetiology").select_option("trauma")
    page.get_by_label("Months since onset").fill("14")
    page.get_by_label("Baseline House-Brackmann grade").select_option(str(GRADE))
    page.get_by_label("Full name").fill("Walter Walk")
    page.get_by_label("Date of birth").fill("1971-06-30")
    page.get_by_label("Medical record number").fill("WALK-0001")
    page.get_by_label("Consent date").fill(today)
    page.get_by_label("Enrollment date").fill(today)
    page.get_by_role("button", name="Save").click()
    patient = Patient.objects.get(identifiers__medical_record_number="WALK-0001")
    expect(page.locator(".messages")).to_contain_text(f"{patient.study_code} registered (enrolled)")

    page.get_by_role("link", name="Randomize").click()
    page.get_by_role("button", name="Randomize now").click()
    expect(page.locator(".messages")).to_contain_text("was randomized to BoNT-A")

    page.locator("#visits tr", has_text="Baseline").get_by_role("link", name="Record").click()
    page.get_by_label("Date performed").fill(today)
    page.get_by_label("House-Brackmann grade").select_option(str(GRADE))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Baseline recorded")

    # The standard photo set: a face with the right mouth corner drooping, one file per expression.
    face = pull_commissure_down(astronaut_face(), side="right", mm=4)
    form = page.locator("#photos form.photo-upload")
    for index, field in enumerate(form.locator("input[type=file]").all()):
        path = tmp_path / f"photo-{index}.jpg"
        path.write_bytes(to_jpeg_bytes(face, quality=80 + index))  # a different file each
        field.set_input_files(path)
    form.get_by_role("button", name="Upload").click()
    photos = page.locator("#photos")
    expect(photos.locator(".badge-scored").first).to_be_visible()
    assert Photo.objects.filter(patient=patient).count() == 8
    at_both_widths("coordinator-02-patient-page")

    smile = Photo.objects.get(patient=patient, expression="smile_open")
    assert smile.status == Photo.Status.SCORED, smile.failure_reason
    page.goto(f"{live_server.url}/photos/{smile.pk}/")
    overlay = page.locator("img.overlay")
    expect(overlay).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=overlay.element_handle())
    at_both_widths("coordinator-03-photo-overlay")

    # An injection session, first with a dose above the study's ceiling of 10 U per point.
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Record injection").click()
    page.get_by_label("Visit").select_option(label=f"Baseline – {today}")
    page.locator("#id_date").fill(today)
    page.locator("#id_product").select_option("onabotulinumtoxinA")
    page.get_by_label("Lot number").fill("C7710A")
    page.get_by_label("Dilution (mL saline per 100 U)").fill("2.5")
    page.get_by_label("Injector").fill("Dr Walk")
    page.locator("#id_points-0-muscle").select_option("depressor_anguli_oris")
    page.locator("#id_points-0-side").select_option("left")
    page.locator("#id_points-0-units").fill("30")
    page.get_by_role("button", name="Save session").click()
    expect(page.get_by_text("30 U is above this study's ceiling of 10 U per point.")).to_be_visible()
    at_both_widths("coordinator-04-refused-dose")
    assert not InjectionSession.objects.filter(patient=patient).exists(), "a refused session saves nothing"

    page.locator("#id_points-0-units").fill("4")
    page.get_by_role("button", name="Save session").click()
    expect(page.locator(".messages")).to_contain_text(f"Injection session recorded for {patient.study_code}")
    assert InjectionSession.objects.get(patient=patient).total_units == 4


@pytest.fixture
def demo(db, settings, tmp_path, django_capture_on_commit_callbacks, engine_results_reused):
    """The demo trial, small: 12 patients, the smile photos, scored in-process as in `make run`
    (the second walk that builds it reuses the engine's results for the same photos)."""
    settings.VAR_DIR = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        return demo_trial.seed_demo_trial(patients=12, expressions=("smile_open",))


def test_an_investigator_reads_the_outcomes_and_downloads_them(live_server, page, at_both_widths, demo, tmp_path):
    sign_in(page, live_server, "investigator", demo_trial.DEMO_PASSWORD)
    page.get_by_role("link", name="Outcomes").click()
    page.get_by_label("Expression", exact=True).select_option("smile_open")
    page.get_by_label("Visit", exact=True).select_option("week-12")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Between arms at Week 12")).to_be_visible()
    expect(page.locator("#ancova")).to_contain_text("95% CI")
    at_both_widths("investigator-01-outcomes")

    page.get_by_label("Metric", exact=True).select_option("commissure_height_signed_mm")
    page.get_by_label("Visit", exact=True).select_option("week-4")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Between arms at Week 4")).to_be_visible()

    table1 = page.locator("#table1-table")
    expect(table1).to_contain_text("BoNT-A")
    expect(table1).to_contain_text("Age")
    page.locator("#table1").scroll_into_view_if_needed()
    at_both_widths("investigator-02-table-1")
    consort = page.locator("#consort-table")
    expect(consort).to_contain_text("Allocated")
    page.locator("#consort-head").scroll_into_view_if_needed()
    at_both_widths("investigator-03-consort")
    # Nothing that identifies a patient reaches an investigator.
    assert "LON-001" not in page.content() and demo_trial.FIRST_NAMES[0] not in page.content()

    with page.expect_download() as xlsx_download:
        page.locator("#download-links").get_by_role("link", name="XLSX").first.click()
    xlsx = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx)
    assert xlsx.name.startswith("BONT-FP_outcomes_commissure_height_signed_mm_smile_open_")
    assert "Methods and exclusions" in load_workbook(xlsx).sheetnames

    with page.expect_download() as svg_download:
        page.locator("figure").first.get_by_role("link", name="SVG").click()
    svg = tmp_path / svg_download.value.suggested_filename
    svg_download.value.save_as(svg)
    text = ET.tostring(ET.parse(svg).getroot(), encoding="unicode")
    assert "BoNT-A" in text and "Control" in text


def test_an_api_client_gets_a_token_from_the_data_manager_and_loads_the_dataset(
    live_server, page, at_both_widths, demo
):
    sign_in(page, live_server, "datamanager", demo_trial.DEMO_PASSWORD)
    page.goto(f"{live_server.url}/admin/patients/apitoken/add/")
    page.get_by_label("Client name").fill("Registry export")
    page.get_by_label("Study").select_option(label=demo_trial.DEMO_STUDY_CODE)
    page.get_by_label("User").select_option(label="apiclient")
    page.get_by_role("button", name="Save", exact=True).click()
    shown = page.locator(".messagelist").inner_text()
    token = re.search(r"Token for Registry export: ([0-9a-f]{64})", shown).group(1)
    at_both_widths("api-01-token-issued")

    # The client, outside the browser: the dataset ZIP with the token, loaded with pandas.
    response = requests.get(
        f"{live_server.url}/api/v1/studies/{demo_trial.DEMO_STUDY_CODE}/dataset/subjects/?format=zip",
        headers={"Authorization": f"Token {token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:500]
    bundle = zipfile.ZipFile(io.BytesIO(response.content))
    csvs = [name for name in bundle.namelist() if name.endswith(".csv")]
    subjects = pd.read_csv(bundle.open(next(name for name in csvs if "subjects" in name)))
    assert len(subjects) == 12 and set(subjects["arm"]) == {"bont-a", "control"}
    assert not subjects["subject_id"].str.contains("LON|MAN").any()
