"""The eligibility checklist: criteria per study, answered per patient (who, when, audited), and
randomization refused until it passes (issue 21: what REDCap or Castor coordinators expect)."""

import pytest
from django.core.exceptions import ValidationError

from patients import history, services
from patients.eligibility_models import EligibilityAnswer
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def criteria(study, data_manager):
    return {
        "adult": services.eligibility_criterion_define(
            study=study, kind="inclusion", text="Aged 18 or over", by=data_manager
        ),
        "pregnant": services.eligibility_criterion_define(
            study=study, kind="exclusion", text="Pregnant or breastfeeding", by=data_manager
        ),
    }


def _answers(criteria, *, adult=True, pregnant=False):
    return {criteria["adult"].pk: adult, criteria["pregnant"].pk: pregnant}


def test_randomization_waits_for_the_checklist(patient_a, coordinator_a, criteria):
    with pytest.raises(ValidationError, match="Complete the eligibility checklist"):
        services.patient_randomize(patient=patient_a, by=coordinator_a)
    services.patient_eligibility_record(patient=patient_a, by=coordinator_a, answers=_answers(criteria))
    assert services.patient_randomize(patient=patient_a, by=coordinator_a) is not None


def test_a_patient_who_fails_a_criterion_is_not_randomized(patient_a, coordinator_a, criteria):
    services.patient_eligibility_record(patient=patient_a, by=coordinator_a, answers=_answers(criteria, pregnant=True))
    with pytest.raises(ValidationError, match="not eligible \\(Pregnant or breastfeeding\\)"):
        services.patient_randomize(patient=patient_a, by=coordinator_a)
    patient_a.refresh_from_db()
    assert patient_a.arm is None


def test_every_criterion_must_be_answered(patient_a, coordinator_a, criteria):
    with pytest.raises(ValidationError, match="not answered: Pregnant or breastfeeding"):
        services.patient_eligibility_record(patient=patient_a, by=coordinator_a, answers={criteria["adult"].pk: True})
    assert not EligibilityAnswer.objects.exists()


def test_coordinator_answers_the_checklist_on_its_page(login, coordinator_a, patient_a, criteria):
    client = login(coordinator_a)
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "Not completed" in page and f"/patients/{patient_a.pk}/eligibility/" in page
    randomize = client.get(f"/patients/{patient_a.pk}/randomize/").content.decode()
    assert "Complete the eligibility checklist" in randomize and "Randomize now" not in randomize

    form = client.get(f"/patients/{patient_a.pk}/eligibility/").content.decode()
    assert "Aged 18 or over" in form and "Exclusion criteria: none may apply" in form
    refused = client.post(f"/patients/{patient_a.pk}/eligibility/", {f"criterion_{criteria['adult'].pk}": "yes"})
    assert "Answer yes or no." in refused.content.decode()
    response = client.post(
        f"/patients/{patient_a.pk}/eligibility/",
        {f"criterion_{criteria['adult'].pk}": "yes", f"criterion_{criteria['pregnant'].pk}": "no"},
    )
    assert response.status_code == 302
    answer = EligibilityAnswer.objects.get(patient=patient_a, criterion=criteria["adult"])
    assert answer.holds and answer.answered_by == coordinator_a and answer.answered_at
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "Eligible" in page and "Last answered by" in page
    assert "Randomize now" in client.get(f"/patients/{patient_a.pk}/randomize/").content.decode()


def test_changing_an_answer_needs_a_reason_and_stays_in_the_history(login, coordinator_a, patient_a, criteria):
    services.patient_eligibility_record(patient=patient_a, by=coordinator_a, answers=_answers(criteria))
    client = login(coordinator_a)
    changed = {f"criterion_{criteria['adult'].pk}": "yes", f"criterion_{criteria['pregnant'].pk}": "yes"}
    refused = client.post(f"/patients/{patient_a.pk}/eligibility/", changed)
    assert "Give a reason for changing an answer" in refused.content.decode()
    assert not EligibilityAnswer.objects.get(criterion=criteria["pregnant"]).holds
    assert (
        client.post(f"/patients/{patient_a.pk}/eligibility/", {**changed, "reason": "Told us today"}).status_code == 302
    )
    entries = history.patient_history(patient_a, with_identifiers=True)
    pregnant = [e for e in entries if e.subject == "Eligibility: Pregnant or breastfeeding"]
    assert [e.action for e in pregnant] == ["changed", "created"]
    assert pregnant[0].reason == "Told us today"


def test_other_sites_coordinator_cannot_answer(login, coordinator_b, patient_a, criteria):
    response = login(coordinator_b).get(f"/patients/{patient_a.pk}/eligibility/")
    assert response.status_code == 404


def test_a_study_without_criteria_randomizes_as_before(site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a)
    assert services.patient_randomize(patient=patient, by=coordinator_a) is not None


def test_the_demo_study_has_a_checklist_its_patients_pass(settings, tmp_path):
    from analysis import demo_trial

    settings.VAR_DIR = tmp_path
    study = demo_trial.seed_demo_trial(patients=4, photos=False).study
    criteria = list(study.eligibility_criteria.all())
    assert {c.kind for c in criteria} == {"inclusion", "exclusion"} and len(criteria) >= 6
    for patient in study.patients.select_related("identifiers"):
        assert services.patient_eligibility(patient).passed
        # What the checklist says holds in the records too.
        born, consent = patient.identifiers.date_of_birth, patient.consent_date
        assert consent.year - born.year - ((consent.month, consent.day) < (born.month, born.day)) >= 18
        assert patient.months_since_onset >= 6 and 2 <= patient.baseline_house_brackmann <= 5


def test_data_manager_defines_a_criterion_in_the_admin_and_its_wording_locks_once_answered(
    client, data_manager, study, patient_a, coordinator_a
):
    client.force_login(data_manager)
    response = client.post(
        "/admin/patients/eligibilitycriterion/add/",
        {"study": study.pk, "kind": "inclusion", "text": "Aged 18 or over", "order": "0", "active": "on",
         "change_reason": "Protocol v1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    criterion = study.eligibility_criteria.get()
    assert criterion.history.get().history_change_reason == "Protocol v1"
    services.patient_eligibility_record(patient=patient_a, by=coordinator_a, answers={criterion.pk: True})
    form = client.get(f"/admin/patients/eligibilitycriterion/{criterion.pk}/change/").context["adminform"].form
    assert "text" not in form.fields and "kind" not in form.fields  # shown read-only
