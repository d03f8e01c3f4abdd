"""Repeated failed sign-ins lock the account out (django-axes), per user name and address."""

import pytest
from django.conf import settings

from tests.conftest import PASSWORD

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


def test_the_lock_out_is_per_user_name_and_address(client, coordinator_a, coordinator_b):
    fail(client, coordinator_a.username, 5)

    other_user_same_address = sign_in(client, coordinator_b.username, PASSWORD)
    client.logout()
    same_user_other_address = sign_in(client, coordinator_a.username, PASSWORD, address="198.51.100.20")

    assert other_user_same_address.status_code == 302
    assert same_user_other_address.status_code == 302
    assert is_signed_in(client)
