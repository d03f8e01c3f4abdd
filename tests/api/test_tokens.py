"""Tokens: hashed, one study, expiring, revocable with effect on the next request."""

from datetime import timedelta

from django.utils import timezone

from patients.models import ApiToken, StudyRole
from tests.api.conftest import subjects_url
from tests.conftest import _persona


def test_token_is_stored_hashed(api_client_token):
    stored = ApiToken.objects.get()
    assert api_client_token not in (stored.digest, stored.token_key)
    assert len(stored.digest) == 128  # SHA-512 hex


def test_api_client_token_reads_its_study_dataset(api_client_token, token_client, study, patient_a):
    response = token_client(api_client_token).get(subjects_url(study))
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 1


def test_token_records_last_use(api_client_token, token_client, study):
    token_client(api_client_token).get(subjects_url(study))
    assert ApiToken.objects.get().last_used_at is not None


def test_revoked_token_fails_at_once(api_client_token, token_client, study, data_manager):
    client = token_client(api_client_token)
    assert client.get(subjects_url(study)).status_code == 200
    ApiToken.objects.update(revoked_at=timezone.now(), revoked_by=data_manager)
    response = client.get(subjects_url(study))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert ApiToken.objects.exists()  # kept for the audit trail


def test_expired_token_fails_at_once(api_client_token, token_client, study):
    client = token_client(api_client_token)
    assert client.get(subjects_url(study)).status_code == 200
    ApiToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert client.get(subjects_url(study)).status_code == 401
    assert ApiToken.objects.exists()


def test_default_expiry_is_ninety_days(api_client_user, study, data_manager):
    token, _ = ApiToken.objects.create(user=api_client_user, study=study, client_name="x", created_by=data_manager)
    assert timedelta(days=89) < token.expiry - timezone.now() <= timedelta(days=90)


def test_token_of_one_study_cannot_read_another(other_study, other_study_api_user, issue_token, token_client, study):
    token = issue_token(other_study_api_user, other_study)
    response = token_client(token).get(subjects_url(study))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_token_carries_only_its_study_even_if_the_user_has_roles_elsewhere(
    api_client_user, other_study, issue_token, token_client, study
):
    _persona(other_study, "api_client", StudyRole.Role.API_CLIENT)  # same user, a role in both studies
    token = issue_token(api_client_user, other_study)
    client = token_client(token)
    assert client.get(subjects_url(other_study)).status_code == 200
    assert client.get(subjects_url(study)).status_code == 404


def test_bad_token_is_refused(token_client, study):
    response = token_client("0" * 64).get(subjects_url(study))
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_anonymous_request_is_refused(client, study):
    assert client.get(subjects_url(study)).status_code in (401, 403)


def test_outsider_logged_in_cannot_read_dataset(login, outsider, study):
    assert login(outsider).get(subjects_url(study)).status_code == 404


def test_coordinator_cannot_read_the_anonymized_dataset(login, coordinator_a, study):
    # The dataset spans every site; a coordinator's role is their own sites.
    response = login(coordinator_a).get(subjects_url(study))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_investigator_session_reads_the_dataset(login, investigator, study):
    assert login(investigator).get(subjects_url(study)).status_code == 200
