"""Missing-coded items in the outcome tables (issue 20): excluded under their code, never a value."""

import math

import pytest

from analysis.selectors import outcome_table
from patients import services

from .conftest import record_visit

pytestmark = pytest.mark.django_db

DEV = "commissure_height_deviation_mm"


def _mark(visit, by, kind, item, code):
    return services.missing_item_record(visit=visit, item_kind=kind, item_code=item, code=code, reason="", by=by)


def test_a_coded_photo_is_excluded_under_its_code_not_as_no_photo(study, trial, coordinator_a):
    patient = trial.measured("bont-a", {"baseline": 2.0, "week-12": None})
    week_12 = patient.visits.get(scheduled_visit__code="week-12")
    _mark(week_12, coordinator_a, "photo", "smile_closed", "declined")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    reasons = {e["reason"]: e for e in table.exclusions(DEV)}
    assert reasons["missing:declined"]["rows"] == 1
    assert reasons["missing:declined"]["label"] == "Missing: asked but declined"
    assert "no_photo" not in reasons
    assert table.included[DEV].notna().sum() == 1  # the baseline only: the code is no value


def test_a_coded_grade_and_study_outcome_count_in_the_exclusions_under_their_code(
    study, trial, coordinator_a, data_manager
):
    services.study_outcome_define(
        study=study, code="pain", name="Pain", unit="points", min_value=0, max_value=10, by=data_manager
    )
    patient = trial.patient("bont-a")
    visit = record_visit(patient, "baseline", by=coordinator_a, house_brackmann=3)
    _mark(visit, coordinator_a, "grade", "sunnybrook_composite", "lost_to_follow_up")
    _mark(visit, coordinator_a, "outcome", "pain", "not_done")
    table = outcome_table(study, expressions=[], metrics=["sunnybrook_composite", "outcome:pain", "house_brackmann"])
    sunnybrook = {e["reason"]: e for e in table.exclusions("sunnybrook_composite")}
    assert sunnybrook["missing:lost_to_follow_up"] | {"label": ""} == {
        "reason": "missing:lost_to_follow_up",
        "label": "",
        "rows": 1,
        "patients": 1,
    }
    assert {e["reason"] for e in table.exclusions("outcome:pain")} == {"missing:not_done"}
    assert table.exclusions("house_brackmann") == []  # graded: nothing excluded
    assert math.isnan(table.rows["sunnybrook_composite"].iloc[0])  # never a zero


def test_the_outcomes_page_lists_the_code_in_its_exclusions(login, investigator, study, trial, coordinator_a):
    for _ in range(2):
        patient = trial.measured("bont-a", {"baseline": 2.0, "week-12": None})
        week_12 = patient.visits.get(scheduled_visit__code="week-12")
        _mark(week_12, coordinator_a, "photo", "smile_closed", "declined")
    trial.measured("control", {"baseline": 2.5, "week-12": 2.0})
    page = (
        login(investigator)
        .get("/studies/FACE-1/outcomes/", {"metric": DEV, "expression": "smile_closed", "visit": "week-12"})
        .content.decode()
    )
    assert "Missing: asked but declined" in page
