"""The outcomes table (GET /dataset/): the outcome tables' rows keyed by subject_id, in every format."""

import csv
import io
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.dataset.outcomes import OUTCOMES, encode_cursor
from analysis.long_format import COLUMN_NAMES, long_rows
from analysis.selectors import outcome_table
from measurements.engine import ENGINE_VERSION
from measurements.models import PhotoScore
from patients.models import StudyOutcome, SubjectPseudonym
from patients.services import visit_outcomes_record, visit_void
from tests.analysis.conftest import add_scored_photo, record_visit, score_metrics, trial  # noqa: F401 - fixture

DEV = "commissure_height_deviation_mm"
SIGNED = "commissure_height_signed_mm"
COLUMNS = [
    "subject_id", "arm", "visit", "day", "expression", "metric", "value", "unit", "engine_version",
    "yaw_deg", "pitch_deg", "roll_deg", "missing_code",
]  # fmt: skip


def outcomes_url(study, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/studies/{study.code}/dataset/" + (f"?{query}" if query else "")


def csv_rows(client, url) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def json_rows(client, url) -> list[dict]:
    rows, pages = [], 0
    while url:
        body = client.get(url).json()
        rows += body["results"]
        url, pages = body["next"], pages + 1
        assert pages < 1000
    return rows


def subject_of(patient) -> str:
    return SubjectPseudonym.objects.get(patient=patient).subject_id


@pytest.fixture
def qol(study):
    return StudyOutcome.objects.create(
        study=study, code="qol", name="Quality of life", unit="points", min_value=0, max_value=100
    )


@pytest.fixture
def cohort(study, trial, coordinator_a, qol):  # noqa: F811 - the imported fixture
    """Two BoNT-A and one control subject with smile photos at baseline and week 12, a grade,
    a study outcome, a failed photo, a voided visit and a rest photo."""
    a = trial.measured("bont-a", {"baseline": 3.5, "week-12": 1.5}, side="left")
    b = trial.measured("bont-a", {"baseline": 2.0, "week-12": 1.0}, side="right")
    c = trial.measured("control", {"baseline": 3.0, "week-12": 2.8})
    baseline_a = a.visits.get(scheduled_visit__code="baseline")
    baseline_a.house_brackmann = 3
    baseline_a.save()
    visit_outcomes_record(visit=baseline_a, by=coordinator_a, values={qol: "62.5"})
    add_scored_photo(baseline_a, by=coordinator_a, expression="rest", metrics=score_metrics(20.0, 21.0))
    add_scored_photo(baseline_a, by=coordinator_a, expression="pucker", status="head_turned")
    week2 = record_visit(c, "week-2", by=coordinator_a)
    add_scored_photo(week2, by=coordinator_a, metrics=score_metrics(20.0, 29.0))
    visit_void(visit=week2, by=coordinator_a, reason="Entered for the wrong patient")
    return {"a": a, "b": b, "c": c}


def test_rows_are_the_outcome_tables_rows_keyed_by_subject_id(login, investigator, study, cohort):
    rows = csv_rows(login(investigator), outcomes_url(study, format="csv"))
    assert list(rows[0]) == COLUMNS == OUTCOMES.column_names
    # One definition of which rows count: the investigators' row builder, under the pseudonym.
    subjects = {p.pk: subject_of(p) for p in cohort.values()}
    expected = []
    for row in long_rows(outcome_table(study), patient_key=subjects.__getitem__):
        named = dict(zip(COLUMN_NAMES, row, strict=True))
        expected.append(
            [str(named[c]) for c in ("patient", "arm", "visit", "day_since_enrollment", "expression", "metric")]
            + [float(named["value"]), named["unit"], named["engine_version"]]
        )
    got = [[*(r[c] for c in COLUMNS[:6]), float(r["value"]), r["unit"], r["engine_version"]] for r in rows]
    assert sorted(got) == sorted(expected) and len(got) == 44
    assert [r["subject_id"] for r in rows] == sorted(r["subject_id"] for r in rows)


def test_photo_metrics_are_oriented_and_grades_and_study_outcomes_have_no_expression(
    login, investigator, study, cohort
):
    rows = csv_rows(login(investigator), outcomes_url(study, format="csv"))
    a, b = subject_of(cohort["a"]), subject_of(cohort["b"])
    signed = {
        (r["subject_id"], r["visit"]): float(r["value"])
        for r in rows
        if r["metric"] == SIGNED and r["expression"] == "smile_closed"
    }
    # A droop on the affected side is positive, whichever side it is on.
    assert signed[(a, "baseline")] == pytest.approx(3.5) and signed[(b, "baseline")] == pytest.approx(2.0)
    smile = [r for r in rows if r["subject_id"] == a and r["metric"] == DEV and r["expression"] == "smile_closed"]
    assert [(r["visit"], r["day"], r["unit"], r["engine_version"]) for r in smile] == [
        ("baseline", "0", "mm", ENGINE_VERSION),
        ("week-12", "84", "mm", ENGINE_VERSION),
    ]
    visit_level = {(r["metric"], r["value"], r["unit"]) for r in rows if r["subject_id"] == a and not r["expression"]}
    assert visit_level == {("house_brackmann", "3", "grade"), ("outcome:qol", "62.5", "points")}
    assert all(r["engine_version"] == "" for r in rows if not r["expression"])


def test_rows_the_outcome_tables_exclude_are_not_exported(login, investigator, study, cohort):
    rows = csv_rows(login(investigator), outcomes_url(study, format="csv"))
    assert not [r for r in rows if r["expression"] == "pucker"]  # failed the quality gate
    assert not [r for r in rows if r["visit"] == "week-2"]  # voided visit
    assert {r["expression"] for r in rows} == {"smile_closed", "rest", ""}


def test_json_pages_give_the_csv_rows_in_the_same_order(login, investigator, study, cohort):
    client = login(investigator)
    whole = csv_rows(client, outcomes_url(study, format="csv"))
    for size in (1, 7, 100, 1000):
        paged = json_rows(client, outcomes_url(study, page_size=size))
        assert [[str(r[c]) for c in ("subject_id", "visit", "expression", "metric")] for r in paged] == [
            [r[c] for c in ("subject_id", "visit", "expression", "metric")] for r in whole
        ], size
    first = client.get(outcomes_url(study, page_size=3)).json()
    assert list(first["results"][0]) == COLUMNS
    assert isinstance(first["results"][0]["day"], int) and first["previous"] is None


def test_a_page_costs_the_same_queries_whatever_its_size(login, investigator, study, trial):  # noqa: F811
    for base in (3.0, 2.5, 2.0, 1.5, 1.0):
        trial.measured("bont-a", {"baseline": base, "week-12": base / 2})
    client = login(investigator)
    client.get(outcomes_url(study))  # pseudonyms made once, outside the count
    counts = []
    for size in (2, 30, 1000):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(outcomes_url(study, page_size=size))
        assert response.status_code == 200
        counts.append(len(queries))
    assert len(response.json()["results"]) == 60  # the whole study on the last page
    assert counts[0] == counts[1] == counts[2], counts


def test_filters_by_visit_expression_metric_and_arm(login, investigator, study, cohort):
    client = login(investigator)
    rows = csv_rows(client, outcomes_url(study, format="csv", visit="week-12", metric=DEV))
    assert {(r["visit"], r["metric"], r["expression"]) for r in rows} == {("week-12", DEV, "smile_closed")}
    assert len(rows) == 3
    rows = json_rows(client, outcomes_url(study, expression="rest"))
    assert {r["expression"] for r in rows} == {"rest"} and {r["subject_id"] for r in rows} == {subject_of(cohort["a"])}
    rows = csv_rows(client, outcomes_url(study, format="csv", arm="control", metric=DEV))
    assert {r["arm"] for r in rows} == {"control"} and {r["subject_id"] for r in rows} == {subject_of(cohort["c"])}
    rows = csv_rows(client, outcomes_url(study, format="csv", metric="outcome:qol"))
    assert [(r["metric"], r["value"]) for r in rows] == [("outcome:qol", "62.5")]


def test_unknown_filter_values_and_cursors_are_refused_in_the_error_shape(login, investigator, study, cohort):
    client = login(investigator)
    for field, value in (("metric", "smile_width"), ("expression", "wink"), ("visit", "week-99"), ("arm", "x")):
        response = client.get(outcomes_url(study, **{field: value}))
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid" and value in error["fields"][field][0]
    response = client.get(outcomes_url(study, cursor="bm90LWEtY3Vyc29y"))
    assert response.status_code == 400 and "cursor" in response.json()["error"]["fields"]
    # A cursor of a subject past the last one is simply the end.
    body = client.get(outcomes_url(study, cursor=encode_cursor("s-ffffffffffffffff", 0))).json()
    assert body["results"] == [] and body["next"] is None


def test_zip_holds_the_outcomes_and_their_dictionary(api_client_token, token_client, study, cohort, throttle_rates):
    response = token_client(api_client_token).get(outcomes_url(study, format="zip"))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"outcomes.csv", "subjects.csv", "injections.csv", "README.txt"} <= set(archive.namelist())
    rows = list(csv.DictReader(io.StringIO(archive.read("outcomes.csv").decode())))
    assert len(rows) == 44 and list(rows[0]) == COLUMNS
    dictionary = list(csv.DictReader(io.StringIO(archive.read("data_dictionary.csv").decode())))
    outcomes = {d["variable"]: d for d in dictionary if d["table"] == "outcomes"}
    assert set(COLUMNS) <= set(outcomes)
    assert outcomes[f"metric={SIGNED}"]["unit"] == "mm"
    assert outcomes["metric=outcome:qol"]["label"] == "Quality of life"
    assert "engine version" in archive.read("README.txt").decode()


