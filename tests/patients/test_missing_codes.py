"""Missing-data codes (issue 20): an expected item of a visit marked missing with a code and a reason."""

import pytest
from django.core.exceptions import ValidationError

from measurements import services as photo_services
from patients import services
from patients.missing_codes import MissingItem
from patients.models import RecordStatus
from tests.conftest import make_patient, record_treatment
from tests.measurements.files import noise_jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(site_a, coordinator_a, bont_arm, data_manager, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    patient = make_patient(site_a, coordinator_a)
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    visit, _ = record_treatment(patient, coordinator_a)
    return visit


@pytest.fixture
def pain(study, data_manager):
    return services.study_outcome_define(
        study=study, code="pain", name="Pain", unit="points", min_value=0, max_value=10, by=data_manager
    )


def _upload(visit, by, *, seed):
    return photo_services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(seed=seed), filename="rest.jpg", by=by
    )


def _mark(visit, by, kind="grade", item="sunnybrook_composite", code="declined", reason=""):
    return services.missing_item_record(visit=visit, item_kind=kind, item_code=item, code=code, reason=reason, by=by)


def test_a_grade_an_outcome_and_a_photo_can_each_be_marked_missing_with_an_audited_reason(visit, coordinator_a, pain):
    grade = _mark(visit, coordinator_a)
    outcome = _mark(visit, coordinator_a, kind="outcome", item="pain", code="lost_to_follow_up")
    photo = _mark(visit, coordinator_a, kind="photo", item="smile_open", code="other", reason="Camera broke")
    assert {(m.item_kind, m.item_code, m.code) for m in MissingItem.objects.all()} == {
        ("grade", "sunnybrook_composite", "declined"),
        ("outcome", "pain", "lost_to_follow_up"),
        ("photo", "smile_open", "other"),
    }
    (record,) = photo.history.all()
    assert record.history_user == coordinator_a and record.history_change_reason == "Marked missing: Other"
    assert grade.history.get().history_change_reason == "Marked missing: Asked but declined"
    assert outcome.status == RecordStatus.RECORDED


def test_other_needs_a_reason_and_an_item_is_marked_once(visit, coordinator_a):
    with pytest.raises(ValidationError, match="needs a reason"):
        _mark(visit, coordinator_a, code="other")
    _mark(visit, coordinator_a)
    with pytest.raises(ValidationError, match="already marked missing"):
        _mark(visit, coordinator_a, code="not_done")
    assert MissingItem.objects.count() == 1


def test_an_item_with_a_value_or_not_expected_is_refused(visit, coordinator_a, pain):
    services.visit_update(visit=visit, by=coordinator_a, reason="Graded", sunnybrook_composite=60)
    services.visit_outcomes_record(visit=visit, by=coordinator_a, values={pain: "4"})
    photo_services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(seed=3), filename="r.jpg", by=coordinator_a
    )
    for kind, item in (("grade", "sunnybrook_composite"), ("outcome", "pain"), ("photo", "rest")):
        with pytest.raises(ValidationError, match="has a value at this visit"):
            _mark(visit, coordinator_a, kind=kind, item=item)
    with pytest.raises(ValidationError, match="not an item this visit expects"):
        _mark(visit, coordinator_a, kind="outcome", item="no-such-outcome")
    assert not MissingItem.objects.exists()


def test_recording_the_value_later_voids_the_code_with_a_recorded_reason(visit, coordinator_a, pain):
    grade = _mark(visit, coordinator_a)
    outcome = _mark(visit, coordinator_a, kind="outcome", item="pain")
    photo = _mark(visit, coordinator_a, kind="photo", item="rest")
    services.visit_update(visit=visit, by=coordinator_a, reason="Graded after all", sunnybrook_composite=55)
    services.visit_outcomes_record(visit=visit, by=coordinator_a, values={pain: "4"})
    photo_services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(seed=4), filename="r.jpg", by=coordinator_a
    )
    for item in (grade, outcome, photo):
        item.refresh_from_db()
        assert (item.status, item.void_reason) == (RecordStatus.VOIDED, "value recorded")
        assert item.history.latest().history_change_reason == "Voided: value recorded"
    assert MissingItem.objects.count() == 3  # voided, never deleted


def test_a_code_is_withdrawn_by_voiding_with_a_reason(visit, coordinator_a):
    item = _mark(visit, coordinator_a)
    with pytest.raises(ValidationError):
        services.missing_item_void(item=item, by=coordinator_a, reason=" ")
    services.missing_item_void(item=item, by=coordinator_a, reason="It was done; form on paper")
    item.refresh_from_db()
    assert item.status == RecordStatus.VOIDED and item.history.count() == 2
    _mark(visit, coordinator_a, code="not_done")  # the item can be coded again


