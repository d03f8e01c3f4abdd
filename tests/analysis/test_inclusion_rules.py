"""The inclusion rules of docs/analysis.md, one behaviour per test, through outcome_table."""

import math

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.selectors import analysis_engine_version, frame_from_cursor, outcome_table
from measurements.models import Photo
from patients import services
from tests.conftest import make_patient

from .conftest import add_scored_photo, record_visit, score_metrics

DEV = "commissure_height_deviation_mm"
SIGNED = "commissure_height_signed_mm"
AFFECTED = "commissure_height_affected_mm"
UNAFFECTED = "commissure_height_unaffected_mm"


def _values(table, metric=DEV, visit="baseline", expression="smile_closed"):
    rows = table.included
    rows = rows[(rows["visit_code"] == visit) & (rows["expression"] == expression)]
    return sorted(v for v in rows[metric] if not math.isnan(v))


def test_included_values_and_engine_version(study, trial):
    trial.measured("bont-a", {"baseline": 3.5, "week-12": 1.5})
    trial.measured("control", {"baseline": 3.0, "week-12": 2.8})
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert _values(table) == [3.0, 3.5]
    assert _values(table, visit="week-12") == pytest.approx([1.5, 2.8])
    assert table.engine_version == analysis_engine_version(study)
    assert set(table.included["engine_version"]) == {table.engine_version}


def test_mirror_image_patients_get_the_same_oriented_numbers(study, trial):
    trial.measured("bont-a", {"baseline": 2.0}, side="left")
    trial.measured("bont-a", {"baseline": 2.0}, side="right")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[AFFECTED, UNAFFECTED, SIGNED, DEV])
    rows = table.included
    assert list(rows[AFFECTED]) == [22.0, 22.0]
    assert list(rows[UNAFFECTED]) == [20.0, 20.0]
    # Commissure height: affected minus unaffected, positive when the affected corner is lower.
    assert list(rows[SIGNED]) == [2.0, 2.0]


def test_patient_without_affected_side_is_left_out_of_oriented_metrics_and_counted(study, trial):
    patient = trial.measured("bont-a", {"baseline": 2.0})
    # Recorded before the side was a required field: the database can hold an empty side.
    type(patient).objects.filter(pk=patient.pk).update(affected_side="")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[SIGNED, DEV])
    assert math.isnan(table.included[SIGNED].iloc[0])
    assert table.included[DEV].iloc[0] == 2.0  # a deviation needs no side
    reasons = {e["reason"]: e for e in table.exclusions(SIGNED)}
    assert reasons["no_affected_side"]["patients"] == 1
    assert "no_affected_side" not in {e["reason"] for e in table.exclusions(DEV)}
    assert table.side_missing_patients == 1


def test_voided_visit_never_counts(study, trial, coordinator_a):
    patient = trial.measured("bont-a", {"baseline": 2.0, "week-12": 1.0})
    visit = patient.visits.get(scheduled_visit__code="week-12")
    services.visit_void(visit=visit, by=coordinator_a, reason="Wrong patient")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert _values(table, visit="week-12") == []
    assert {e["reason"]: e["rows"] for e in table.exclusions()}["voided_visit"] == 1


def test_withdrawn_patient_counts_up_to_withdrawal(study, trial, coordinator_a):
    patient = trial.measured("bont-a", {"baseline": 2.0, "week-12": 1.0})
    services.patient_withdraw(
        patient=patient,
        by=coordinator_a,
        reason="Moved away",
        withdrawn_on=patient.enrollment_date + pd.Timedelta(days=30).to_pytimedelta(),
    )
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert _values(table) == [2.0]
    assert _values(table, visit="week-12") == []
    assert {e["reason"]: e["patients"] for e in table.exclusions()}["after_withdrawal"] == 1


def test_never_randomized_patients_never_count(study, site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=200)
    visit = record_visit(patient, "baseline", by=coordinator_a)
    add_scored_photo(visit, by=coordinator_a, metrics=score_metrics(20, 22))
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert table.rows.empty
    assert {e["reason"]: e["patients"] for e in table.exclusions()}["not_randomized"] == 1


def test_retake_only_the_current_photo_counts(study, trial, coordinator_a):
    patient = trial.measured("bont-a", {"baseline": 2.0})
    visit = patient.visits.get()
    Photo.objects.filter(visit=visit).update(is_current=False)
    add_scored_photo(visit, by=coordinator_a, metrics=score_metrics(20, 25))
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert _values(table) == [5.0]


def test_failed_gate_is_excluded_and_named(study, trial, coordinator_a):
    patient = trial.patient("bont-a")
    visit = record_visit(patient, "baseline", by=coordinator_a)
    add_scored_photo(visit, by=coordinator_a, status="head_turned")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert table.included.empty
    assert {e["reason"] for e in table.exclusions()} == {"failed:head_turned"}


def test_no_photo_and_not_scored(study, trial, coordinator_a):
    patient = trial.patient("bont-a")
    visit = record_visit(patient, "baseline", by=coordinator_a)
    add_scored_photo(visit, by=coordinator_a, expression="rest", status=None)  # uploaded, waiting
    table = outcome_table(study, expressions=["smile_closed", "rest"], metrics=[DEV])
    assert {(e["reason"], e["rows"]) for e in table.exclusions()} == {("no_photo", 1), ("not_scored", 1)}


