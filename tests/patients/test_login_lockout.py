"""Repeated failed sign-ins lock out (django-axes) the user name from any address, and the address.

The address axes records is the connection's, never a client-supplied X-Forwarded-For;
behind our own proxy (BEHIND_TLS_PROXY) it is the right-most entry, the one the proxy appended.
"""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import RequestFactory

from tests.conftest import PASSWORD
from trialsite.client_address import client_address

LOGIN_URL = "/accounts/login/"
ADDRESS = "203.0.113.7"
LOCKED_OUT = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def pages(settings):
    """Pages render without collectstatic: the manifest of static files is the deployment's business."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def sign_in(client, username, password, address=ADDRESS):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address, secure=True)


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times, address=ADDRESS):
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", address)
        assert not is_signed_in(client)
    return response


def test_the_limit_is_five_failures():
    assert settings.AXES_FAILURE_LIMIT == 5


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client, coordinator_a):
    response = sign_in(client, coordinator_a.username, "wrong-password")

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not is_signed_in(client)


def test_five_failures_lock_the_user_out_even_with_the_right_password(client, coordinator_a):
    fifth = fail(client, coordinator_a.username, 5)

    right_password = sign_in(client, coordinator_a.username, PASSWORD)

    assert fifth.status_code == right_password.status_code == 429
    assert LOCKED_OUT in right_password.content.decode()
    assert not is_signed_in(client)


def test_four_failures_do_not_lock_the_user_out(client, coordinator_a):
    fail(client, coordinator_a.username, 4)

    response = sign_in(client, coordinator_a.username, PASSWORD)

    assert response.status_code == 302
    assert is_signed_in(client)


def test_a_successful_sign_in_before_the_limit_resets_the_count(client, coordinator_a):
    fail(client, coordinator_a.username, 4)
    assert sign_in(client, coordinator_a.username, PASSWORD).status_code == 302
    client.logout()

    fail(client, coordinator_a.username, 4)
    response = sign_in(client, coordinator_a.username, PASSWORD)

    assert response.status_code == 302
    assert is_signed_in(client)


def test_one_address_trying_many_accounts_is_locked_and_other_addresses_are_not(client, coordinator_a, coordinator_b):
    for n in range(5):
        sign_in(client, f"guess{n}", "wrong-password")

    same_address = sign_in(client, coordinator_b.username, PASSWORD)
    other_address = sign_in(client, coordinator_a.username, PASSWORD, address="198.51.100.20")

    assert same_address.status_code == 429
    assert other_address.status_code == 302
    assert is_signed_in(client)


def test_twenty_wrong_passwords_each_with_a_forged_forwarded_for_are_locked(client, coordinator_a):
    responses = [
        client.post(
            LOGIN_URL,
            {"username": coordinator_a.username, "password": "wrong-password"},
            REMOTE_ADDR=ADDRESS,
            HTTP_X_FORWARDED_FOR=f"10.0.{n}.{n}",
            secure=True,
        )
        for n in range(20)
    ]

    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert {r.status_code for r in responses[4:]} == {429}
    assert sign_in(client, coordinator_a.username, PASSWORD).status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ADDRESS}


def test_a_guess_spread_over_many_addresses_locks_the_account(client, coordinator_a):
    for n in range(5):
        sign_in(client, coordinator_a.username, "wrong-password", address=f"198.51.100.{n + 1}")

    from_a_new_address = sign_in(client, coordinator_a.username, PASSWORD, address="192.0.2.99")

    assert from_a_new_address.status_code == 429
    assert LOCKED_OUT in from_a_new_address.content.decode()
    assert not is_signed_in(client)


def test_the_client_address_is_the_connection_unless_behind_our_proxy(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")

    settings.BEHIND_TLS_PROXY = False
    assert client_address(request) == "192.0.2.10"
    settings.BEHIND_TLS_PROXY = True
    assert client_address(request) == "203.0.113.5", "the right-most entry is the one our proxy appended"
    assert client_address(RequestFactory().get("/", REMOTE_ADDR="192.0.2.10")) == "192.0.2.10"


def test_a_data_manager_unlocks_a_locked_account_in_the_admin(client, coordinator_a, data_manager):
    fail(client, coordinator_a.username, 5)
    assert sign_in(client, coordinator_a.username, PASSWORD).status_code == 429
    attempt = AccessAttempt.objects.get(username=coordinator_a.username)

    client.force_login(data_manager)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert coordinator_a.username in listing.content.decode()
    unlocked = client.post(
        "/admin/axes/accessattempt/", {"action": "unlock", "_selected_action": [attempt.pk]}, follow=True
    )
    assert f"Unlocked: {coordinator_a.username}." in unlocked.content.decode()
    client.logout()

    assert sign_in(client, coordinator_a.username, PASSWORD).status_code == 302


def test_coordinators_cannot_reach_the_lock_out_list(client, coordinator_a):
    coordinator_a.is_staff = True  # even with staff status: the role decides
    coordinator_a.save()
    client.force_login(coordinator_a)

    # The admin site itself admits data managers only (patients/admin_scope.py): back to its sign-in.
    response = client.get("/admin/axes/accessattempt/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_lock_out_list_names_no_account_of_another_study(client, study, coordinator_a, data_manager):
    from patients import services
    from patients.models import StudyRole
    from tests.conftest import _persona

    other = services.study_set_up(code="ROMA", title="Another study", sites=[("ROM", "Rome")])
    rome = _persona(other, "coord_rome", StudyRole.Role.COORDINATOR, "ROM")
    fail(client, rome.username, 5, address="192.0.2.31")
    fail(client, coordinator_a.username, 5, address="192.0.2.32")
    fail(client, "nobody-by-this-name", 5, address="192.0.2.33")

    client.force_login(data_manager)
    listed = {a.username for a in client.get("/admin/axes/accessattempt/").context["cl"].result_list}
    assert listed == {coordinator_a.username, "nobody-by-this-name"}
