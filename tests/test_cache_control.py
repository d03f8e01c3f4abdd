"""Nothing rendered for a signed-in caller is kept in a cache: pages and API answers carry
`Cache-Control: no-store` (trialsite/cache_control.py), as the face images already do."""

import re

import pytest
from rest_framework.test import APIClient

from patients.api_tokens import api_token_issue
from tests.conftest import make_patient


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.fixture
def patient(site_a, coordinator_a):
    return make_patient(site_a, coordinator_a)


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator", "data_manager"])
def test_pages_for_a_signed_in_user_are_not_stored(request, login, persona, patient):
    client = login(request.getfixturevalue(persona))
    for url in ["/", "/patients/", f"/patients/{patient.pk}/", f"/patients/{patient.pk}/history/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert _no_store(response), f"{url} as {persona}: {response.get('Cache-Control')}"


def test_the_admin_is_not_stored(login, data_manager, patient):
    for url in ["/admin/", f"/admin/patients/patient/{patient.pk}/change/", "/admin/patients/apitoken/"]:
        assert _no_store(login(data_manager).get(url)), url


def test_every_api_read_is_not_stored(data_manager, api_client_user, study, patient):
    staff = APIClient()
    staff.force_login(data_manager)
    schema = staff.get("/api/schema/", {"format": "json"}).json()
    script = APIClient()
    _, token = api_token_issue(user=api_client_user, study=study, client_name="Script", lifetime=None, by=data_manager)
    script.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    reached = 0
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        url = path.format(study_code=study.code, id=patient.pk)
        assert not re.search(r"{\w+}", url), f"cannot fill {url}"
        query = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed"}
        for client in (staff, script):
            response = client.get(url, query)
            reached += response.status_code == 200
            assert _no_store(response), f"{url}: {response.status_code} {response.get('Cache-Control')}"
    assert reached >= 5


def test_an_anonymous_answer_is_not_marked(db, client):
    # The rule is keyed on who the answer was made for: nothing of the trial goes to the anonymous.
    response = client.get("/healthz/")
    assert response.status_code == 200 and not _no_store(response)
