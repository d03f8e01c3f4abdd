"""GET /api/v1/studies/{study_code}/summary/: who may see it, what it holds, and bad input."""

import json
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache
from scipy import stats

from analysis.summary import outcome_summary
from patients import services
from patients.models import ApiToken, StudyRole
from tests.conftest import _persona

from .conftest import MEASURED_BONT_A, MEASURED_CONTROL

URL = "/api/v1/studies/FACE-1/summary/"
QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed"}

A, B = MEASURED_BONT_A, MEASURED_CONTROL  # the `measured` fixture's patients (conftest)


def test_investigator_gets_descriptives_and_the_comparison(login, investigator, measured):
    response = login(investigator).get(URL, QUERY)
    assert response.status_code == 200
    body = response.json()
    assert body["engine_version"] and body["comparison_sign"] == "BoNT-A minus Control"
    visits = {v["code"]: v for v in body["visits"]}
    assert visits["baseline"]["arms"]["bont-a"]["mean"] == pytest.approx(3.5)
    assert visits["baseline"]["comparison"] is None
    assert visits["week-2"]["arms"]["bont-a"]["n"] == 0 and visits["week-2"]["arms"]["bont-a"]["missing"] == 3
    comparison = visits["week-12"]["comparison"]
    change_a = np.array([f - b for b, f in A])
    change_b = np.array([f - b for b, f in B])
    welch = stats.ttest_ind(change_a, change_b, equal_var=False)
    assert comparison["difference_in_change"]["estimate"] == pytest.approx(change_a.mean() - change_b.mean())
    assert comparison["difference_in_change"]["p"] == pytest.approx(welch.pvalue)
    assert comparison["mann_whitney_p"] == pytest.approx(
        stats.mannwhitneyu(change_a, change_b, alternative="two-sided").pvalue
    )
    assert set(comparison["ancova"]) >= {"estimate", "ci_low", "ci_high", "p"}
    assert comparison["responders"]["a"] == {"responders": 3, "n": 3}
    assert comparison["responders"]["b"] == {"responders": 0, "n": 3}
    assert "ancova" in body["methods"] and isinstance(body["exclusions"], list)


def test_json_is_the_summary_function_output(login, data_manager, study, measured):
    body = login(data_manager).get(URL, QUERY).json()
    # Floats survive JSON exactly (shortest repr), so the API's numbers are the function's to the last digit.
    assert body == json.loads(json.dumps(outcome_summary(study, **QUERY)))


