"""Finding a patient from the clinic list: by name, record number or study code, at one's own sites.

Names and record numbers are identifiers: only the roles that see them can search by them.
"""

import random
from datetime import date

import pytest
from django.db import connection

from patients import selectors
from patients.models import Patient, PatientIdentifiers
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(site_a, site_b, coordinator_a, coordinator_b):
    return {
        "grace": make_patient(site_a, coordinator_a, full_name="Grace Hopper-Smith", mrn="RX-10442"),
        "alan": make_patient(site_a, coordinator_a, full_name="Alan Turing", mrn="RX-20017"),
        "grace_b": make_patient(site_b, coordinator_b, full_name="Grace Jones", mrn="MAN-55"),
    }


def _found(client, query):
    response = client.get("/patients/", {"q": query})
    assert response.status_code == 200
    return {patient.study_code for patient, _ in response.context["rows"]}


def test_coordinator_finds_own_patients_by_part_of_a_name_in_any_case(login, coordinator_a, clinic):
    client = login(coordinator_a)
    assert _found(client, "smith") == {clinic["grace"].study_code}
    assert _found(client, "GRACE") == {clinic["grace"].study_code}  # not the Grace at Manchester
    assert _found(client, "hopper grace") == {clinic["grace"].study_code}  # every word, any order


def test_coordinator_finds_by_record_number_or_its_digits(login, coordinator_a, clinic):
    client = login(coordinator_a)
    assert _found(client, "rx-20017") == {clinic["alan"].study_code}
    assert _found(client, "10442") == {clinic["grace"].study_code}


def test_study_code_search_still_works_for_everyone(login, coordinator_a, investigator, clinic):
    code = clinic["alan"].study_code
    assert _found(login(coordinator_a), code.lower()) == {code}
    assert _found(login(investigator), code) == {code}


def test_coordinator_cannot_find_another_sites_patient_by_name(login, coordinator_a, clinic):
    assert _found(login(coordinator_a), "Jones") == set()
    assert _found(login(coordinator_a), "MAN-55") == set()


def test_investigator_cannot_search_by_name_or_record_number(login, investigator, clinic):
    client = login(investigator)
    assert _found(client, "Grace") == set()
    assert _found(client, "RX-20017") == set()
    assert "Name, record number" not in client.get("/patients/").content.decode()


def test_data_manager_finds_by_name_at_every_site(login, data_manager, clinic):
    assert _found(login(data_manager), "grace") == {clinic["grace"].study_code, clinic["grace_b"].study_code}


def test_search_box_says_what_it_searches(login, coordinator_a, clinic):
    page = login(coordinator_a).get("/patients/").content.decode()
    assert "Name, record number or study code" in page


def test_no_match_says_so(login, coordinator_a, clinic):
    response = login(coordinator_a).get("/patients/", {"q": "Nobody-by-this-name"})
    assert "No patient matches" in response.content.decode()


def _ten_thousand_patients(site, n=10_000):
    """Rows written in bulk (this test is about the query plan, not the services)."""
    rng = random.Random(7)
    first = ["Ada", "Alan", "Grace", "Mary", "John", "Ravi", "Mei", "Olu", "Sven", "Ines"]
    last = ["Smith", "Jones", "Patel", "Khan", "Brown", "Nguyen", "Garcia", "Müller", "Rossi", "Kowalski"]
    patients = Patient.objects.bulk_create(
        Patient(
            study=site.study,
            site=site,
            study_code=f"BULK-{i:05d}",
            site_sequence=10_000 + i,
            sex="female",
            affected_side="left",
            aetiology="bells_palsy",
            months_since_onset=6,
            baseline_house_brackmann=3,
        )
        for i in range(n)
    )
    PatientIdentifiers.objects.bulk_create(
        PatientIdentifiers(
            patient=patient,
            full_name=f"{rng.choice(first)} {rng.choice(last)}-{rng.randrange(10**6):06d}",
            date_of_birth=date(1970, 1, 1),
            medical_record_number=f"H{rng.randrange(10**8):08d}",
        )
        for patient in patients
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_patient")
        cursor.execute("ANALYZE patients_patientidentifiers")
    return patients


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes are PostgreSQL's")
def test_identifier_search_uses_the_trigram_indexes_at_ten_thousand_patients(coordinator_a, site_a):
    patients = _ten_thousand_patients(site_a)
    target = patients[4321].identifiers
    access = selectors.access_for(coordinator_a)

    by_name = selectors.patient_list(access, query=target.full_name.split("-")[1])
    plan = by_name.explain()
    assert "patient_identifiers_name_trgm" in plan, plan
    assert "patient_identifiers_mrn_trgm" in plan, plan
    assert list(by_name) == [patients[4321]]

    by_record_number = selectors.patient_list(access, query=target.medical_record_number.lower())
    assert list(by_record_number) == [patients[4321]]
    assert "patient_study_code_trgm" in by_record_number.explain()
