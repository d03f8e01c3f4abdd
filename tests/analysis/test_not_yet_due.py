"""Visits whose window has not closed are "not yet due", apart from the missed: one rule
(analysis.selectors.not_yet_due) in the summary, the page, the downloads and the CONSORT flow."""

import csv
import io
from datetime import timedelta

from django.utils import timezone

from analysis.consort import consort_counts
from analysis.selectors import not_yet_due, outcome_table, study_schedule
from analysis.summary import outcome_summary
from patients import services

from .conftest import record_visit

QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed"}


def _arm(summary, visit, arm="bont-a"):
    return next(v for v in summary["visits"] if v["code"] == visit)["arms"][arm]


def test_a_patient_enrolled_today_is_not_yet_due_not_missing(study, trial, coordinator_a):
    trial.measured("bont-a", {"baseline": 3.0, "week-12": 1.0})  # enrolled 200 days ago, week 2 and 4 missed
    today = trial.patient("bont-a", enrolled_days_ago=0)
    summary = outcome_summary(study, **QUERY)
    for visit in ("baseline", "week-2", "week-4", "week-12", "week-24"):
        counted = _arm(summary, visit)
        assert counted["not_yet_due"] == 1, (visit, counted)
    assert (_arm(summary, "week-2")["missing"], _arm(summary, "week-12")["missing"]) == (1, 0)
    assert _arm(summary, "week-24")["missing"] == 1, "the older patient's week 24 window closed unrecorded"
    # Once the baseline is recorded it is no longer waiting; week 2 still is.
    record_visit(today, "baseline", by=coordinator_a)
    summary = outcome_summary(study, **QUERY)
    assert _arm(summary, "baseline")["not_yet_due"] == 0 and _arm(summary, "baseline")["missing"] == 1
    assert _arm(summary, "week-2")["not_yet_due"] == 1


def test_a_withdrawn_patient_is_missing_whatever_the_window(study, trial, coordinator_a):
    patient = trial.patient("control", enrolled_days_ago=0)
    services.patient_withdraw(patient=patient, by=coordinator_a, reason="Moved away")
    summary = outcome_summary(study, **QUERY)
    assert (_arm(summary, "week-12", "control")["not_yet_due"], _arm(summary, "week-12", "control")["missing"]) == (
        0,
        1,
    )


def test_the_count_follows_the_calendar_not_a_cached_day(study, trial, monkeypatch):
    trial.patient("bont-a", enrolled_days_ago=0)
    assert _arm(outcome_summary(study, **QUERY), "week-2")["not_yet_due"] == 1
    later = timezone.localdate() + timedelta(days=60)
    monkeypatch.setattr(timezone, "localdate", lambda *args: later)
    summary = outcome_summary(study, **QUERY)
    assert (_arm(summary, "week-2")["not_yet_due"], _arm(summary, "week-2")["missing"]) == (0, 1)
    assert _arm(summary, "week-12")["not_yet_due"] == 1


def test_the_rule_reads_the_visit_windows(study, trial):
    # Enrolled 89 days ago: week 12 (day 84, window to day 91) is overdue, still open; week 4 closed.
    patient = trial.patient("bont-a", enrolled_days_ago=89)
    table = outcome_table(study, expressions=["smile_closed"], metrics=["commissure_height_deviation_mm"])
    waiting = not_yet_due(table, study_schedule(study), today=timezone.localdate())
    assert {code for code, ids in waiting.items() if patient.pk in ids} == {"week-12", "week-24"}


def test_consort_boxes_add_up_per_arm(login, investigator, study, trial):
    for base, follow in ((3.5, 1.5), (3.0, 1.0)):
        trial.measured("bont-a", {"baseline": base, "week-12": follow})
    trial.measured("control", {"baseline": 3.0, "week-12": 2.8})
    trial.measured("control", {"baseline": 3.0})  # week 12 missed
    trial.patient("control", enrolled_days_ago=0)  # follow-up in progress
    summary = outcome_summary(study, **QUERY)
    arms = _arm(summary, "week-12", "control")
    flow = consort_counts(study, analysed={"control": arms["n"]}, not_yet_due={"control": arms["not_yet_due"]})
    control = next(a for a in flow["arms"] if a["code"] == "control")
    assert (control["randomized"], control["analysed"], control["follow_up_in_progress"]) == (3, 1, 1)
    assert control["not_analysed"] == 1
    assert control["analysed"] + control["follow_up_in_progress"] + control["not_analysed"] == control["randomized"]

    client = login(investigator)
    page = client.get("/studies/FACE-1/outcomes/", {**QUERY, "visit": "week-12"}).content.decode()
    assert "Follow-up in progress" in page and "Not yet due" in page
    svg = client.get("/studies/FACE-1/outcomes/files/consort.svg", {**QUERY, "visit": "week-12"}).content.decode()
    assert "Follow-up in progress at Week 12" in svg
    per_arm = list(
        csv.DictReader(io.StringIO(client.get("/studies/FACE-1/outcomes/files/per_arm.csv", QUERY).content.decode()))
    )
    row = next(r for r in per_arm if r["visit_code"] == "week-12" and r["arm"] == "Control")
    assert (row["n"], row["not_yet_due"], row["missing"]) == ("1", "1", "1")
