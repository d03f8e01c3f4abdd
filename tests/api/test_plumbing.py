"""Errors, throttling, the schema and its docs."""

import re

from tests.api.conftest import injections_url, subjects_url


def test_unknown_api_path_answers_in_the_error_shape(login, investigator):
    response = login(investigator).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "No such endpoint.", "fields": {}}}


def test_bad_filter_gets_the_forms_message_per_field(login, investigator, study):
    response = login(investigator).get(injections_url(study), {"visit": "week-99"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"visit": ["Select a valid choice. week-99 is not one of the available choices."]}


def test_throttle_answers_429_with_retry_after(api_client_token, token_client, study, throttle_rates):
    throttle_rates("3/min")
    client = token_client(api_client_token)
    assert [client.get(subjects_url(study)).status_code for _ in range(4)] == [200, 200, 200, 429]
    response = client.get(subjects_url(study))
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "throttled"


def test_sustained_rate_applies_too(api_client_token, token_client, study, throttle_rates):
    throttle_rates("100/min", "2/day")
    client = token_client(api_client_token)
    assert [client.get(subjects_url(study)).status_code for _ in range(3)] == [200, 200, 429]


def test_throttle_counts_per_token(api_client_token, api_client_user, issue_token, token_client, study, throttle_rates):
    throttle_rates("2/min")
    first = token_client(api_client_token)
    assert [first.get(subjects_url(study)).status_code for _ in range(3)] == [200, 200, 429]
    second = token_client(issue_token(api_client_user, study, client_name="Registry"))
    assert second.get(subjects_url(study)).status_code == 200


def test_schema_requires_login(client):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client.get("/api/docs/").status_code in (401, 403)


def test_schema_refuses_a_login_without_a_role(login, outsider):
    assert login(outsider).get("/api/schema/").status_code == 403


def test_schema_lists_the_dataset_endpoints(login, investigator):
    response = login(investigator).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/studies/{study_code}/dataset/subjects/" in paths
    assert "/api/v1/studies/{study_code}/dataset/injections/" in paths


def test_docs_page_loads_nothing_from_outside(login, investigator):
    response = login(investigator).get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    external = re.findall(r"""(?:src|href)\s*=\s*["'](https?:)?//""", page) + re.findall(
        r"https?://(?!testserver)", page
    )
    assert external == []
    assert "/static/drf_spectacular_sidecar/" in page


def test_docs_static_files_ship_with_the_app(login, investigator):
    from django.contrib.staticfiles import finders

    page = login(investigator).get("/api/docs/").content.decode()
    paths = re.findall(r"""["']/static/(drf_spectacular_sidecar/[^"']+)["']""", page)
    assert any(p.endswith("swagger-ui-bundle.js") for p in paths)
    for path in paths:
        assert finders.find(path), path  # collected by collectstatic, served by whitenoise


def test_unknown_api_path_answers_json_to_a_post_too(api_client_token, token_client):
    client = token_client(api_client_token)
    client.handler.enforce_csrf_checks = True
    response = client.post("/api/v1/studies/X/patients/-1/visits/", {})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
