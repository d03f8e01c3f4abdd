"""k-anonymity over every quasi-identifier: banding, then suppression, or a 409; the same in every table and format."""

import csv
import io
import itertools
import json
import random
import zipfile
from collections import Counter
from datetime import date, timedelta

import pytest
from django.utils import timezone

from analysis.dataset.anonymity import (
    SUPPRESSED,
    KAnonymityUnreachable,
    QuasiIdentifier,
    aetiology_label,
    age_in_years,
    age_label,
    generalised,
    house_brackmann_label,
    months_label,
    release,
    smallest_group,
    suppress,
)
from analysis.dataset.registry import TABLES, check_subject_level_columns
from analysis.dataset.tables import SUBJECT_LADDER, SUBJECTS, Column, Role, Table, _check_ladder
from patients import services
from tests.api.conftest import injections_url, subjects_url
from tests.conftest import make_patient, record_treatment

OUTCOMES_URL = "/api/v1/studies/{}/dataset/"


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def _k_of(rows: list[dict]) -> int:
    """k recomputed from the published rows themselves: every column but the pseudonymous key."""
    return min(Counter(tuple(v for c, v in row.items() if c != "subject_id") for row in rows).values())


# --- Labels -------------------------------------------------------------------------------


def test_age_in_whole_years_on_the_day():
    assert age_in_years(date(1980, 6, 15), date(2020, 6, 14)) == 39
    assert age_in_years(date(1980, 6, 15), date(2020, 6, 15)) == 40


def test_age_and_onset_labels():
    assert [age_label(43, b) for b in ("years", "5-year", "10-year")] == ["43", "40-44", "40-49"]
    assert age_label(89, "10-year") == "80-89"
    assert age_label(90, "years") == age_label(97, "5-year") == "90+"
    assert [months_label(14, b) for b in ("months", "6-month", "12-month")] == ["14", "12-17", "12-23"]
    assert months_label(119, "12-month") == "108-119" and months_label(300, "months") == "120+"


def test_the_coarser_labels():
    assert [age_label(a, "20-year") for a in (18, 39, 40, 59, 79, 80, 95)] == [
        "0-19", "20-39", "40-59", "40-59", "60-79", "80+", "80+"
    ]  # fmt: skip
    assert [age_label(a, "2-band") for a in (18, 59, 60, 95)] == ["<60", "<60", "60+", "60+"]
    clinical = [months_label(m, "clinical") for m in (6, 11, 12, 35, 36, 300)]
    assert clinical == ["<12", "<12", "12-35", "12-35", "36+", "36+"]
    assert [months_label(m, "2-band") for m in (11, 12, 300)] == ["<12", "12+", "12+"]
    assert [house_brackmann_label(g, "stratum") for g in range(1, 7)] == ["1-3"] * 3 + ["4-6"] * 3
    assert house_brackmann_label(4, "grade") == "4"
    # The stratum bands are the randomization's own (the pure core cannot import the model).
    from patients.models import SeverityBand

    assert len({(house_brackmann_label(g, "stratum"), SeverityBand.for_grade(g)) for g in range(1, 7)}) == 2
    assert aetiology_label("bells_palsy", "bells-or-not") == "bells_palsy"
    assert {aetiology_label(a, "bells-or-not") for a in ("trauma", "congenital", "other")} == {"not_bells_palsy"}
    assert aetiology_label("trauma", "cause") == "trauma"


_GENERALISERS = {
    "age_years": (age_label, range(0, 121)),
    "months_since_onset": (months_label, range(0, 200)),
    "baseline_house_brackmann": (house_brackmann_label, range(1, 7)),
    "aetiology": (aetiology_label, ("bells_palsy", "trauma", "tumour_resection", "iatrogenic", "congenital", "other")),
}


def test_every_step_of_the_ladder_is_a_union_of_the_bands_of_the_step_before():
    # So that "a tie goes to the finer step" means something, and two exports published at
    # different steps cannot be intersected into a band narrower than the finer one.
    for before, step in itertools.pairwise(SUBJECT_LADDER):
        for column, (label, values) in _GENERALISERS.items():
            coarse_of: dict[str, set[str]] = {}
            for value in values:
                coarse_of.setdefault(label(value, before[column]), set()).add(label(value, step[column]))
            assert all(len(coarse) == 1 for coarse in coarse_of.values()), (column, before, step)


