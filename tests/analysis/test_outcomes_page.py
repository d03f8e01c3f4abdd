"""The investigator's outcomes page: access, choices, and the same numbers as the JSON."""

import pytest

from analysis.formatting import fmt_number, fmt_p
from patients.models import Patient

PAGE = "/studies/FACE-1/outcomes/"
API = "/api/v1/studies/FACE-1/summary/"
QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed", "visit": "week-12"}


def test_investigator_sees_the_page_with_the_json_numbers(login, investigator, measured):
    client = login(investigator)
    page = client.get(PAGE, QUERY).content.decode()
    body = client.get(API, QUERY).json()
    week12 = next(v for v in body["visits"] if v["code"] == "week-12")
    comparison = week12["comparison"]
    for number in (
        fmt_number(week12["arms"]["bont-a"]["mean"]),
        fmt_number(week12["arms"]["control"]["sd"]),
        fmt_number(comparison["ancova"]["estimate"]),
        fmt_number(comparison["ancova"]["ci_low"]),
        fmt_p(comparison["ancova"]["p"]),
        fmt_number(comparison["difference_in_change"]["ci_high"]),
        fmt_number(comparison["hedges_g"]["estimate"]),
        fmt_p(comparison["mann_whitney_p"]),
    ):
        assert number in page
    assert "ANCOVA (OLS) follow-up ~ arm + baseline" in page
    mixed = body["mixed_model"]
    assert fmt_number(mixed["estimates"]["week-12"]["estimate"]) in page
    assert f"between-patient variance {fmt_number(mixed['patient_variance'])}" in page
    assert body["engine_version"] in page


def test_data_manager_sees_the_page(login, data_manager, measured):
    assert login(data_manager).get(PAGE).status_code == 200


def test_coordinator_cannot_see_the_outcomes_page_or_the_link(login, coordinator_a, measured):
    client = login(coordinator_a)
    assert client.get(PAGE).status_code == 403
    assert "/outcomes/" not in client.get("/").content.decode()


def test_investigator_has_the_link(login, investigator):
    assert "/outcomes/" in login(investigator).get("/").content.decode()
    assert login(investigator).get("/outcomes/").url == PAGE


def test_outsider_gets_404(login, outsider, study):
    assert login(outsider).get(PAGE).status_code in (403, 404)


def test_unknown_choice_is_explained_on_the_page(login, investigator, study):
    response = login(investigator).get(PAGE, {**QUERY, "metric": "nose"})
    assert response.status_code == 400
    assert "commissure_height_deviation_mm" in response.content.decode()


@pytest.mark.parametrize("metric", ["commissure_height_signed_mm", "house_brackmann", "asymmetry_index"])
def test_other_metrics_render(login, investigator, measured, metric):
    assert login(investigator).get(PAGE, {**QUERY, "metric": metric}).status_code == 200


def test_empty_study_renders(login, investigator, study):
    response = login(investigator).get(PAGE)
    assert response.status_code == 200
    assert "not estimable" in response.content.decode().lower()


def test_the_outcomes_page_shows_harms_per_arm_without_free_text(login, investigator, measured, coordinator_a):
    from patients import services

    patient = Patient.objects.filter(arm__code="bont-a").first()
    services.adverse_event_record(
        patient=patient,
        by=coordinator_a,
        onset_date=patient.enrollment_date,
        term="other",
        term_other="HARMS-CANARY twitching",
        description="HARMS-CANARY details",
        severity="moderate",
        serious=True,
        seriousness_criterion="hospitalisation",
        relatedness="possible",
        action_taken="treated",
        outcome="recovering",
    )
    page = login(investigator).get(PAGE, QUERY).content.decode()
    assert "Harms: adverse events per arm" in page
    harms = page.split('id="harms-table"')[1].split("</table>")[0]
    bont_row = next(row for row in harms.split("<tr>") if "BoNT-A" in row)
    assert ">1 (33.3%)<" in bont_row, "one of the three BoNT-A patients had an event"
    assert "Serious adverse events" in page and patient.study_code in page
    assert "HARMS-CANARY" not in page, "the event's free text is never on this page"


def test_choices_and_tables_show_the_apps_labels_not_codes(login, investigator, measured):
    page = login(investigator).get(PAGE, QUERY).content.decode()
    assert '<option value="smile_closed" selected>Closed-lip smile</option>' in page
    assert '<option value="week-12" selected>Week 12</option>' in page
    assert ">smile_closed<" not in page and ">week-12<" not in page
    table1 = page.split('id="table1-table"')[1].split("</table>")[0]
    assert "<td>III</td>" in table1 and "Grade 3" not in table1, "House-Brackmann grades as the app writes them"
    assert "Closed-lip smile" in table1


def test_responders_are_labelled_by_arm_name_in_the_files(login, investigator, measured):
    import csv
    import io

    body = login(investigator).get("/studies/FACE-1/outcomes/files/comparison.csv", QUERY).content.decode()
    statistics = [row["statistic"] for row in csv.DictReader(io.StringIO(body))]
    responders = [s for s in statistics if s.startswith("Responders")]
    assert responders and all("BoNT-A" in s and "Control" in s for s in responders)
    assert not any(" (a)" in s or " (b)" in s or "Responders a " in s for s in statistics)


def test_a_grade_page_has_counts_per_grade_and_the_odds_ratio_headline(login, investigator, trial, coordinator_a):
    from .conftest import record_visit

    for arm, grades in (("bont-a", (4, 2)), ("bont-a", (4, 3)), ("bont-a", (3, 3)), ("control", (4, 4)),
                        ("control", (3, 4)), ("control", (4, 3))):  # fmt: skip
        patient = trial.patient(arm)
        record_visit(patient, "baseline", by=coordinator_a, house_brackmann=grades[0])
        record_visit(patient, "week-12", by=coordinator_a, house_brackmann=grades[1])
    client = login(investigator)
    page = client.get(PAGE, {**QUERY, "metric": "house_brackmann"}).content.decode()
    per_arm = page.split('id="per-arm-table"')[1].split("</table>")[0]
    assert ">VI</th>" in per_arm and ">Mean<" not in per_arm and ">SD<" not in per_arm
    assert "Proportional-odds model, common odds ratio" in page and "ANCOVA" not in page
    svg = client.get(
        "/studies/FACE-1/outcomes/files/scatter.svg", {**QUERY, "metric": "commissure_height_deviation_mm"}
    )
    ticks = _tick_labels(svg.content, "ytick_")
    assert ticks and set(ticks) <= {"I", "II", "III", "IV", "V", "VI"}, ticks


def _tick_labels(svg: bytes, prefix: str) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg)
    labels = []
    for element in root.iter():
        if (element.get("id") or "").startswith(prefix):
            labels += [t.text.strip() for t in element.iter() if t.tag.endswith("text") and t.text and t.text.strip()]
    return labels
