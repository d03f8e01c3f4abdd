"""The photos' head pose per arm on the outcomes page, and with every photo row of the long dataset
(docs/metrics.md, "Head pose")."""

from analysis.long_format import COLUMN_NAMES, data_dictionary, long_rows
from analysis.selectors import outcome_table

from .conftest import add_scored_photo, record_visit, score_metrics

PAGE = "/studies/FACE-1/outcomes/"
QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed", "visit": "week-12"}


def _photo(trial, coordinator, arm, yaw, *, visit="week-12", status="scored"):
    patient = trial.patient(arm)
    record = record_visit(patient, "baseline", by=coordinator)
    if visit != "baseline":
        record = record_visit(patient, visit, by=coordinator)
    pose = None if yaw is None else {"yaw_deg": yaw, "pitch_deg": -14.0, "roll_deg": 1.5}
    add_scored_photo(record, by=coordinator, metrics=score_metrics(20.0, 22.0), status=status, pose=pose)
    return patient


def _yaw_rows(page: str) -> dict[str, str]:
    table = page.split('id="yaw-table"', 1)[1].split("</table>", 1)[0]
    return {
        row.split('data-arm="', 1)[1].split('"', 1)[0]: row for row in table.split("<tr")[1:] if 'data-arm="' in row
    }


def test_the_outcomes_page_shows_the_yaw_of_the_counted_photos_per_arm(login, investigator, trial, coordinator_a):
    for yaw in (1.0, 2.0, -3.0):
        _photo(trial, coordinator_a, "bont-a", yaw)
    for yaw in (4.0, 5.0, 6.0, None):  # a score without a pose counts as a photo, not as a yaw
        _photo(trial, coordinator_a, "control", yaw)
    _photo(trial, coordinator_a, "control", 14.0, status="head_turned")  # refused: does not count
    _photo(trial, coordinator_a, "bont-a", 9.0, visit="baseline")  # another visit

    page = login(investigator).get(PAGE, QUERY).content.decode()
    rows = _yaw_rows(page)
    assert set(rows) == {"bont-a", "control"}
    cells = lambda row: [c.split("</td>", 1)[0] for c in row.split('<td class="num')[1:]]  # noqa: E731
    # bont-a: yaw -3, 1, 2 -> median 1.0, quartiles -1.0 and 1.5, largest |yaw| 3.0.
    assert cells(rows["bont-a"]) == ['">3', '">1.0', ' nowrap">-1.0 to 1.5', '">3.0']
    # control: 4, 5, 6 of four counted photos -> median 5.0, quartiles 4.5 and 5.5, largest 6.0.
    assert cells(rows["control"]) == [
        '">3 <small class="muted">of 4</small>',
        '">5.0',
        ' nowrap">4.5 to 5.5',
        '">6.0',
    ]


def test_a_grade_page_has_no_yaw_table(login, investigator, trial, coordinator_a):
    _photo(trial, coordinator_a, "bont-a", 1.0)
    page = login(investigator).get(PAGE, {**QUERY, "metric": "house_brackmann"}).content.decode()
    assert 'id="yaw-table"' not in page


def test_every_photo_row_of_the_long_dataset_carries_its_pose_and_grades_none(study, trial, coordinator_a):
    patient = _photo(trial, coordinator_a, "bont-a", 2.345)
    for visit in patient.visits.all():
        visit.house_brackmann = 3
        visit.save()
    named = [dict(zip(COLUMN_NAMES, row, strict=True)) for row in long_rows(outcome_table(study), patient_key=str)]
    photo_rows = [r for r in named if r["expression"]]
    grade_rows = [r for r in named if not r["expression"]]
    assert photo_rows and grade_rows
    assert {(r["yaw_deg"], r["pitch_deg"], r["roll_deg"]) for r in photo_rows} == {(2.35, -14.0, 1.5)}
    assert {(r["yaw_deg"], r["pitch_deg"], r["roll_deg"]) for r in grade_rows} == {(None, None, None)}
    variables = [entry["variable"] for entry in data_dictionary()]
    assert {"yaw_deg", "pitch_deg", "roll_deg"} <= set(variables)
