"""The long-format dataset: columns and dictionary defined once, the patient key a parameter."""

from analysis.long_format import COLUMN_NAMES, data_dictionary, long_rows
from analysis.metrics import ANALYSIS_METRICS
from analysis.selectors import outcome_table

DEV = "commissure_height_deviation_mm"


def test_rows_follow_the_columns_and_the_key_function(study, trial, coordinator_a):
    patient = trial.measured("bont-a", {"baseline": 3.5, "week-12": 1.5})
    patient.visits.filter(scheduled_visit__code="baseline").update(house_brackmann=3)
    table = outcome_table(study, expressions=["smile_closed"], metrics=[DEV, "house_brackmann"])
    rows = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in long_rows(table, patient_key=lambda pid: "P-x")]
    photo_rows = [r for r in rows if r["metric"] == DEV]
    assert [(r["visit"], r["visit_day"], r["day_since_enrollment"], r["value"]) for r in photo_rows] == [
        ("baseline", 0, 0, 3.5),
        ("week-12", 84, 84, 1.5),
    ]
    assert {r["patient"] for r in rows} == {"P-x"}
    assert all(r["arm"] == "bont-a" and r["unit"] == "mm" and r["engine_version"] for r in photo_rows)
    grades = [r for r in rows if r["metric"] == "house_brackmann"]
    assert [(r["visit"], r["expression"], r["value"], r["unit"]) for r in grades] == [("baseline", "", 3, "grade")]
    # The shared part carries neither the study code nor a calendar date.
    flat = " ".join(str(v) for r in rows for v in r.values())
    assert patient.study_code not in flat and str(patient.enrollment_date) not in flat


def test_dictionary_describes_every_column_and_metric():
    entries = data_dictionary()
    variables = [e["variable"] for e in entries]
    assert variables[: len(COLUMN_NAMES)] == list(COLUMN_NAMES)
    assert {f"metric={m.name}" for m in ANALYSIS_METRICS} <= set(variables)
    assert all(set(e) == {"variable", "label", "type", "unit", "allowed_values"} for e in entries)


def test_study_rows_read_in_slices_equal_the_whole_table(study, trial):
    from analysis.long_format import study_rows

    for base in (3.5, 3.0, 2.5):
        trial.measured("bont-a", {"baseline": base, "week-12": base - 1})
    whole = list(long_rows(outcome_table(study), patient_key=str))
    assert sorted(study_rows(study, patient_key=str, chunk=1)) == sorted(whole)
    assert len(whole) > 6
