"""Sessions on a shared clinic workstation: they end after SESSION_IDLE_MINUTES without a
request and when the browser closes; face images are never kept in the browser's cache."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends import db as session_db
from django.utils import timezone

from tests.conftest import PASSWORD
from tests.test_settings import PRODUCTION_SECRET_KEY, _run

LOGIN_URL = "/accounts/login/"


def sign_in(client, user):
    response = client.post(LOGIN_URL, {"username": user.username, "password": PASSWORD}, REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 302
    return response


def at(monkeypatch, minutes_from_now):
    later = timezone.now() + timedelta(minutes=minutes_from_now)
    monkeypatch.setattr(session_db.timezone, "now", lambda: later)


def test_the_idle_timeout_is_thirty_minutes_by_default(settings):
    assert settings.SESSION_IDLE_MINUTES == 30
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_the_session_cookie_ends_with_the_browser(client, coordinator_a):
    response = sign_in(client, coordinator_a)

    cookie = response.cookies["sessionid"]
    assert cookie["expires"] == "" and cookie["max-age"] == "", "a persistent cookie survives closing the browser"


def test_a_session_idle_for_longer_than_the_timeout_is_signed_out(client, coordinator_a, monkeypatch):
    sign_in(client, coordinator_a)
    at(monkeypatch, 31)

    response = client.get("/patients/")

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN_URL)


def test_each_request_pushes_the_idle_timeout_forward(client, coordinator_a, monkeypatch):
    sign_in(client, coordinator_a)
    # Django writes the new expiry with its own clock: move every clock it reads.
    later = timezone.now() + timedelta(minutes=20)
    monkeypatch.setattr(timezone, "now", lambda: later)
    monkeypatch.setattr(session_db.timezone, "now", lambda: later)
    assert client.get("/patients/").status_code == 200

    much_later = later + timedelta(minutes=20)  # 40 minutes after sign-in, 20 after the last request
    monkeypatch.setattr(timezone, "now", lambda: much_later)
    monkeypatch.setattr(session_db.timezone, "now", lambda: much_later)

    assert client.get("/patients/").status_code == 200


@pytest.mark.slow
def test_the_idle_timeout_comes_from_the_environment():
    code = "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, s.SESSION_EXPIRE_AT_BROWSER_CLOSE)"
    result = _run(["-c", code], DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, SESSION_IDLE_MINUTES="15")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["900", "True"]
