"""Every paginated endpoint (found in the schema) reads `page_size` and `cursor` strictly, answers a
bad one with a 400 naming it, and documents what it accepts; the patient's injections page too."""

import base64

import pytest

from patients import services
from tests.conftest import make_patient, record_treatment

from .openapi import fill, operations

BAD_PAGE_SIZES = ["0", "-1", "abc", "null", "", "1.5", "1001", " 5"]
# Not ours: not base64; base64 of nonsense; an outcomes-shaped cursor whose subject is not a pseudonym.
BAD_CURSORS = ["%%%", base64.b64encode(b"garbage").decode(), base64.urlsafe_b64encode(b"patient-1:0").decode()]


@pytest.fixture
def treated(site_a, coordinator_a, data_manager, bont_arm):
    patient = make_patient(site_a, coordinator_a)
    patient = services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Set-up")
    record_treatment(patient, coordinator_a)
    return patient


@pytest.fixture
def reader(data_manager, study, session_client):
    """A data manager, signed in: it reads every paginated endpoint (records and dataset)."""
    return session_client(data_manager)


def paginated_urls(study, patient, parameter):
    found = [
        fill(path, study_code=study.code, id=patient.pk)
        for _method, path, operation in operations(("get",))
        if any(p["name"] == parameter for p in operation.get("parameters", ()))
    ]
    assert len(found) >= 6, found  # patients, injections, photos and the three dataset tables
    return found


@pytest.mark.parametrize("size", BAD_PAGE_SIZES)
def test_a_bad_page_size_is_a_400_naming_it(size, reader, study, treated):
    for url in paginated_urls(study, treated, "page_size"):
        response = reader.get(url, {"page_size": size})

        assert response.status_code == 400, (url, size, response.content)
        error = response.json()["error"]
        assert list(error["fields"]) == ["page_size"], url
        assert "from 1 to 1000" in error["fields"]["page_size"][0]


def test_the_page_size_limits_are_accepted(reader, study, treated):
    for url in paginated_urls(study, treated, "page_size"):
        for size in ("1", "1000"):
            assert reader.get(url, {"page_size": size}).status_code == 200, (url, size)


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_cursor_we_did_not_write_is_a_400_on_every_list(cursor, reader, study, treated):
    for url in paginated_urls(study, treated, "cursor"):
        response = reader.get(url, {"cursor": cursor})

        assert response.status_code == 400, (url, cursor, response.content)
        assert response.json()["error"]["fields"] == {
            "cursor": ["Invalid cursor: use the `next` link of the previous page."]
        }


def test_a_cursor_whose_position_is_not_a_value_of_the_ordering_is_a_400(reader, study, treated):
    hand_made = base64.b64encode(b"o=0&r=0&p=not-a-number").decode()
    for path in ("injections/", "photos/"):  # ordered by date, by id
        response = reader.get(f"/api/v1/studies/{study.code}/patients/{treated.pk}/{path}", {"cursor": hand_made})

        assert response.status_code == 400, (path, response.content)
        assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_the_schema_documents_the_page_size_range():
    for _method, path, operation in operations(("get",)):
        for parameter in operation.get("parameters", ()):
            if parameter["name"] == "page_size":
                assert parameter["schema"]["minimum"] == 1, path
                assert parameter["schema"]["maximum"] == 1000, path


def test_the_injections_of_a_patient_come_in_cursor_pages(reader, study, treated, coordinator_a):
    services.injection_session_record(
        patient=treated, by=coordinator_a, visit=None, date=treated.enrollment_date, product="onabotulinumtoxinA",
        lot_number="C2", diluent_ml_per_100_units="2.5", injector="Dr Test",
        points=[{"muscle": "zygomaticus_major", "side": "right", "units": "2"}],
    )  # fmt: skip
    url = f"/api/v1/studies/{study.code}/patients/{treated.pk}/injections/"
    seen = []
    response = reader.get(url, {"page_size": 1})
    while True:
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        assert len(body["results"]) == 1
        seen += [session["id"] for session in body["results"]]
        if body["next"] is None:
            break
        response = reader.get(body["next"])

    assert len(seen) == 2 == len(set(seen))


def test_study_codes_are_documented_as_enums(login, investigator, study):
    schema = login(investigator).get("/api/schema/", {"format": "json"}).json()
    arms = sorted(study.arms.values_list("code", flat=True))
    visits = sorted(study.schedule.values_list("code", flat=True))
    checked = set()
    for path, by_method in schema["paths"].items():
        for operation in by_method.values():
            for parameter in operation.get("parameters", ()):
                name, spec = parameter["name"], parameter["schema"]
                if "/dataset/" in path or path.endswith("/summary/"):
                    if name == "arm":
                        assert spec["enum"] == arms, path
                    elif name == "visit":
                        assert spec["enum"] == visits, path
                    elif name == "metric":
                        assert "commissure_height_deviation_mm" in spec["enum"], path
                    else:
                        continue
                    checked.add((path, name))
                if parameter.get("required") and spec.get("type") == "string":
                    assert "enum" in spec or spec.get("minLength") == 1, (path, name)
                assert "x-study-codes" not in parameter
    assert len(checked) >= 7, checked  # arm x3, visit x2 (outcomes, injections) + summary's, metric x2


def test_the_summary_refuses_an_empty_required_parameter(login, investigator, study):
    response = login(investigator).get(f"/api/v1/studies/{study.code}/summary/", {"metric": "", "expression": ""})

    assert response.status_code == 400
    assert "metric" in response.json()["error"]["fields"]