def test_who_reads_the_outcomes(login, coordinator_a, study, cohort, api_client_token, token_client):
    assert token_client(api_client_token).get(outcomes_url(study)).status_code == 200
    assert login(coordinator_a).get(outcomes_url(study)).status_code == 403


def test_a_newer_engine_version_shows_at_once(login, investigator, study, cohort):
    client = login(investigator)
    assert {r["engine_version"] for r in json_rows(client, outcomes_url(study, metric=DEV))} == {ENGINE_VERSION}
    # The study's analysis version is cached; a new score renews the key, so no page serves the old one.
    week12 = cohort["a"].visits.get(scheduled_visit__code="week-12")
    photo = week12.photos.get(expression="smile_closed")
    # A rescore by a newer engine, so far of this one photo: the study's version is now the newer one.
    PhotoScore.objects.create(photo=photo, engine_version="99.0.0", model_version="test", status="scored",
                              metrics=score_metrics(20.0, 20.5))  # fmt: skip
    rows = json_rows(client, outcomes_url(study, metric=DEV))
    assert [(r["visit"], r["engine_version"], r["value"]) for r in rows] == [("week-12", "99.0.0", 0.5)]


def test_a_missing_coded_item_is_a_row_with_no_value_and_its_code(login, investigator, study, cohort, coordinator_a):
    """Issue 20: the code is its own column, in the API's table and the investigators' long download alike."""
    from patients.services import missing_item_record

    a = cohort["a"]
    baseline_a = a.visits.get(scheduled_visit__code="baseline")
    missing_item_record(
        visit=baseline_a,
        item_kind="grade",
        item_code="sunnybrook_composite",
        code="declined",
        reason="x",
        by=coordinator_a,
    )
    missing_item_record(
        visit=baseline_a, item_kind="photo", item_code="brow_raise", code="not_done", reason="", by=coordinator_a
    )
    client = login(investigator)
    rows = csv_rows(client, outcomes_url(study, format="csv"))
    mine = [r for r in rows if r["subject_id"] == subject_of(a) and r["missing_code"]]
    assert {(r["metric"], r["expression"], r["value"], r["missing_code"]) for r in mine if not r["expression"]} == {
        ("sunnybrook_composite", "", "", "declined")
    }
    photo_rows = [r for r in mine if r["expression"] == "brow_raise"]
    assert photo_rows and {(r["value"], r["missing_code"]) for r in photo_rows} == {("", "not_done")}
    assert all(r["missing_code"] == "" for r in rows if r["value"])  # a value and a code never share a row
    paged = json_rows(client, outcomes_url(study, page_size=5))
    assert len(paged) == len(rows)
    coded = [r for r in paged if r["missing_code"] == "declined"]
    assert [(r["metric"], r["value"]) for r in coded] == [("sunnybrook_composite", None)]
    # The investigators' own long download carries the same column, from the same definition.
    long = b"".join(client.get(f"/studies/{study.code}/outcomes/files/dataset.csv").streaming_content).decode()
    long_rows_ = list(csv.DictReader(io.StringIO(long)))
    assert list(long_rows_[0])[-1] == "missing_code"
    assert [(r["metric"], r["value"]) for r in long_rows_ if r["missing_code"] == "declined"] == [
        ("sunnybrook_composite", "")
    ]


def test_the_data_dictionary_documents_the_missing_code_column(
    api_client_token, token_client, study, cohort, throttle_rates
):
    response = token_client(api_client_token).get(outcomes_url(study, format="zip"))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    dictionary = list(csv.DictReader(io.StringIO(archive.read("data_dictionary.csv").decode())))
    (entry,) = [d for d in dictionary if d["table"] == "outcomes" and d["variable"] == "missing_code"]
    assert "declined" in entry["allowed_values"] and "lost_to_follow_up" in entry["allowed_values"]
    assert "missing-data code" in entry["label"]
