"""Tokens only for API-client accounts: the admin form, the service, the database and the migration
that revoked the others; and the digest, a credential, printed on no admin page."""

import importlib
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from patients.api_tokens import api_token_issue
from patients.models import ApiToken, StudyRole
from tests.api.conftest import subjects_url
from tests.conftest import _persona

ADD = "/admin/patients/apitoken/add/"
LIST = "/admin/patients/apitoken/"
MIGRATION = "0008_api_tokens_for_api_clients_only"


def _issue(user, study, by):
    return api_token_issue(user=user, study=study, client_name="Script", lifetime=timedelta(days=30), by=by)


def test_the_admin_form_offers_api_clients_only(login, data_manager, api_client_user, coordinator_a, investigator):
    page = login(data_manager).get(ADD).content.decode()
    assert f'value="{api_client_user.pk}"' in page
    for staff in (coordinator_a, investigator, data_manager):
        assert f'value="{staff.pk}"' not in page


def test_the_admin_form_refuses_a_coordinator(login, data_manager, coordinator_a, study):
    data = {"client_name": "Coordinator's script", "study": study.pk, "user": coordinator_a.pk, "expires_in_days": 30}
    response = login(data_manager).post(ADD, data)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_admin_form_refuses_an_api_client_that_is_also_staff_in_that_study(
    login, data_manager, api_client_user, study, other_study
):
    # An API client here and a coordinator in the other study: offered (a client somewhere), refused for there.
    _persona(other_study, "api_client", StudyRole.Role.COORDINATOR, "OXF")
    data = {"client_name": "Script", "study": study.pk, "user": api_client_user.pk, "expires_in_days": 30}
    assert login(data_manager).post(ADD, data).status_code == 302  # issued: in this study it is a client only
    StudyRole.objects.create(user=api_client_user, study=study, role=StudyRole.Role.INVESTIGATOR)
    response = login(data_manager).post(ADD, {**data, "client_name": "Second"})
    assert "one role in the study is API client" in response.content.decode()
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator", "data_manager", "outsider"])
def test_the_service_refuses_every_account_but_an_api_client(request, persona, study, data_manager):
    with pytest.raises(ValidationError) as error:
        _issue(request.getfixturevalue(persona), study, data_manager)
    assert "one role in the study is API client" in str(error.value.message_dict["user"])
    assert not ApiToken.objects.exists()


def test_the_service_refuses_an_account_with_a_second_role(api_client_user, study, data_manager):
    StudyRole.objects.create(user=api_client_user, study=study, role=StudyRole.Role.INVESTIGATOR)
    with pytest.raises(ValidationError, match="api_client, investigator"):
        _issue(api_client_user, study, data_manager)


def test_the_database_refuses_a_coordinators_token(coordinator_a, api_client_user, study, data_manager):
    # knox's own manager skips the model's validation: the trigger (migration 0008) still refuses.
    with pytest.raises(IntegrityError, match="one role in the study is API client"), transaction.atomic():
        ApiToken.objects.create(user=coordinator_a, study=study, client_name="x", created_by=data_manager)
    token, _ = ApiToken.objects.create(user=api_client_user, study=study, client_name="x", created_by=data_manager)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.filter(pk=token.pk).update(user=coordinator_a)


def test_a_token_carries_only_the_api_client_role(api_client_user, study, data_manager, patient_a, token_client):
    _, text = _issue(api_client_user, study, data_manager)
    # Given a data manager's role afterwards (as the admin could), the account's token still cannot read records.
    StudyRole.objects.create(user=api_client_user, study=study, role=StudyRole.Role.DATA_MANAGER)
    client = token_client(text)
    assert client.get(f"/api/v1/studies/{study.code}/patients/").status_code == 403
    assert client.get(subjects_url(study)).status_code == 200


def test_the_digest_is_on_no_admin_page_of_tokens(login, data_manager, api_client_user, study, token_client):
    token, text = _issue(api_client_user, study, data_manager)
    client = login(data_manager)
    client.post(LIST, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_by == data_manager  # the checkbox's value (the surrogate id) reached the action
    pages = {
        "list": client.get(LIST),
        "change": client.get(f"{LIST}{token.pk}/change/"),
        "history": client.get(f"{LIST}{token.pk}/history/"),
        "delete": client.get(f"{LIST}{token.pk}/delete/"),
        "add": client.get(ADD),
    }
    assert pages["list"].status_code == pages["change"].status_code == pages["history"].status_code == 200
    assert pages["delete"].status_code == 403  # revoked, never deleted
    assert token.token_key in pages["list"].content.decode()  # the page does list the token
    for name, response in pages.items():
        html = response.content.decode()
        assert token.digest not in html and text not in html, name
    assert str(token.pk) != token.digest


def _migrate(target):
    with connection.cursor() as cursor:
        # The test's own rows have deferred foreign-key checks pending, which PostgreSQL will not
        # let an ALTER TABLE pass; `migrate` itself starts with none.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    executor = MigrationExecutor(connection)
    executor.migrate([("patients", target)])
    return executor.loader.project_state([("patients", target)]).apps


def test_the_migration_revokes_other_accounts_tokens_and_reports_them(
    api_client_user, coordinator_a, study, data_manager, capsys, token_client
):
    _, client_text = _issue(api_client_user, study, data_manager)
    previous = importlib.import_module(f"patients.migrations.{MIGRATION}").Migration.dependencies[0][1]
    try:
        old_apps = _migrate(previous)
        OldToken = old_apps.get_model("patients", "ApiToken")
        assert OldToken._meta.pk.name == "digest"
        OldToken.objects.create(
            digest="c" * 128,
            token_key="coordinatorkey1",
            user_id=coordinator_a.pk,
            study_id=study.pk,
            client_name="Coordinator's script",
            created_by_id=data_manager.pk,
        )
        capsys.readouterr()
    finally:
        # Forward to the latest migration, not just to MIGRATION: the models the rest of the test
        # (and the next tests) query have every later column (Study.scales, patients 0014).
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("patients")[0][1])
    report = capsys.readouterr().out
    assert "Revoked 1 API token(s)" in report and "coordinatorkey1" in report and "coordinator" in report
    revoked = ApiToken.objects.get(token_key="coordinatorkey1")
    assert revoked.revoked_at is not None and revoked.revoked_by is None
    assert "coordinator" in revoked.revocation_reason
    # The API client's token was left alone and still authenticates, now under a surrogate key.
    kept = ApiToken.objects.exclude(pk=revoked.pk).get()
    assert kept.revoked_at is None and isinstance(kept.pk, int)
    assert token_client(client_text).get(subjects_url(study)).status_code == 200
