"""What an API client meets first: the API root, errors that say what to do, paging that is not
throttled into failure, and a docs page that says where to sign in."""

from datetime import timedelta

from django.utils import timezone

from patients.models import ApiToken
from tests.api.conftest import make_subject, subjects_url

ROOT = "/api/v1/"


def test_the_root_lists_the_tokens_study_with_the_links_its_role_may_follow(
    api_client_token, token_client, study, other_study
):
    response = token_client(api_client_token).get(ROOT)

    assert response.status_code == 200
    body = response.json()
    assert [entry["code"] for entry in body["studies"]] == [study.code]
    entry = body["studies"][0]
    assert entry["roles"] == ["api_client"]
    assert set(entry["links"]) == {"dataset", "subjects", "injections", "summary"}  # no patients
    assert entry["links"]["subjects"] == f"http://testserver{subjects_url(study)}"
    assert body["schema"] == "http://testserver/api/schema/"


def test_every_link_of_the_root_answers(api_client_token, token_client, investigator, login, study):
    for client in (token_client(api_client_token), login(investigator)):
        for entry in client.get(ROOT).json()["studies"]:
            for name, url in entry["links"].items():
                params = {"metric": "house_brackmann", "expression": "rest"} if name == "summary" else {}
                assert client.get(url, params).status_code == 200, url


def test_a_staff_login_sees_the_records_link(login, investigator, study):
    entry = login(investigator).get(ROOT).json()["studies"][0]
    assert "patients" in entry["links"] and "dataset" in entry["links"]


def test_a_coordinator_gets_records_but_no_dataset_links(login, coordinator_a, study):
    entry = login(coordinator_a).get(ROOT).json()["studies"][0]
    assert set(entry["links"]) == {"patients"}


def test_the_root_needs_a_role(client, login, outsider):
    assert client.get(ROOT).status_code == 401
    assert login(outsider).get(ROOT).status_code == 403


def test_a_bearer_token_is_told_the_expected_scheme(api_client_token, study):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_client_token}")
    response = client.get(subjects_url(study))

    assert response.status_code == 401
    message = response.json()["error"]["message"]
    assert "Authorization: Token <token>" in message and "Bearer" in message


def test_a_revoked_token_says_revoked(api_client_token, token_client, study, data_manager):
    ApiToken.objects.update(revoked_at=timezone.now(), revoked_by=data_manager)
    response = token_client(api_client_token).get(subjects_url(study))

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("This token was revoked on ")


def test_an_expired_token_says_expired(api_client_token, token_client, study):
    ApiToken.objects.update(expiry=timezone.now() - timedelta(days=1))
    response = token_client(api_client_token).get(subjects_url(study))

    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("This token expired on ")


def test_a_wrong_token_is_still_just_invalid(api_client_token, token_client, study, data_manager):
    ApiToken.objects.update(revoked_at=timezone.now(), revoked_by=data_manager)
    wrong = api_client_token[:-4] + ("0000" if not api_client_token.endswith("0000") else "1111")
    response = token_client(wrong).get(subjects_url(study))

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."  # says nothing about someone else's token


def test_the_docs_page_without_a_login_links_the_login(client):
    response = client.get("/api/docs/")

    assert response.status_code == 401
    page = response.content.decode()
    assert 'href="/accounts/login/?next=/api/docs/"' in page
    assert "Authorization: Token" in page


def test_paging_through_a_table_is_not_throttled_into_failure(
    investigator, study, site_a, coordinator_a, session_client, throttle_rates
):
    throttle_rates("2/min")
    for _ in range(5):
        make_subject(site_a, coordinator_a)
    client = session_client(investigator)  # counted per user, as a token is per token
    url = f"/api/v1/studies/{study.code}/patients/"
    statuses, pages = [], 0
    response = client.get(url, {"page_size": 1})
    while True:
        statuses.append(response.status_code)
        pages += 1
        if response.status_code != 200 or response.json()["next"] is None:
            break
        response = client.get(response.json()["next"])

    assert pages == 5 > 2  # more pages than the per-minute rate
    assert set(statuses) == {200}
    # A new pull is a first page again, and counted.
    assert [client.get(url).status_code for _ in range(2)] == [200, 429]


def test_pages_still_count_against_the_daily_rate(
    investigator, study, site_a, coordinator_a, session_client, throttle_rates
):
    throttle_rates("100/min", "3/day")
    for _ in range(5):
        make_subject(site_a, coordinator_a)
    client = session_client(investigator)  # counted per user, as a token is per token
    response = client.get(f"/api/v1/studies/{study.code}/patients/", {"page_size": 1})
    statuses = [response.status_code]
    while response.status_code == 200 and response.json()["next"]:
        response = client.get(response.json()["next"])
        statuses.append(response.status_code)

    assert statuses == [200, 200, 200, 429]
