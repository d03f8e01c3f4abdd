"""The subjects and injections tables: columns, coding, formats, filters, pseudonyms, queries."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.dataset.tables import INJECTIONS, SUBJECTS
from patients import services
from patients.models import PseudonymKey, SubjectPseudonym
from patients.pseudonyms import pseudonym_key_rotate, subject_id_for
from tests.api.conftest import injections_url, make_subject, subjects_url
from tests.conftest import make_patient, record_treatment


@pytest.fixture
def treated(site_a, coordinator_a, data_manager, bont_arm):
    """A patient in the BoNT-A arm aged 40 at enrollment, with a baseline visit and one injection session."""
    today = timezone.localdate()
    patient = make_patient(
        site_a, coordinator_a, date_of_birth=today - timedelta(days=30) - timedelta(days=365 * 40 + 11)
    )
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    record_treatment(
        patient,
        coordinator_a,
        points=[
            {"muscle": "depressor_anguli_oris", "side": "right", "units": "4"},
            {"muscle": "zygomaticus_major", "side": "right", "units": "2.5"},
        ],
    )
    patient.refresh_from_db()
    return patient


def test_subject_row(login, investigator, study, treated):
    # One subject: served only because the API tests' study accepts k = 1 (tests/api/conftest.py).
    rows = login(investigator).get(subjects_url(study)).json()["results"]
    assert rows == [
        {
            "subject_id": SubjectPseudonym.objects.get(patient=treated).subject_id,
            "arm": treated.arm.code,
            "site": "site-1",
            "sex": "female",
            "age_years": "40",
            "affected_side": "left",
            "aetiology": "bells_palsy",
            # Quasi-identifiers are strings: a band ("12-17") or "suppressed" where k needs it.
            "months_since_onset": "12",
            "baseline_house_brackmann": "3",
            "status": "enrolled",
        }
    ]
    assert list(rows[0]) == SUBJECTS.column_names


def test_screening_patients_are_not_subjects(login, investigator, study, site_a, coordinator_a):
    make_patient(site_a, coordinator_a, enroll=False)
    assert login(investigator).get(subjects_url(study)).json()["results"] == []


def test_patients_never_randomized_are_not_subjects(login, investigator, study, site_a, coordinator_a):
    make_patient(site_a, coordinator_a)  # enrolled, never randomized: counts nowhere (docs/analysis.md)
    assert login(investigator).get(subjects_url(study)).json()["results"] == []


def test_sites_are_coded_in_order_never_named(login, investigator, study, patient_a, patient_b):
    sites = {row["site"] for row in login(investigator).get(subjects_url(study)).json()["results"]}
    assert sites == {"site-1", "site-2"}


def test_ninety_and_over_is_top_coded(login, investigator, study, site_a, coordinator_a):
    make_subject(site_a, coordinator_a, date_of_birth=timezone.localdate() - timedelta(days=365 * 95))
    assert login(investigator).get(subjects_url(study)).json()["results"][0]["age_years"] == "90+"


def test_withdrawn_subject_keeps_status_but_not_reason(login, investigator, study, patient_a, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved to Leeds")
    response = login(investigator).get(subjects_url(study))
    assert response.json()["results"][0]["status"] == "withdrawn"
    assert b"Leeds" not in response.content


def test_injection_rows_per_muscle_and_side_with_day(login, investigator, study, treated):
    rows = login(investigator).get(injections_url(study)).json()["results"]
    subject = SubjectPseudonym.objects.get(patient=treated).subject_id
    assert rows == [
        {"subject_id": subject, "visit": "baseline", "day": 0, "product": "onabotulinumtoxinA",
         "muscle": "depressor_anguli_oris", "side": "right", "units": 4.0},
        {"subject_id": subject, "visit": "baseline", "day": 0, "product": "onabotulinumtoxinA",
         "muscle": "zygomaticus_major", "side": "right", "units": 2.5},
    ]  # fmt: skip
    assert list(rows[0]) == INJECTIONS.column_names


def test_voided_session_is_left_out(login, investigator, study, treated, coordinator_a):
    session = treated.injection_sessions.get()
    services.injection_session_void(session=session, by=coordinator_a, reason="Entered twice")
    assert login(investigator).get(injections_url(study)).json()["results"] == []


def test_filters_by_visit_and_arm(login, investigator, study, treated):
    client = login(investigator)
    assert len(client.get(injections_url(study), {"visit": "baseline"}).json()["results"]) == 2
    other_visit = study.schedule.exclude(code="baseline").first().code
    assert client.get(injections_url(study), {"visit": other_visit}).json()["results"] == []
    other_arm = study.arms.exclude(pk=treated.arm_id).get().code
    assert client.get(subjects_url(study), {"arm": other_arm}).json()["results"] == []
    assert len(client.get(subjects_url(study), {"arm": treated.arm.code}).json()["results"]) == 1


def test_csv_streams_the_same_rows(login, investigator, study, treated):
    response = login(investigator).get(injections_url(study), {"format": "csv"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["muscle"] for r in table] == ["depressor_anguli_oris", "zygomaticus_major"]
    assert list(table[0]) == INJECTIONS.column_names


def test_zip_bundle_has_tables_dictionary_and_readme(login, investigator, study, treated):
    response = login(investigator).get(subjects_url(study), {"format": "zip"})
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert set(archive.namelist()) == {
        "outcomes.csv",
        "subjects.csv",
        "injections.csv",
        "data_dictionary.csv",
        "data_dictionary.json",
        "README.txt",
    }
    dictionary = json.loads(archive.read("data_dictionary.json"))
    assert {(d["table"], d["variable"]) for d in dictionary} >= {("subjects", "age_years"), ("injections", "units")}
    assert set(dictionary[0]) == {
        "table",
        "variable",
        "label",
        "type",
        "unit",
        "allowed_values",
        "role",
        "banding",
        "suppressed_cells",
        "k",
        "min_k",
    }
    readme = archive.read("README.txt").decode()
    assert "Inclusion:" in readme and "engine version" in readme and "k = 1" in readme


def test_pseudonyms_stable_within_study_and_keyed(login, investigator, study, patient_a):
    client = login(investigator)
    first = client.get(subjects_url(study)).json()["results"][0]["subject_id"]
    assert client.get(subjects_url(study)).json()["results"][0]["subject_id"] == first
    assert first == subject_id_for(PseudonymKey.objects.get(study=study).secret, patient_a.pk)
    assert patient_a.study_code not in first


def test_pseudonyms_differ_between_studies(study, other_study):
    assert subject_id_for("key-of-one-study", 7) != subject_id_for("key-of-another", 7)


def test_rotation_rekeys_every_subject_and_is_audited(login, investigator, study, patient_a, patient_b, data_manager):
    client = login(investigator)
    before = {r["subject_id"] for r in client.get(subjects_url(study)).json()["results"]}
    pseudonym_key_rotate(study=study, by=data_manager, reason="Key shared by mistake")
    after = {r["subject_id"] for r in client.get(subjects_url(study)).json()["results"]}
    assert len(after) == 2 and not before & after
    record = PseudonymKey.history.filter(study=study).latest("history_date")
    assert (record.rotated_by, record.rotation_reason) == (data_manager, "Key shared by mistake")
    assert not hasattr(record, "secret")


def test_cursor_pagination_walks_every_subject_once(login, investigator, study, site_a, coordinator_a):
    for _ in range(5):
        make_subject(site_a, coordinator_a)
    client = login(investigator)
    seen, url = [], subjects_url(study) + "?page_size=2"
    while url:
        page = client.get(url).json()
        seen += [r["subject_id"] for r in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 5
    assert seen == sorted(seen)


def _queries(client, url, **params):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", [subjects_url, injections_url])
def test_json_pages_use_a_fixed_number_of_queries(
    login, investigator, study, site_a, coordinator_a, data_manager, bont_arm, url
):
    def treated_patients(count):
        for _ in range(count):
            patient = make_patient(site_a, coordinator_a)
            services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Set-up")
            record_treatment(patient, coordinator_a)

    client = login(investigator)
    treated_patients(2)
    client.get(url(study))  # pseudonyms made on first export
    small = _queries(client, url(study), page_size=1)
    treated_patients(6)
    client.get(url(study))
    assert _queries(client, url(study), page_size=1) == small
    assert _queries(client, url(study), page_size=8) == small
