"""The coordinator's report of missing forms and photos, visit by visit (issue 21)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from measurements import services as photo_services
from measurements.models import Expression, Photo
from patients import services
from patients.grading.eface import EFACE
from patients.models import StudyOutcome
from tests.conftest import make_patient, record_treatment
from tests.measurements.files import noise_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def treated(site_a, coordinator_a, bont_arm, data_manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    patient = make_patient(site_a, coordinator_a)
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    visit, _ = record_treatment(patient, coordinator_a)
    return patient, visit


EFACE_BALANCED = {item.code: 100 for item in EFACE.items}


def _upload(visit, by, expression, seed):
    return photo_services.photo_upload(
        visit=visit, expression=expression, data=noise_jpeg(seed=seed), filename=f"{expression}.jpg", by=by
    )


def test_each_visit_lists_the_grades_outcomes_and_photos_it_lacks(login, coordinator_a, treated, study):
    patient, visit = treated
    StudyOutcome.objects.create(study=study, code="face", name="FaCE scale", unit="points", min_value=0, max_value=100)
    services.visit_update(visit=visit, by=coordinator_a, reason="Graded", house_brackmann=3)
    _upload(visit, coordinator_a, "rest", 1)
    failed = _upload(visit, coordinator_a, "pucker", 2)
    Photo.objects.filter(pk=failed.pk).update(
        status=Photo.Status.FAILED, failure_code="no_face", failure_reason="No face found (test photo)."
    )

    response = login(coordinator_a).get("/missing-data/")
    assert response.status_code == 200
    (row,) = response.context["report"].visits
    assert row.visit == visit
    assert "House–Brackmann grade" not in row.missing  # graded
    assert "Sunnybrook" in row.missing and "eFACE" in row.missing and "FaCE scale" in row.missing
    assert "Photo: Rest" not in row.missing
    assert "Photo to retake: Pucker (“ooo”)" in row.missing
    assert f"Photo: {Expression.SMILE_OPEN.label}" in row.missing
    page = response.content.decode()
    assert patient.study_code in page and "Photo: Brow raise" in page


def test_a_complete_visit_is_not_listed(login, coordinator_a, treated):
    _, visit = treated
    services.visit_update(visit=visit, by=coordinator_a, reason="Graded", house_brackmann=3, sunnybrook_composite=60)
    services.visit_scale_record(visit=visit, scale="eface", responses=EFACE_BALANCED, by=coordinator_a)
    for seed, expression in enumerate(Expression.values):
        _upload(visit, coordinator_a, expression, 10 + seed)
    report = login(coordinator_a).get("/missing-data/").context["report"]
    assert report.visits == [] and report.visits_checked == 1


def test_an_incomplete_scale_is_listed_as_missing_and_a_graded_one_is_not(login, coordinator_a, treated):
    _, visit = treated
    services.visit_scale_record(visit=visit, scale="sunnybrook", responses={"sb_rest_eye": "normal"}, by=coordinator_a)
    services.visit_scale_record(visit=visit, scale="eface", responses=EFACE_BALANCED, by=coordinator_a)
    (row,) = login(coordinator_a).get("/missing-data/").context["report"].visits
    assert "Sunnybrook (incomplete)" in row.missing
    assert "eFACE" not in row.missing and "eFACE (incomplete)" not in row.missing


def test_another_sites_coordinator_sees_none_of_these_visits(login, coordinator_b, treated):
    report = login(coordinator_b).get("/missing-data/").context["report"]
    assert report.visits == [] and report.visits_checked == 0


def test_the_report_is_linked_from_the_dashboard_and_costs_fixed_queries(login, coordinator_a, treated, site_a):
    client = login(coordinator_a)
    assert 'href="/missing-data/"' in client.get("/").content.decode()
    with CaptureQueriesContext(connection) as few:
        client.get("/missing-data/")
    for _ in range(3):
        other = make_patient(site_a, coordinator_a)
        services.patient_assign_arm_externally(patient=other, arm=treated[0].arm, by=treated[0].arm_assigned_by,
                                               reason="Test set-up")  # fmt: skip
        other.refresh_from_db()
        record_treatment(other, coordinator_a)
    with CaptureQueriesContext(connection) as many:
        client.get("/missing-data/")
    assert len(many.captured_queries) == len(few.captured_queries)