def test_the_patient_page_links_to_mark_missing_and_shows_the_code(login, visit, coordinator_a):
    client = login(coordinator_a)
    page = client.get(visit.patient.get_absolute_url()).content.decode()
    link = f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/?item=grade:sunnybrook_composite"
    assert link in page
    form = client.get(link)
    assert form.status_code == 200 and "Photo: Rest" in form.content.decode()
    response = client.post(
        f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/",
        {"item": "grade:sunnybrook_composite", "code": "declined", "reason": ""},
    )
    assert response.status_code == 302
    page = client.get(visit.patient.get_absolute_url()).content.decode()
    assert "Missing: asked but declined" in page and link not in page
    item = MissingItem.objects.get()
    assert f"/patients/{visit.patient.pk}/missing/{item.pk}/void/" in page


def test_the_form_shows_a_refusal_beside_the_reason_and_saves_nothing(login, visit, coordinator_a):
    response = login(coordinator_a).post(
        f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/",
        {"item": "grade:house_brackmann", "code": "other", "reason": ""},
    )
    assert response.status_code == 200 and "needs a reason" in response.content.decode()
    assert not MissingItem.objects.exists()


def test_another_sites_coordinator_cannot_mark_missing(login, visit, coordinator_b, investigator):
    url = f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/"
    assert login(coordinator_b).get(url).status_code == 404
    assert login(investigator).get(url).status_code in (403, 404)


def test_the_missing_data_report_shows_the_code_instead_of_the_gap(login, visit, coordinator_a):
    _mark(visit, coordinator_a)
    _mark(visit, coordinator_a, kind="photo", item="rest", code="not_applicable")
    (row,) = login(coordinator_a).get("/missing-data/").context["report"].visits
    assert "Sunnybrook composite" not in row.missing and "Photo: Rest" not in row.missing
    assert "House–Brackmann grade" in row.missing
    assert "Sunnybrook composite: asked but declined" in row.coded
    assert "Photo: Rest: not applicable" in row.coded


def test_the_patient_history_shows_the_code_and_hides_the_reason_from_the_investigator(
    login, visit, coordinator_a, investigator
):
    _mark(visit, coordinator_a, code="other", reason="Daughter Jane declined for her")
    url = f"/patients/{visit.patient.pk}/history/"
    mine = login(coordinator_a).get(url).content.decode()
    assert "Missing-data code" in mine and "Daughter Jane declined" in mine
    theirs = login(investigator).get(url).content.decode()
    assert "Missing-data code" in theirs and "Daughter Jane" not in theirs


def test_a_grade_the_data_manager_enters_in_the_admin_voids_its_code(client, visit, coordinator_a, data_manager):
    from tests.patients.admin_forms import change_form_data

    item = _mark(visit, coordinator_a)
    client.force_login(data_manager)
    url = f"/admin/patients/visit/{visit.pk}/change/"
    response = client.post(
        url, change_form_data(client, url, sunnybrook_composite="40", change_reason="Found the paper form")
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.void_reason) == (RecordStatus.VOIDED, "value recorded")
    # The data manager reads every code of their studies, read only.
    listing = client.get("/admin/patients/missingitem/")
    assert listing.status_code == 200 and "sunnybrook_composite" in listing.content.decode()
    assert client.get(f"/admin/patients/missingitem/{item.pk}/change/").status_code == 200  # the view page


def test_each_missing_photo_on_the_patient_page_has_a_mark_missing_link_and_then_its_code(login, visit, coordinator_a):
    client = login(coordinator_a)
    link = f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/?item=photo:smile_open"
    assert link in client.get(visit.patient.get_absolute_url()).content.decode()
    _mark(visit, coordinator_a, kind="photo", item="smile_open", code="not_applicable")
    page = client.get(visit.patient.get_absolute_url()).content.decode()
    assert link not in page and "Missing: not applicable" in page


def test_a_study_outcome_without_a_value_has_its_mark_missing_link_on_the_timeline(login, visit, coordinator_a, pain):
    client = login(coordinator_a)
    link = f"/patients/{visit.patient.pk}/visits/{visit.pk}/missing/?item=outcome:pain"
    assert link in client.get(visit.patient.get_absolute_url()).content.decode()
    _mark(visit, coordinator_a, kind="outcome", item="pain", code="unknown")
    page = client.get(visit.patient.get_absolute_url()).content.decode()
    assert link not in page and "Outcome pain: unknown" in page


def test_an_imported_outcome_value_voids_its_code(visit, coordinator_a, data_manager, pain):
    item = _mark(visit, coordinator_a, kind="outcome", item="pain", code="not_done")
    other = _mark(visit, coordinator_a)  # a grade's code: the import leaves it alone
    row = {"study_code": visit.patient.study_code, "visit": "baseline", "outcome": "pain", "value": "5"}
    assert services.outcome_values_import(study=visit.patient.study, rows=[row], by=data_manager, dry_run=False) == []
    item.refresh_from_db()
    other.refresh_from_db()
    assert (item.status, item.void_reason) == (RecordStatus.VOIDED, "value recorded")
    assert other.status == RecordStatus.RECORDED
