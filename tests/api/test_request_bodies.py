"""A body that is not a JSON object, not JSON at all, or too large gets a 4xx in the API's error
shape on every write endpoint (found in the schema), never a 500 and never a partial write."""

import http.client
import socket
import threading
from io import BytesIO

import pytest
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application

from measurements.models import Photo
from patients import services
from patients.api_plumbing import NOT_AN_OBJECT, JSONObjectParser, RequestTooLarge, json_body_limit_bytes
from patients.models import InjectionSession, Patient, Visit
from tests.conftest import make_patient, record_treatment

from .openapi import WRITE_METHODS, body_types, fill, operations

DEEP = "[" * 20_000
NOT_OBJECTS = {"array": "[]", "pair": "[1, 2]", "string": '"hello"', "number": "42", "null": "null"}


@pytest.fixture
def treated(site_a, coordinator_a, data_manager, bont_arm):
    patient = make_patient(site_a, coordinator_a)
    patient = services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Set-up")
    visit, session = record_treatment(patient, coordinator_a)
    return patient, visit, session


@pytest.fixture
def coordinator(coordinator_a, study, session_client):
    """Signed in, as staff use the API (tokens are for API clients), with the CSRF pair a write needs."""
    return session_client(coordinator_a, csrf=True)


def write_urls(study, treated):
    patient, visit, session = treated
    ids = {"study_code": study.code, "id": patient.pk, "visit_pk": visit.pk, "session_pk": session.pk}
    found = [(method, fill(path, **ids), operation) for method, path, operation in operations(WRITE_METHODS)]
    assert len(found) >= 9, "the schema lists fewer write operations than the API has"
    return found


def record_counts():
    return (Patient.objects.count(), Visit.objects.count(), InjectionSession.objects.count(), Photo.objects.count())


def send(client, method, url, body, content_type="application/json"):
    return getattr(client, method)(url, data=body, content_type=content_type)


@pytest.mark.parametrize("kind", sorted(NOT_OBJECTS))
def test_a_json_body_that_is_not_an_object_is_a_400_everywhere(kind, coordinator, study, treated):
    before = record_counts()
    for method, url, operation in write_urls(study, treated):
        if body_types(operation) == ["multipart/form-data"]:
            continue  # the photo upload takes no JSON at all: below
        response = send(coordinator, method, url, NOT_OBJECTS[kind])

        assert response.status_code == 400, (method, url, response.content)
        assert response.json()["error"] == {"code": "parse_error", "message": NOT_AN_OBJECT, "fields": {}}
    assert record_counts() == before
    assert Patient.objects.get(pk=treated[0].pk).status != "withdrawn"


def test_deep_nesting_is_a_400_not_a_recursion_crash(coordinator, study, treated):
    before = record_counts()
    for method, url, operation in write_urls(study, treated):
        if body_types(operation) == ["multipart/form-data"]:
            continue
        response = send(coordinator, method, url, DEEP)

        assert response.status_code == 400, (method, url, response.content)
        assert response.json()["error"]["message"] == "The JSON body is nested too deeply."
    assert record_counts() == before


def test_malformed_json_is_a_400_naming_the_problem(coordinator, study, treated):
    for method, url, operation in write_urls(study, treated):
        if body_types(operation) == ["multipart/form-data"]:
            continue
        response = send(coordinator, method, url, '{"reason": ')

        assert response.status_code == 400, (method, url)
        assert response.json()["error"]["message"].startswith("The body is not valid JSON")


def test_a_body_of_another_content_type_is_a_415(coordinator, study, treated):
    before = record_counts()
    for method, url, operation in write_urls(study, treated):
        expected = "multipart/form-data" if body_types(operation) == ["multipart/form-data"] else "application/json"
        for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
            response = send(coordinator, method, url, "reason=typo", content_type=content_type)

            assert response.status_code == 415, (method, url, content_type, response.content)
            error = response.json()["error"]
            assert error["code"] == "unsupported_media_type"
            assert content_type in error["message"]
        if expected == "multipart/form-data":
            assert send(coordinator, method, url, "{}").status_code == 415
    assert record_counts() == before