def test_a_ladder_step_finer_than_the_one_before_is_refused():
    with pytest.raises(ValueError, match="finer"):
        _check_ladder(SUBJECTS.columns, (SUBJECT_LADDER[3], SUBJECT_LADDER[1]))
    with pytest.raises(ValueError, match="must band exactly"):
        _check_ladder(SUBJECTS.columns, ({"age_years": "years", "months_since_onset": "months"},))


def test_k_is_the_smallest_group():
    assert smallest_group([(1, "f"), (1, "f"), (2, "m")]) == 1
    assert smallest_group([]) is None


# --- The pure core: ladder, suppression, refusal --------------------------------------------

QUASI = [
    QuasiIdentifier("arm", suppressible=False),
    QuasiIdentifier("sex"),
    QuasiIdentifier("age_years", generalise=age_label),
    QuasiIdentifier("months_since_onset", generalise=months_label),
]


def _release(rows, min_k=3):
    return release(rows, QUASI, SUBJECT_LADDER, min_k)


def _age_and_onset(rel) -> tuple[str, str]:
    return rel.banding["age_years"], rel.banding["months_since_onset"]


def test_the_ladder_stops_at_the_finest_step_that_reaches_min_k():
    same = [("a", "f", 41, 14)] * 3
    assert _release(same).banding == {
        "age_years": "years",
        "months_since_onset": "months",
        "baseline_house_brackmann": "grade",
        "aetiology": "cause",
    }
    ages = [("a", "f", age, 14) for age in (41, 43, 44)]
    assert _age_and_onset(_release(ages)) == ("5-year", "months")
    onset = [("a", "f", age, months) for age, months in ((41, 12), (43, 14), (44, 17))]
    assert _age_and_onset(_release(onset)) == ("5-year", "6-month")
    both = [("a", "f", age, months) for age, months in ((41, 12), (47, 14), (44, 23))]
    rel = _release(both)
    assert _age_and_onset(rel) == ("10-year", "12-month")
    assert rel.records == [("a", "f", "40-49", "12-23")] * 3 and rel.k == 3 and rel.suppressed_total == 0
    wide = [("a", "f", age, months) for age, months in ((21, 8), (38, 30), (25, 14))]
    # 3 cells (the onset) from the 20-year step on, 6 before it: the first step needing 3.
    assert _age_and_onset(_release(wide)) == ("20-year", "12-month")
    assert _release(wide).records == [("a", "f", "20-39", SUPPRESSED)] * 3
    coarse = [("a", "f", age, months) for age, months in ((21, 14), (48, 30), (59, 50))]
    assert _age_and_onset(_release(coarse)) == ("2-band", "2-band")
    assert _release(coarse).records == [("a", "f", "<60", "12+")] * 3


def test_the_step_published_is_the_one_with_the_fewest_suppressed_cells_ties_to_the_finer():
    # Five subjects in their forties and one aged 25: up to the 20-year bands the youngest's age
    # and two others' must go (3 cells); the two age bands hold all six with none, so the first
    # step with two age bands is published, though it is coarser.
    rows = [("a", "f", age, 30) for age in (41, 42, 43, 44, 45)] + [("a", "f", 25, 30)]
    rel = _release(rows)
    assert rel.suppressed_total == 0 and _age_and_onset(rel) == ("2-band", "clinical")
    assert rel.banding == SUBJECT_LADDER[7]
    # Whatever the step, the man's sex is the one cell to suppress, with two women's: a tie at
    # 3 cells from the finest step on, so the exact values are published.
    tie = [("a", "f", 41, 14)] * 3 + [("a", "m", 41, 14)] + [("a", "f", 41, 14)] * 2
    rel = _release(tie)
    assert _age_and_onset(rel) == ("years", "months") and rel.suppressed == {
        "sex": 3,
        "age_years": 0,
        "months_since_onset": 0,
    }
    # In general: the fewest cells of any step, and the first step with that many.
    rng = random.Random(7)
    for _ in range(15):
        rows = [(rng.choice("ab"), rng.choice("fm"), rng.randint(18, 80), rng.randint(6, 60)) for _ in range(24)]
        if min(Counter(r[0] for r in rows).values()) < 3:
            continue
        cells = [
            sum(v == SUPPRESSED for r in suppress(generalised(rows, QUASI, step), [1, 2, 3], 3) for v in r)
            if smallest_group(generalised(rows, QUASI, step)) < 3
            else 0
            for step in SUBJECT_LADDER
        ]
        rel = _release(rows)
        assert rel.suppressed_total == min(cells) and rel.banding == SUBJECT_LADDER[cells.index(min(cells))], rows


