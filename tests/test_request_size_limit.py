"""An oversized request is refused from its Content-Length before Django reads the body,
and the proxy limit documented in docs/deployment.md is the same number."""

import re
from pathlib import Path

import pytest

from measurements.middleware import RequestSizeLimitMiddleware, request_body_limit_mb
from measurements.models import Photo

REPO = Path(__file__).resolve().parent.parent


def test_the_limit_is_eight_photos_at_the_photo_limit_plus_the_form(settings):
    settings.PHOTO_MAX_UPLOAD_MB = 25
    assert request_body_limit_mb() == 8 * 25 + 1


def test_the_documented_proxy_limit_matches_the_app(settings):
    settings.PHOTO_MAX_UPLOAD_MB = 25  # the documented default
    docs = (REPO / "docs" / "deployment.md").read_text()

    documented = re.findall(r"client_max_body_size (\d+)m;", docs)

    assert documented == [str(request_body_limit_mb())]


def test_the_middleware_comes_first(settings):
    assert settings.MIDDLEWARE[0] == f"{RequestSizeLimitMiddleware.__module__}.RequestSizeLimitMiddleware"


@pytest.mark.django_db
def test_an_oversized_upload_is_refused_from_its_declared_size_with_a_clear_page(client, coordinator_a, settings):
    client.force_login(coordinator_a)
    declared = (request_body_limit_mb() + 1) * 1024 * 1024
    body_was_read = []

    class Unreadable:
        # Django's request would read its body from here: it must not.
        def read(self, *args):
            body_was_read.append(True)
            return b""

        readline = read

    response = client.post(
        "/patients/1/visits/1/photos/",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": Unreadable()},
    )

    assert response.status_code == 413
    page = response.content.decode()
    assert "Upload too large" in page
    assert f"the most one page accepts is {request_body_limit_mb()} MB" in page
    assert "Nothing was saved" in page
    assert body_was_read == []
    assert Photo.objects.count() == 0


@pytest.mark.django_db
def test_a_request_within_the_limit_reaches_the_view(client):
    response = client.post("/accounts/login/", {"username": "x", "password": "y"}, REMOTE_ADDR="192.0.2.1")

    assert response.status_code == 200