def test_api_client_with_a_token(client, api_client_user, data_manager, study, measured):
    _, token = ApiToken.objects.create(user=api_client_user, study=study, client_name="Script", created_by=data_manager)
    response = client.get(URL, QUERY, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


def test_an_api_client_filters_by_the_coded_site_and_never_sees_its_code(
    client, login, api_client_user, investigator, data_manager, study, measured
):
    _, token = ApiToken.objects.create(user=api_client_user, study=study, client_name="Script", created_by=data_manager)
    auth = {"HTTP_AUTHORIZATION": f"Token {token}"}
    # Sites are coded in creation order, as in the anonymized dataset: LON is site-1, MAN site-2.
    coded = client.get(URL, {**QUERY, "site": "site-1"}, **auth)
    assert coded.status_code == 200 and coded.json()["site"] == "site-1"
    by_code = login(investigator).get(URL, {**QUERY, "site": "LON"}).json()
    assert {**coded.json(), "site": "LON"} == by_code
    refused = client.get(URL, {**QUERY, "site": "LON"}, **auth)
    message = refused.json()["error"]["fields"]["site"][0]
    assert refused.status_code == 400 and "site-1, site-2" in message
    assert "LON" not in message.replace("'LON'", "") and "MAN" not in message
    assert client.get(URL, QUERY, **auth).json()["site"] is None


def test_a_token_of_another_study_is_told_nothing(client, api_client_user, data_manager, study, measured):
    other = services.study_set_up(
        code="FACE-2", title="Other", sites=[("OXF", "Oxford")],
        max_units_per_point=Decimal("10"), max_units_per_session=Decimal("50"),
    )  # fmt: skip
    _persona(other, "api_client", StudyRole.Role.API_CLIENT)  # the same account, with a role in both
    _, token = ApiToken.objects.create(user=api_client_user, study=other, client_name="Script", created_by=data_manager)
    response = client.get(URL, QUERY, HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_coordinator_cannot_see_between_arm_results(login, coordinator_a, measured):
    response = login(coordinator_a).get(URL, QUERY)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied" and "coordinators do not see them" in error["message"]


def test_the_summary_is_throttled_per_token(client, api_client_user, data_manager, study, measured):
    from rest_framework.throttling import SimpleRateThrottle

    _, token = ApiToken.objects.create(user=api_client_user, study=study, client_name="Script", created_by=data_manager)
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {"burst": "2/min", "sustained": "1000/day"}
    cache.clear()
    try:
        codes = [client.get(URL, QUERY, HTTP_AUTHORIZATION=f"Token {token}").status_code for _ in range(3)]
        last = client.get(URL, QUERY, HTTP_AUTHORIZATION=f"Token {token}")
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
        cache.clear()
    assert codes == [200, 200, 429]
    assert last.status_code == 429 and int(last["Retry-After"]) > 0 and last.json()["error"]["code"] == "throttled"


def test_outsider_and_anonymous_are_told_nothing(client, login, outsider, measured):
    assert client.get(URL, QUERY).status_code in (401, 403)
    assert login(outsider).get(URL, QUERY).status_code == 404


@pytest.mark.parametrize(
    ("params", "field", "allowed_example"),
    [
        ({"metric": "nose_length", "expression": "smile_closed"}, "metric", "commissure_height_deviation_mm"),
        ({"metric": "commissure_height_deviation_mm", "expression": "wink"}, "expression", "smile_open"),
        ({**QUERY, "site": "PAR"}, "site", "LON"),
        ({**QUERY, "visit": "week-99"}, "visit", "week-12"),
        ({"expression": "smile_closed"}, "metric", "asymmetry_index"),
    ],
)
def test_unknown_values_get_400_listing_the_allowed_ones(login, investigator, study, params, field, allowed_example):
    response = login(investigator).get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert "Allowed:" in error["fields"][field][0] and allowed_example in error["fields"][field][0]


def test_site_and_visit_filters(login, investigator, measured):
    body = login(investigator).get(URL, {**QUERY, "site": "MAN", "visit": "week-12"}).json()
    assert [v["code"] for v in body["visits"]] == ["week-12"]
    assert body["visits"][0]["arms"]["bont-a"]["n"] == 0


def test_empty_study_never_errors(login, investigator, study):
    body = login(investigator).get(URL, QUERY).json()
    assert body["engine_version"] is None
    week12 = next(v for v in body["visits"] if v["code"] == "week-12")
    assert week12["comparison"]["ancova"]["not_estimable"]
    assert body["mixed_model"]["not_estimable"]


def _graded(trial, coordinator_a, patients):
    from .conftest import record_visit

    for arm, (baseline, week12) in patients:
        patient = trial.patient(arm)
        record_visit(patient, "baseline", by=coordinator_a, house_brackmann=baseline)
        record_visit(patient, "week-12", by=coordinator_a, house_brackmann=week12)


GRADED = [
    ("bont-a", (4, 2)), ("bont-a", (4, 3)), ("bont-a", (3, 3)), ("bont-a", (5, 3)), ("bont-a", (4, 4)),
    ("control", (4, 4)), ("control", (3, 3)), ("control", (4, 3)), ("control", (5, 5)), ("control", (3, 4)),
]  # fmt: skip


def test_a_grade_needs_no_expression_and_gets_ordinal_methods(login, investigator, trial, coordinator_a):
    from scipy import stats

    _graded(trial, coordinator_a, GRADED)
    response = login(investigator).get(URL, {"metric": "house_brackmann"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["metric"]["ordinal"] and [level["label"] for level in body["metric"]["levels"]] == [
        "I", "II", "III", "IV", "V", "VI",
    ]  # fmt: skip
    week12 = next(v for v in body["visits"] if v["code"] == "week-12")
    bont = week12["arms"]["bont-a"]
    assert bont["counts"] == {"1": 0, "2": 1, "3": 3, "4": 1, "5": 0, "6": 0}
    assert "mean" not in bont and "sd" not in bont, "no mean or SD of a grade"
    comparison = week12["comparison"]
    assert "ancova" not in comparison and "difference_in_change" not in comparison
    follow = {arm: [after for a, (_, after) in GRADED if a == arm] for arm in ("bont-a", "control")}
    assert comparison["mann_whitney"]["p"] == pytest.approx(
        stats.mannwhitneyu(follow["bont-a"], follow["control"], alternative="two-sided").pvalue
    )
    odds = comparison["proportional_odds"]
    assert odds["not_estimable"] is None and odds["ci_low"] < odds["estimate"] < odds["ci_high"]
    assert comparison["improved_one_grade"]["a"]["improved"] == 3
    assert body["mixed_model"]["not_estimable"]


def test_a_grade_with_an_expression_is_the_same_summary(login, investigator, trial, coordinator_a):
    _graded(trial, coordinator_a, GRADED)
    client = login(investigator)
    without = client.get(URL, {"metric": "house_brackmann"}).json()
    assert client.get(URL, {"metric": "house_brackmann", "expression": "rest"}).json() == without
    # A photo metric still needs its expression.
    assert client.get(URL, {"metric": "commissure_height_deviation_mm"}).status_code == 400


def test_the_schema_documents_the_expression_as_optional_with_its_values(login, investigator, study):
    """As the endpoint reads it: a grade needs no expression, so a client generated from the schema
    must be able to leave it out; the values a photo metric takes are still listed."""
    from measurements.models import Expression

    schema = login(investigator).get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/studies/{study_code}/summary/"]["get"]["parameters"]}

    assert parameters["metric"]["required"] is True
    assert parameters["expression"].get("required", False) is False
    assert sorted(parameters["expression"]["schema"]["enum"]) == sorted(Expression.values)