def test_suppression_is_minimal_on_a_constructed_example():
    # Six subjects form two groups of three; the seventh differs from the first group in sex only.
    # Alone with its sex suppressed it is still unique: the fewest cells are its sex and the sex of
    # the whole first group (taking only two would leave one woman alone). Nothing else changes.
    rows = [("a", "f", 41, 14)] * 3 + [("a", "m", 62, 30)] * 3 + [("a", "m", 45, 14)]
    rel = _release(rows)
    assert rel.records[:3] == [("a", SUPPRESSED, "40-49", "12-23")] * 3
    assert rel.records[3:6] == [("a", "m", "60-69", "24-35")] * 3
    assert rel.records[6] == ("a", SUPPRESSED, "40-49", "12-23")
    assert rel.suppressed == {"sex": 4, "age_years": 0, "months_since_onset": 0}
    assert rel.k == 3 and rel.subjects_suppressed == 4
    assert rel.suppressed_total == _fewest_cells(rel, rows)


def _fewest_cells(rel, rows) -> int:
    """The true minimum, by exhaustive search over which cells to suppress (tiny cohorts only)."""
    banded = [tuple(r) for r in release(rows, QUASI, SUBJECT_LADDER[-1:], 1).records]
    cells = [(i, c) for i in range(len(banded)) for c in range(1, len(QUASI))]
    for size in range(len(cells) + 1):
        for chosen in itertools.combinations(cells, size):
            records = [list(r) for r in banded]
            for i, c in chosen:
                records[i][c] = SUPPRESSED
            if smallest_group(map(tuple, records)) >= rel.min_k:
                return size
    raise AssertionError("unreachable")


def test_suppression_equals_the_exhaustive_minimum_on_small_cohorts():
    examples = [
        [("a", "f", 30, 10)] * 3 + [("a", "f", 52, 10)],
        [("a", "f", 30, 10)] * 4 + [("a", "m", 52, 70)],
        [("a", "f", 30, 10), ("a", "f", 31, 10), ("a", "m", 30, 10), ("a", "m", 33, 70), ("a", "f", 30, 70)],
    ]
    for rows in examples:
        rel = _release(rows)
        assert rel.k >= 3 and rel.suppressed_total == _fewest_cells(rel, rows), rows


def test_no_single_suppressed_cell_could_be_given_back_and_no_subject_is_dropped():
    rng = random.Random(16)
    for _ in range(25):
        n = rng.randint(6, 60)
        rows = [
            (rng.choice("ab"), rng.choice("fm"), rng.randint(18, 80), rng.randint(6, 60)) for _ in range(n)
        ]  # fmt: skip
        if min(Counter(r[0] for r in rows).values()) < 3:
            continue
        rel = _release(rows)
        banded = generalised(rows, QUASI, rel.banding)
        assert len(rel.records) == n and smallest_group(rel.records) == rel.k >= 3
        counts = Counter(rel.records)
        for i, record in enumerate(rel.records):
            # Every value is the banded one or "suppressed": never another subject's.
            assert all(v in (b, SUPPRESSED) for v, b in zip(record, banded[i]))
            for c, value in enumerate(record):
                if value != SUPPRESSED:
                    continue
                given_back = record[:c] + (banded[i][c],) + record[c + 1 :]
                left = counts[record] - 1
                assert not (counts[given_back] + 1 >= 3 and (left == 0 or left >= 3)), (rows, i, c)


def test_the_arm_is_never_suppressed_so_a_small_arm_is_refused():
    rows = [("a", "f", 40, 12)] * 3 + [("b", "f", 40, 12)] * 2
    with pytest.raises(KAnonymityUnreachable) as refused:
        _release(rows)
    message = str(refused.value)
    assert "min_k = 3" in message and "arm b: 2 subjects (1 more needed)" in message
    assert "min_k of at most 2" in message
    assert [r[0] for r in suppress([("a", "x"), ("a", "y"), ("a", "y")], [1], 3)] == ["a"] * 3


# --- Every column is classified ----------------------------------------------------------------


def test_a_column_cannot_be_made_without_its_role():
    with pytest.raises(TypeError, match="role"):
        Column("postcode_district", "Postcode district", "string")  # type: ignore[call-arg]


def test_a_table_with_an_unclassified_column_is_refused():
    unclassified = Column("postcode_district", "Postcode district", "string", role=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="postcode_district"):
        Table(name="t", description="", columns=[*SUBJECTS.columns, unclassified], inclusion="", present=dict)