def test_rescore_pending_photos_still_count_by_their_score(study, trial):
    # photos_rescore puts scored photos back to "pending"; their PhotoScore rows stay valid.
    trial.measured("bont-a", {"baseline": 2.0})
    Photo.objects.update(status=Photo.Status.PENDING)
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert _values(table) == [2.0]


def test_two_engine_versions_never_mix(study, trial, coordinator_a):
    old = trial.measured("bont-a", {"baseline": 2.0})
    photo = Photo.objects.get(patient=old)
    photo.scores.update(engine_version="1.0.9")
    # A newer version, numerically (1.10.0 > 1.9.0 although "1.10.0" < "1.9.0" as text).
    photo.scores.create(engine_version="1.10.0", model_version="t", status="scored", metrics=score_metrics(20, 23))
    other = trial.patient("control")
    visit = record_visit(other, "baseline", by=coordinator_a)
    add_scored_photo(visit, by=coordinator_a, metrics=score_metrics(20, 21), engine_version="1.9.0")
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV])
    assert table.engine_version == "1.10.0"
    assert _values(table) == [3.0]
    assert {e["reason"] for e in table.exclusions()} == {"not_scored"}


def test_a_newer_version_in_another_study_is_not_this_studys(study, trial, coordinator_a):
    trial.measured("bont-a", {"baseline": 2.0})
    own = analysis_engine_version(study)
    other = services.study_set_up(code="FACE-2", title="Other study", sites=[("OXF", "Oxford")])
    patient = make_patient(other.sites.get(), coordinator_a, enrolled_days_ago=10)
    add_scored_photo(record_visit(patient, "baseline", by=coordinator_a), by=coordinator_a, engine_version="99.0.0")
    assert analysis_engine_version(other) == "99.0.0"
    assert analysis_engine_version(study) == own != "99.0.0"
    assert analysis_engine_version(services.study_set_up(code="FACE-3", title="Empty", sites=[("X", "X")])) is None


def test_site_filter(study, trial, site_b):
    trial.measured("bont-a", {"baseline": 2.0})
    trial.measured("bont-a", {"baseline": 4.0}, site=site_b)
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV], site_code="MAN")
    assert _values(table) == [4.0]


def test_grades_count_once_per_visit_whatever_the_photo(study, trial, coordinator_a):
    patient = trial.patient("bont-a")
    record_visit(patient, "baseline", by=coordinator_a, house_brackmann=4, sunnybrook_composite=55)
    table = outcome_table(study, expressions=["smile_closed"], metrics=["house_brackmann"])
    assert list(table.rows["house_brackmann"]) == [4.0]


def test_a_grade_is_counted_per_visit_whatever_the_photos(study, trial, coordinator_a):
    patient = trial.patient("bont-a")
    baseline = record_visit(patient, "baseline", by=coordinator_a, house_brackmann=4)
    add_scored_photo(baseline, by=coordinator_a, status="head_turned")  # the photo failed; the grade counts
    week2 = record_visit(patient, "week-2", by=coordinator_a, house_brackmann=3)
    services.visit_void(visit=week2, by=coordinator_a, reason="Wrong patient")
    with_photos = outcome_table(study, expressions=["smile_closed", "rest"], metrics=["house_brackmann"])
    reasons = {e["reason"]: e["rows"] for e in with_photos.exclusions("house_brackmann")}
    assert reasons == {"voided_visit": 1}, "a photo's fate never excludes a grade; a voided visit once"
    visits_only = outcome_table(study, expressions=[], metrics=["house_brackmann"])
    assert list(visits_only.rows["visit_code"]) == ["baseline", "week-2"], "one row per visit, no photo"
    assert visits_only.rows["house_brackmann"].tolist()[0] == 4.0
    assert {e["reason"] for e in visits_only.exclusions()} == {"voided_visit"}


def test_query_count_does_not_grow_with_patients(study, trial):
    for _ in range(2):
        trial.measured("bont-a", {"baseline": 2.0, "week-12": 1.0})
    with CaptureQueriesContext(connection) as few:
        outcome_table(study, metrics=[DEV])
    for _ in range(4):
        trial.measured("control", {"baseline": 2.0, "week-12": 1.0})
    with CaptureQueriesContext(connection) as more:
        outcome_table(study, metrics=[DEV])
    # versions, the study's newest, rows, patients, its own outcomes, the missing-data codes
    assert len(few) == len(more) <= 6


def test_rows_are_named_by_the_cursor_on_sqlite_too():
    # make run's embedded database: SQLite describes columns as plain tuples, PostgreSQL as objects.
    import sqlite3

    cursor = sqlite3.connect(":memory:").execute("SELECT 1 AS visit_id, 'smile_open' AS expression")
    frame = frame_from_cursor(cursor)
    assert list(frame.columns) == ["visit_id", "expression"] and frame.iloc[0].tolist() == [1, "smile_open"]
