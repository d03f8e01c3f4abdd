"""Study-defined outcomes: entered on the visit form, imported from CSV after a dry run, analysed like any outcome."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from patients.models import StudyOutcome, VisitOutcomeValue

from .conftest import record_visit

IMPORT = "/studies/FACE-1/outcomes/import/"


@pytest.fixture
def qol(study):
    return StudyOutcome.objects.create(
        study=study, code="qol", name="Quality of life", unit="points", min_value=0, max_value=100
    )


def _csv(*lines):
    return SimpleUploadedFile("values.csv", ("study_code,visit,outcome,value\n" + "\n".join(lines)).encode())


def test_coordinator_enters_a_value_on_the_visit_form(login, coordinator_a, trial, qol):
    patient = trial.patient("bont-a")
    client = login(coordinator_a)
    form = client.get(f"/patients/{patient.pk}/visits/new/").content.decode()
    assert "Quality of life (points)" in form
    response = client.post(
        f"/patients/{patient.pk}/visits/new/",
        {"scheduled_visit": patient.study.schedule.get(code="baseline").pk,
         "date_performed": patient.enrollment_date.isoformat(), "outcome_qol": "62.5"},
    )  # fmt: skip
    assert response.status_code == 302
    assert VisitOutcomeValue.objects.get().value == Decimal("62.5")


def test_out_of_range_value_is_refused_beside_the_field(login, coordinator_a, trial, qol):
    patient = trial.patient("bont-a")
    response = login(coordinator_a).post(
        f"/patients/{patient.pk}/visits/new/",
        {"scheduled_visit": patient.study.schedule.get(code="baseline").pk,
         "date_performed": patient.enrollment_date.isoformat(), "outcome_qol": "140"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "less than or equal to 100" in response.content.decode()
    assert not patient.visits.exists() and not VisitOutcomeValue.objects.exists()


def test_correction_on_the_edit_form_keeps_the_old_value_in_history(login, coordinator_a, trial, qol):
    patient = trial.patient("bont-a")
    visit = record_visit(patient, "baseline", by=coordinator_a)
    VisitOutcomeValue.objects.create(visit=visit, outcome=qol, value=50, created_by=coordinator_a)
    response = login(coordinator_a).post(
        f"/patients/{patient.pk}/visits/{visit.pk}/edit/",
        {"date_performed": visit.date_performed.isoformat(), "outcome_qol": "55", "reason": "Transcription error"},
    )
    assert response.status_code == 302
    record = VisitOutcomeValue.objects.get()
    assert record.value == Decimal("55")
    assert record.history.first().history_change_reason == "Transcription error"


def test_dry_run_lists_every_refused_row_and_writes_nothing(login, data_manager, coordinator_a, trial, qol):
    patient = trial.patient("bont-a")
    record_visit(patient, "baseline", by=coordinator_a)
    code = patient.study_code
    lines = [
        f"{code},baseline,qol,70",
        "XXX-999,baseline,qol,1",
        f"{code},week-12,qol,3",
        f"{code},baseline,mood,3",
        f"{code},baseline,qol,101",
        f"{code},baseline,qol,",
    ]
    response = login(data_manager).post(IMPORT, {"action": "check", "file": _csv(*lines)})
    page = response.content.decode()
    assert response.status_code == 400
    for text in ("Line 3: no patient XXX-999", "Line 4:", "has no recorded visit", "Line 5: unknown outcome",
                 "Line 6:", "outside the allowed range", "Line 7: missing value"):  # fmt: skip
        assert text in page
    assert not VisitOutcomeValue.objects.exists()


def test_import_after_a_clean_dry_run(login, data_manager, coordinator_a, trial, qol):
    patient = trial.patient("bont-a")
    record_visit(patient, "baseline", by=coordinator_a)
    client = login(data_manager)
    checked = client.post(IMPORT, {"action": "check", "file": _csv(f"{patient.study_code},baseline,qol,70")})
    assert checked.status_code == 200 and "All 1 row(s) pass" in checked.content.decode()
    assert not VisitOutcomeValue.objects.exists()
    done = client.post(IMPORT, {"action": "import", "csv_text": checked.context["csv_text"]})
    assert done.status_code == 302
    assert VisitOutcomeValue.objects.get().value == Decimal("70")
    again = client.post(IMPORT, {"action": "import", "csv_text": checked.context["csv_text"]})
    assert "already has qol" in again.content.decode() and VisitOutcomeValue.objects.count() == 1


def test_bad_header_is_explained(login, data_manager, qol):
    file = SimpleUploadedFile("v.csv", b"patient,value\nLON-001,3\n")
    response = login(data_manager).post(IMPORT, {"action": "check", "file": file})
    assert response.status_code == 400 and "study_code, visit, outcome, value" in response.content.decode()


def test_only_data_managers_import(login, investigator, coordinator_a, qol):
    assert login(investigator).get(IMPORT).status_code == 403
    assert login(coordinator_a).get(IMPORT).status_code == 403


def test_study_outcomes_enter_the_summary(login, investigator, coordinator_a, trial, qol):
    for arm, before, after in (("bont-a", 40, 70), ("bont-a", 50, 75), ("control", 45, 50), ("control", 55, 52)):
        patient = trial.patient(arm)
        for code, value in (("baseline", before), ("week-12", after)):
            visit = record_visit(patient, code, by=coordinator_a)
            VisitOutcomeValue.objects.create(visit=visit, outcome=qol, value=value, created_by=coordinator_a)
    body = (
        login(investigator)
        .get("/api/v1/studies/FACE-1/summary/", {"metric": "outcome:qol", "expression": "rest"})
        .json()
    )
    assert {k: body["metric"][k] for k in ("name", "label", "unit", "ordinal")} == {
        "name": "outcome:qol",
        "label": "Quality of life",
        "unit": "points",
        "ordinal": False,
    }
    assert body["expression"] is None, "a study-defined outcome belongs to the visit: the expression is ignored"
    week12 = next(v for v in body["visits"] if v["code"] == "week-12")
    assert week12["arms"]["bont-a"]["mean"] == 72.5
    assert week12["comparison"]["difference_in_change"]["estimate"] == pytest.approx(27.5 - 1)
    dataset = login(investigator).get("/studies/FACE-1/outcomes/files/dataset.csv")
    assert b"outcome:qol" in b"".join(dataset.streaming_content)