def test_a_quasi_identifier_outside_subjects_must_be_one_of_the_subjects():
    stray = Column("postcode_district", "Postcode district", "string", role=Role.QUASI_IDENTIFIER)
    table = Table(
        name="visits",
        description="",
        columns=[Column("subject_id", "key", "string", role=Role.KEY), stray],
        inclusion="",
        present=dict,
    )
    with pytest.raises(ValueError, match="postcode_district"):
        check_subject_level_columns({"visits": table})


def test_every_exported_column_is_classified_and_k_counts_every_one_that_is_not_an_outcome():
    subject_level = {c.name for c in SUBJECTS.quasi_identifiers}
    for table in TABLES.values():
        assert all(isinstance(c.role, Role) for c in table.columns), table.name
        assert [c.name for c in table.columns if c.role is Role.KEY] == ["subject_id"], table.name
        assert {c.name for c in table.quasi_identifiers} <= subject_level, table.name
    # Today the subjects table carries no outcome: k counts all of it but the key.
    assert [c.name for c in SUBJECTS.quasi_identifiers] == [c for c in SUBJECTS.column_names if c != "subject_id"]


# --- Over the API --------------------------------------------------------------------------------


def _subject(site, by, arm, data_manager, *, age=40, **fields):
    today = timezone.localdate()
    born = today - timedelta(days=30) - timedelta(days=int(age * 365.25) + 40)
    patient = make_patient(site, by, date_of_birth=born, **fields)
    services.patient_assign_arm_externally(patient=patient, arm=arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    return patient


@pytest.fixture
def needs_suppression(study, site_a, coordinator_a, bont_arm, data_manager):
    """Four treated subjects, min_k 3: three women alike and one man, alone even in the coarsest bands."""
    study.min_k = 3
    study.save(update_fields=["min_k"])
    patients = [_subject(site_a, coordinator_a, bont_arm, data_manager) for _ in range(3)]
    patients.append(_subject(site_a, coordinator_a, bont_arm, data_manager, sex="male"))
    follow_up = study.schedule.exclude(day_offset=0).order_by("day_offset").first()
    for patient in patients:
        record_treatment(patient, coordinator_a)
        services.visit_record(
            patient=patient,
            scheduled_visit=follow_up,
            by=coordinator_a,
            date_performed=patient.enrollment_date + timedelta(days=follow_up.day_offset),
            house_brackmann=3,
        )
    return patients


def test_a_study_that_needs_suppression_is_served_with_k_reached(login, investigator, study, needs_suppression):
    client = login(investigator)
    response = client.get(subjects_url(study), {"format": "csv"})
    rows = _csv(response)
    assert len(rows) == 4 and _k_of(rows) == 4
    # The man's sex must go, and with it the women's, whatever the banding: 4 cells at every step,
    # so the finest step wins the tie and ages and months stay exact.
    assert {r["sex"] for r in rows} == {SUPPRESSED} and {r["age_years"] for r in rows} == {"40"}
    assert response["X-Dataset-K"] == "4" and response["X-Dataset-Min-K"] == "3"
    assert response["X-Dataset-Age-Banding"] == "years" and response["X-Dataset-Onset-Banding"] == "months"
    assert response["X-Dataset-House-Brackmann-Banding"] == "grade"
    assert response["X-Dataset-Aetiology-Banding"] == "cause"
    assert response["X-Dataset-Suppressed"] == (
        "site=0, sex=4, age_years=0, affected_side=0, aetiology=0, months_since_onset=0, "
        "baseline_house_brackmann=0, status=0"
    )
    assert response["X-Dataset-Quasi-Identifiers"] == ", ".join(c.name for c in SUBJECTS.quasi_identifiers)
    body = client.get(subjects_url(study)).json()
    assert (body["k"], body["min_k"], body["suppressed"]["sex"]) == (4, 3, 4)
    assert body["banding"] == SUBJECT_LADDER[0] and body["age_banding"] == "years"
    assert sorted(body["results"], key=lambda r: r["subject_id"]) == sorted(rows, key=lambda r: r["subject_id"])


def test_suppression_never_drops_a_subject_from_any_table_or_format(login, investigator, study, needs_suppression):
    client = login(investigator)
    subject_ids = {r["subject_id"] for r in _csv(client.get(subjects_url(study), {"format": "csv"}))}
    assert len(subject_ids) == 4
    for url in (OUTCOMES_URL.format(study.code), injections_url(study)):
        assert {r["subject_id"] for r in _csv(client.get(url, {"format": "csv"}))} == subject_ids, url
        json_rows = client.get(url, {"page_size": 1000}).json()["results"]
        assert {r["subject_id"] for r in json_rows} == subject_ids, url
    response = client.get(subjects_url(study), {"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    for name in ("subjects.csv", "injections.csv", "outcomes.csv"):
        rows = list(csv.DictReader(io.StringIO(archive.read(name).decode())))
        assert {r["subject_id"] for r in rows} == subject_ids, name


def test_every_table_and_format_carries_the_subjects_published_values(login, investigator, study, needs_suppression):
    client = login(investigator)
    subjects = {r["subject_id"]: r for r in _csv(client.get(subjects_url(study), {"format": "csv"}))}
    shared = {table.name: [c.name for c in table.quasi_identifiers] for table in TABLES.values()}
    for url, table in ((OUTCOMES_URL.format(study.code), "outcomes"), (injections_url(study), "injections")):
        for rows in (_csv(client.get(url, {"format": "csv"})), client.get(url, {"page_size": 1000}).json()["results"]):
            assert rows and list(rows[0]) == TABLES[table].column_names, url  # exported = classified
            for row in rows:
                assert all(row[c] == subjects[row["subject_id"]][c] for c in shared[table]), (url, row)
    archive = zipfile.ZipFile(
        io.BytesIO(b"".join(client.get(injections_url(study), {"format": "zip"}).streaming_content))
    )
    zipped = {r["subject_id"]: r for r in csv.DictReader(io.StringIO(archive.read("subjects.csv").decode()))}
    assert zipped == subjects


def test_a_subject_level_column_in_another_table_takes_the_subjects_suppression(study, needs_suppression):
    # The outcomes' only subject-level column is the arm, never suppressed; a table carrying the sex
    # shows what any such column gets: the subjects table's value, "suppressed" included.
    from analysis.dataset.tables import export_context
    from patients.pseudonyms import pseudonyms_ensure

    pseudonyms_ensure(study=study)
    ctx = export_context(study)
    sex = next(c for c in SUBJECTS.columns if c.name == "sex")
    table = Table(
        name="visits",
        description="",
        columns=[Column("subject_id", "key", "string", role=Role.KEY), sex],
        inclusion="",
        present=dict,
    )
    subject_id = next(iter(ctx.published))
    assert list(ctx.publish_tuples(table, [(subject_id, "male")])) == [(subject_id, SUPPRESSED)]
    assert ctx.publish(table, {"subject_id": subject_id, "sex": "male"}) == {
        "subject_id": subject_id,
        "sex": SUPPRESSED,
    }


def test_the_data_dictionary_and_readme_state_banding_suppression_and_k(login, investigator, study, needs_suppression):
    response = login(investigator).get(subjects_url(study), {"format": "zip"})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    dictionary = {(d["table"], d["variable"]): d for d in json.loads(archive.read("data_dictionary.json"))}
    assert dictionary["subjects", "sex"]["suppressed_cells"] == "4"
    assert dictionary["subjects", "sex"]["allowed_values"] == f"female|male|other|{SUPPRESSED}"
    assert dictionary["subjects", "age_years"]["banding"] == "years"
    assert dictionary["subjects", "months_since_onset"]["banding"] == "months"
    assert dictionary["subjects", "baseline_house_brackmann"]["banding"] == "grade"
    assert dictionary["subjects", "aetiology"]["banding"] == "cause"
    assert dictionary["subjects", "sex"]["banding"] == ""
    assert dictionary["subjects", "baseline_house_brackmann"]["allowed_values"] == f"1|2|3|4|5|6|1-3|4-6|{SUPPRESSED}"
    assert dictionary["subjects", "aetiology"]["allowed_values"].endswith(f"|not_bells_palsy|{SUPPRESSED}")
    assert {dictionary["subjects", c.name]["k"] for c in SUBJECTS.quasi_identifiers} == {"4"}
    assert dictionary["subjects", "subject_id"]["role"] == "key"
    assert dictionary["outcomes", "value"]["role"] == "outcome"
    assert dictionary["outcomes", "arm"]["role"] == "quasi-identifier"
    readme = archive.read("README.txt").decode()
    assert "k = 4 (study minimum min_k = 3)" in readme
    assert 'Suppressed: 4 cells of 4 subjects were replaced by "suppressed" (sex 4)' in readme
    assert "Never suppressed: arm" in readme


@pytest.mark.parametrize("path", ["subjects/", "injections/", ""])
@pytest.mark.parametrize("fmt", ["json", "csv", "zip"])
def test_a_tiny_study_is_refused_with_409_in_every_format(
    login, investigator, study, site_a, coordinator_a, bont_arm, data_manager, path, fmt
):
    study.min_k = 3
    study.save(update_fields=["min_k"])
    for _ in range(2):
        _subject(site_a, coordinator_a, bont_arm, data_manager)
    response = login(investigator).get(f"/api/v1/studies/{study.code}/dataset/{path}", {"format": fmt})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "k_anonymity_unreachable" and error["fields"] == {}
    assert "min_k = 3" in error["message"] and "arm bont-a: 2 subjects (1 more needed)" in error["message"]
    assert "min_k of at most 2" in error["message"]


def test_an_empty_study_is_served_with_no_k(login, investigator, study):
    study.min_k = 3
    study.save(update_fields=["min_k"])
    response = login(investigator).get(subjects_url(study))
    assert response.status_code == 200 and response["X-Dataset-K"] == "" and response.json()["results"] == []


def test_exact_values_when_every_group_is_large_enough(
    login, investigator, study, site_a, coordinator_a, bont_arm, data_manager
):
    study.min_k = 3
    study.save(update_fields=["min_k"])
    for _ in range(3):
        _subject(site_a, coordinator_a, bont_arm, data_manager, age=50)
    response = login(investigator).get(subjects_url(study))
    assert (response["X-Dataset-K"], response["X-Dataset-Age-Banding"]) == ("3", "years")
    assert response["X-Dataset-Onset-Banding"] == "months"
    assert [(r["age_years"], r["months_since_onset"]) for r in response.json()["results"]] == [("50", "12")] * 3


@pytest.mark.slow
def test_the_demo_trials_dataset_reaches_k_3_counted_from_its_own_csv(db, settings, tmp_path, login):
    """The demo generator's own 38 subjects (records only: the subjects table needs no photo score)."""
    from analysis import demo_trial

    settings.VAR_DIR = tmp_path
    demo = demo_trial.seed_demo_trial(photos=False)
    study = demo.study
    assert study.min_k == 3
    from django.contrib.auth import get_user_model

    client = login(get_user_model().objects.get(username="investigator"))
    response = client.get(subjects_url(study), {"format": "csv"})
    assert response.status_code == 200
    rows = _csv(response)
    assert len(rows) == study.patients.count() == demo_trial.DEFAULT_PATIENTS
    # Every column but the key, straight from the CSV: k >= 3, and the header tells the truth.
    assert _k_of(rows) >= 3 and response["X-Dataset-K"] == str(_k_of(rows))
    suppressed = {c: sum(r[c] == SUPPRESSED for r in rows) for c in rows[0] if c not in ("subject_id", "arm")}
    assert response["X-Dataset-Suppressed"] == ", ".join(f"{c}={n}" for c, n in suppressed.items())
    # Suppressed cells, never subjects, and never the arm.
    assert {r["arm"] for r in rows} == {"bont-a", "control"}
    # The information kept (docs/api.md has the figures): the ladder ending at 10-year ages and
    # 12-month bands, taken at its coarsest, suppressed 190 of the 304 suppressible cells, ages and
    # months since onset for all 38; choosing among the longer ladder by fewest cells needs 130.
    assert sum(suppressed.values()) <= 150, suppressed
    assert all(n < len(rows) for n in suppressed.values()), suppressed
    banding = {
        "age_years": response["X-Dataset-Age-Banding"],
        "months_since_onset": response["X-Dataset-Onset-Banding"],
        "baseline_house_brackmann": response["X-Dataset-House-Brackmann-Banding"],
        "aetiology": response["X-Dataset-Aetiology-Banding"],
    }
    assert banding in SUBJECT_LADDER


def test_the_schema_documents_every_header_and_the_409(login, investigator):
    from analysis.dataset.views import HEADERS

    schema = login(investigator).get("/api/schema/", {"format": "json"}).json()
    for path in ("subjects/", "injections/", ""):
        responses = schema["paths"][f"/api/v1/studies/{{study_code}}/dataset/{path}"]["get"]["responses"]
        assert set(responses["200"]["headers"]) == set(HEADERS), path
        assert responses["409"]["content"]["application/json"]["schema"]["required"] == ["error"]
        assert "min_k" in responses["409"]["description"]