def test_the_schema_documents_the_body_errors():
    for method, path, operation in operations(WRITE_METHODS):
        responses = operation["responses"]
        assert {"400", "413", "415"} <= set(responses), (method, path)
        assert "not a JSON object" in responses["400"]["description"]


# --- Size -----------------------------------------------------------------------------------------


class Unreadable:
    """A request body Django must not read: the refusal comes from the declared size."""

    def __init__(self):
        self.read_calls = 0

    def read(self, *args):
        self.read_calls += 1
        return b""

    readline = read


def test_an_oversized_json_body_is_a_413_before_reading_on_every_endpoint(coordinator, study, treated):
    declared = json_body_limit_bytes() + 1
    for method, url, _operation in write_urls(study, treated) + [
        ("get", fill(path, study_code=study.code, id=treated[0].pk), None) for _, path, _ in operations(("get",))
    ]:
        body = Unreadable()
        response = getattr(coordinator, method)(
            url, data=b"", content_type="application/json", CONTENT_LENGTH=str(declared), **{"wsgi.input": body}
        )

        assert response.status_code == 413, (method, url)
        error = response.json()["error"]
        assert error["code"] == "request_too_large"
        assert "at most 5.0 MB of JSON" in error["message"]
        assert body.read_calls == 0


def test_a_body_just_within_the_limit_is_parsed(coordinator, study, treated):
    patient, visit, _session = treated
    url = f"/api/v1/studies/{study.code}/patients/{patient.pk}/visits/{visit.pk}/"
    padding = json_body_limit_bytes() - 200
    response = coordinator.patch(url, {"reason": "Typo", "notes": "x" * padding})

    assert response.status_code != 413
    assert response.status_code in (200, 400)


def test_the_parser_stops_at_the_limit_when_no_size_was_declared():
    limit = json_body_limit_bytes()
    stream = BytesIO(b'{"notes": "' + b"x" * limit + b'"}')

    with pytest.raises(RequestTooLarge):
        JSONObjectParser().parse(stream)

    assert stream.tell() == limit + 1  # read no further than needed to know


def test_a_photo_upload_keeps_its_own_limit(coordinator, study, treated, settings):
    patient, visit, _session = treated
    url = f"/api/v1/studies/{study.code}/patients/{patient.pk}/visits/{visit.pk}/photos/"
    body = Unreadable()
    declared = json_body_limit_bytes() + 1  # over the JSON limit, far within the photos'
    response = coordinator.post(
        url, data=b"", content_type="multipart/form-data; boundary=x", CONTENT_LENGTH=str(declared),
        **{"wsgi.input": body},
    )  # fmt: skip

    assert response.status_code != 413  # the view read the (empty) form and refused it on its own terms
    assert response.status_code == 400


# --- The development server (make run) ------------------------------------------------------------


@pytest.fixture
def dev_server():
    """Django's own development server (wsgiref, as `make run` serves), on a free port."""
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "content_type", "declared_mb", "expected_type"),
    [
        ("/api/v1/studies/X/patients/1/visits/", "application/json", 6, "application/json"),
        ("/patients/1/visits/1/photos/", "multipart/form-data; boundary=x", 300, "text/html; charset=utf-8"),
    ],
)
def test_the_development_server_answers_413_too(dev_server, path, content_type, declared_mb, expected_type):
    connection = http.client.HTTPConnection("127.0.0.1", dev_server, timeout=30)
    connection.putrequest("POST", path)
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(declared_mb * 1024 * 1024))
    connection.endheaders()
    # Never the body: the answer must come from the declared size. Half-closing says so, so the
    # server (which drains what it did not read) finishes instead of waiting for 6 MB.
    assert connection.sock is not None
    connection.sock.shutdown(socket.SHUT_WR)
    response = connection.getresponse()
    body = response.read()
    connection.close()

    assert response.status == 413, body[:500]
    assert response.getheader("Content-Type") == expected_type
    assert response.getheader("Connection") == "close"  # set by the server itself
    assert (b"request_too_large" if "json" in expected_type else b"Upload too large") in body
