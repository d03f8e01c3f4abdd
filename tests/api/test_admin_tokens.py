"""Data managers issue and revoke tokens, and rotate pseudonym keys, in the admin."""

import re

from django.contrib.messages import get_messages

from patients.models import ApiToken, PseudonymKey, SubjectPseudonym
from tests.api.conftest import subjects_url

ADD = "/admin/patients/apitoken/add/"
LIST = "/admin/patients/apitoken/"


def _issue(client, study, user, **extra):
    data = {"client_name": "Registry export", "study": study.pk, "user": user.pk, "expires_in_days": 30, **extra}
    return client.post(ADD, data, follow=True)


def test_data_manager_issues_a_token_shown_once(login, data_manager, api_client_user, study, token_client):
    form = login(data_manager).get(ADD)
    assert form.status_code == 200 and "expires_in_days" in form.content.decode()
    response = _issue(login(data_manager), study, api_client_user)
    assert response.status_code == 200
    shown = " ".join(str(m) for m in get_messages(response.wsgi_request)) + response.content.decode()
    token = re.search(r"Token for Registry export: ([0-9a-f]{64})", shown).group(1)
    stored = ApiToken.objects.get()
    assert (stored.client_name, stored.study, stored.user, stored.created_by) == (
        "Registry export",
        study,
        api_client_user,
        data_manager,
    )
    assert token not in stored.digest
    assert token_client(token).get(subjects_url(study)).status_code == 200
    # Never shown again: not on the list, not on the token's page.
    assert token not in login(data_manager).get(LIST).content.decode()
    assert token not in login(data_manager).get(f"{LIST}{stored.pk}/change/").content.decode()


def test_data_manager_cannot_issue_for_another_study(login, data_manager, other_study, other_study_api_user):
    response = _issue(login(data_manager), other_study, other_study_api_user)
    assert not ApiToken.objects.exists()
    assert "Select a valid choice" in response.content.decode()


def test_token_user_needs_a_role_in_the_study(login, data_manager, outsider, study):
    _issue(login(data_manager), study, outsider)
    assert not ApiToken.objects.exists()


def test_data_manager_revokes_and_the_next_request_fails(login, data_manager, api_client_token, token_client, study):
    client = token_client(api_client_token)
    assert client.get(subjects_url(study)).status_code == 200
    token = ApiToken.objects.get()
    login(data_manager).post(LIST, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_by == data_manager
    assert client.get(subjects_url(study)).status_code == 401


def test_coordinator_cannot_reach_the_token_admin(login, coordinator_a):
    assert login(coordinator_a).get(ADD).status_code in (302, 403)


def test_data_manager_rotates_the_pseudonym_key_with_a_reason(login, data_manager, investigator, study, patient_a):
    before = login(investigator).get(subjects_url(study)).json()["results"][0]["subject_id"]
    client = login(data_manager)
    key = PseudonymKey.objects.get(study=study)  # made by the first export
    page = f"/admin/patients/pseudonymkey/{key.pk}/change/"
    refused = client.post(page, {"reason": ""})
    assert refused.status_code == 200 and SubjectPseudonym.objects.get().subject_id == before
    client.post(page, {"reason": "Annual rotation"})
    key.refresh_from_db()
    assert (key.rotated_by, key.rotation_reason) == (data_manager, "Annual rotation")
    after = login(investigator).get(subjects_url(study)).json()["results"][0]["subject_id"]
    assert after != before
    assert key.secret not in client.get(f"/admin/patients/pseudonymkey/{key.pk}/change/").content.decode()
