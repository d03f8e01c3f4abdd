"""The coordinator's scale form at a visit: reached from the patient page, scores computed on save
without JavaScript, a bad answer refused naming the item (nothing saved, nothing lost), incomplete
saved as incomplete; the patient page shows each visit's totals, "incomplete", or "entered without items"."""

import pytest
from django.urls import reverse

from patients import services
from patients.models import ScaleAssessment
from tests.patients.test_scale_assessments import SB_WORKED


@pytest.fixture
def visit(patient_a, coordinator_a):
    return services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
        sunnybrook_composite=40,
    )


def _url(visit, scale):
    return reverse("visit_scale", args=[visit.patient_id, visit.pk, scale])


def _posted(responses):
    return {code: str(value) for code, value in responses.items()}


def test_the_patient_page_links_each_scale_and_marks_a_typed_composite(login, coordinator_a, visit):
    page = login(coordinator_a).get(reverse("patient_detail", args=[visit.patient_id])).content.decode()
    assert _url(visit, "sunnybrook") in page and _url(visit, "eface") in page
    assert "Sunnybrook: 40 (entered without items)" in page
    assert "eFACE: —" in page


def test_the_form_shows_each_item_s_wording_and_choices(login, coordinator_a, visit):
    page = login(coordinator_a).get(_url(visit, "sunnybrook")).content.decode()
    assert "Resting symmetry: cheek (nasolabial fold)" in page
    assert "less pronounced (1)" in page and 'type="radio"' in page
    eface_page = login(coordinator_a).get(_url(visit, "eface")).content.decode()
    assert 'name="ef_brow_rest"' in eface_page and 'min="0"' in eface_page and 'max="200"' in eface_page


def test_saving_without_javascript_computes_the_scores(login, coordinator_a, visit):
    client = login(coordinator_a)
    response = client.post(_url(visit, "sunnybrook"), _posted(SB_WORKED), follow=True)
    assert response.redirect_chain[-1][0] == reverse("patient_detail", args=[visit.patient_id])
    page = response.content.decode()
    assert "composite 36" in page and "Sunnybrook: 36" in page
    assert "entered without items" not in page  # the graded items replace the typed number on the page
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == 40  # kept as typed, never recomputed
    assert client.get(_url(visit, "sunnybrook")).content.decode().count('data-score="composite">36<') == 1


def test_an_out_of_range_item_is_refused_naming_it_and_the_other_answers_stay(login, coordinator_a, visit):
    response = login(coordinator_a).post(_url(visit, "eface"), {"ef_brow_rest": "201", "ef_gentle_eye_closure": "70"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Brow at rest: 201 is outside 0 to 200." in page
    assert 'value="70"' in page  # what was typed is not lost
    assert not ScaleAssessment.objects.exists()
    response = login(coordinator_a).post(_url(visit, "sunnybrook"), {"sb_movement_snarl": "6"})
    assert "Voluntary movement: Snarl: 6 is not one of the allowed answers." in response.content.decode()


def test_an_incomplete_scale_is_saved_as_incomplete(login, coordinator_a, visit):
    client = login(coordinator_a)
    response = client.post(_url(visit, "eface"), {"ef_brow_rest": "100"}, follow=True)
    assert "eFACE: incomplete" in response.content.decode()
    assessment = ScaleAssessment.objects.get()
    assert (assessment.complete, assessment.total, assessment.responses) == (False, None, {"ef_brow_rest": 100})


def test_a_correction_needs_a_reason_and_is_audited(login, coordinator_a, visit):
    client = login(coordinator_a)
    client.post(_url(visit, "sunnybrook"), _posted(SB_WORKED))
    changed = _posted(SB_WORKED | {"sb_rest_cheek": "normal"})
    response = client.post(_url(visit, "sunnybrook"), changed)
    assert response.status_code == 200 and "Give a reason" in response.content.decode()
    client.post(_url(visit, "sunnybrook"), changed | {"reason": "Fold misread"})
    assessment = ScaleAssessment.objects.get()
    assert assessment.total == 46
    assert assessment.history.latest("history_id").history_change_reason == "Fold misread"


def test_a_scale_the_study_does_not_record_is_not_offered(login, coordinator_a, visit):
    study = visit.patient.study
    study.scales = ["house_brackmann", "sunnybrook"]
    study.save()
    client = login(coordinator_a)
    assert client.get(_url(visit, "eface")).status_code == 404
    assert _url(visit, "eface") not in client.get(reverse("patient_detail", args=[visit.patient_id])).content.decode()


def test_another_site_s_coordinator_cannot_open_the_form(login, coordinator_b, visit):
    assert login(coordinator_b).get(_url(visit, "sunnybrook")).status_code in (403, 404)


def test_data_managers_read_the_gradings_in_the_admin_but_never_edit_them(login, data_manager, coordinator_a, visit):
    graded = services.visit_scale_record(
        visit=visit, scale="sunnybrook", responses={"sb_rest_eye": "wide"}, by=coordinator_a
    )
    client = login(data_manager)
    listing = client.get(reverse("admin:patients_scaleassessment_changelist"))
    assert listing.status_code == 200 and str(visit) in listing.content.decode()
    response = client.post(
        reverse("admin:patients_scaleassessment_change", args=[graded.pk]), {"responses": "{}", "total": "100"}
    )
    assert response.status_code == 403
    graded.refresh_from_db()
    assert (graded.responses, graded.total) == ({"sb_rest_eye": "wide"}, None)
    assert client.get(reverse("admin:patients_scaleassessment_history", args=[graded.pk])).status_code == 200
