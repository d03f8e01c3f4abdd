"""The canary test: nothing identifying reaches an API client, in any byte of any response.

Patients whose every identifier and free-text field holds a unique string; every endpoint
an API-client token can reach is found by walking the OpenAPI schema (not a list written
here), fetched in every format the schema declares and on every page; no canary, no
calendar date of the study and no clinic study code may appear.
"""

import io
import itertools
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from patients import services
from patients.models import InjectionSession, Patient, Visit
from tests.analysis.conftest import add_scored_photo, score_metrics
from tests.conftest import make_patient, write_old_free_text_adverse_events

_counter = itertools.count()


def canary(kind: str) -> str:
    return f"CANARY{kind.upper()}{next(_counter):03d}Q"


@pytest.fixture
def canary_study(db, data_manager, coordinator_a, site_a, bont_arm, study):
    """Three subjects at site A full of canaries; dates all in the past, none of them today."""
    today = timezone.localdate()
    site_a.name = canary("sitename")
    site_a.save()
    patients = []
    for i in range(3):
        enrolled = today - timedelta(days=100 + 7 * i)
        patient = make_patient(
            site_a,
            coordinator_a,
            enrolled_days_ago=(today - enrolled).days,
            full_name=canary("name"),
            medical_record_number=canary("mrn"),
            phone=canary("phone"),
            email=f"{canary('email').lower()}@example.org",
            address=canary("address"),
            date_of_birth=today - timedelta(days=365 * 50 + 3 * i + 17),
        )
        services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason=canary("armwhy"))
        baseline = services.visit_record(
            patient=patient,
            scheduled_visit=study.schedule.get(code="baseline"),
            by=coordinator_a,
            date_performed=enrolled,
            notes=canary("visitnotes"),
            house_brackmann=3,
        )
        write_old_free_text_adverse_events(baseline, canary("adverse"), by=coordinator_a)
        add_scored_photo(baseline, by=coordinator_a, metrics=score_metrics(20.0, 22.5 + i))
        services.injection_session_record(
            patient=patient,
            by=coordinator_a,
            visit=baseline,
            date=enrolled,
            product="other",
            product_other=canary("product"),
            lot_number=canary("lot"),
            diluent_ml_per_100_units=Decimal("2.5"),
            injector=canary("injector"),
            notes=canary("sessionnotes"),
            points=[
                {"muscle": "other", "muscle_other": canary("muscle"), "side": "left", "units": "3"},
                {"muscle": "mentalis", "side": "midline", "units": "2"},
            ],
        )
        week2 = services.visit_record(
            patient=patient,
            scheduled_visit=study.schedule.get(code="week-2"),
            by=coordinator_a,
            date_performed=enrolled + timedelta(days=30),
            protocol_deviation_reason=canary("deviation"),
        )
        services.visit_void(visit=week2, by=coordinator_a, reason=canary("voidwhy"))
        patients.append(patient)
    services.patient_withdraw(
        patient=patients[0], by=coordinator_a, reason=canary("withdrawwhy"), withdrawn_on=today - timedelta(days=5)
    )
    return study


def _forbidden(study) -> set[str]:
    needles = {"CANARY"}  # every canary starts with this marker
    patients = Patient.objects.filter(study=study).select_related("identifiers")
    for p in patients:
        needles.add(p.study_code)
        dates = [p.identifiers.date_of_birth, p.consent_date, p.enrollment_date, p.withdrawn_on]
        for d in filter(None, dates):
            needles |= {d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d")}
    for d in itertools.chain(
        Visit.objects.filter(patient__study=study).values_list("date_performed", flat=True),
        InjectionSession.objects.filter(patient__study=study).values_list("date", flat=True),
    ):
        needles |= {d.isoformat(), d.strftime("%d/%m/%Y"), d.strftime("%Y%m%d")}
    return needles


def _bodies(response) -> list[bytes]:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    bodies = [raw, "\n".join(f"{k}: {v}" for k, v in response.items()).encode()]
    if raw[:2] == b"PK":
        archive = zipfile.ZipFile(io.BytesIO(raw))
        bodies += [archive.read(name) for name in archive.namelist()] + ["\n".join(archive.namelist()).encode()]
    return bodies


def _reachable(client, study, schema):
    """Every GET in the schema, every declared format, every page: (url, response)."""
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        url = path.replace("{study_code}", study.code)
        formats = [None]
        for parameter in operations["get"].get("parameters", []):
            if parameter["name"] == "format":
                formats += parameter["schema"]["enum"]
        for fmt in formats:
            next_url = url + (f"?format={fmt}" if fmt else "")
            while next_url:
                response = client.get(next_url)
                yield next_url, response
                next_url = None
                if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
                    next_url = response.json().get("next")


def test_no_identifier_reaches_an_api_client(canary_study, api_client_token, token_client):
    client = token_client(api_client_token)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    forbidden = _forbidden(canary_study)
    reached = []
    for url, response in _reachable(client, canary_study, schema):
        if response.status_code != 200:
            continue
        reached.append(url)
        for body in _bodies(response):
            leaks = [needle for needle in forbidden if needle.encode() in body]
            assert not leaks, f"{url} sends {leaks}"
    # Not vacuous: the dataset tables were reached, in every format, with rows in them.
    assert any(u.endswith("/subjects/") for u in reached)
    assert any("format=zip" in u for u in reached) and any("format=csv" in u for u in reached)
    rows = client.get(f"/api/v1/studies/{canary_study.code}/dataset/injections/").json()["results"]
    assert {r["muscle"] for r in rows} == {"other", "mentalis"}
    assert len(client.get(f"/api/v1/studies/{canary_study.code}/dataset/subjects/").json()["results"]) == 3
    outcomes = client.get(f"/api/v1/studies/{canary_study.code}/dataset/", {"page_size": 1000}).json()["results"]
    assert {r["metric"] for r in outcomes} >= {"house_brackmann", "commissure_height_signed_mm"}


def test_canaries_are_really_in_the_database(canary_study):
    # Guards the test above against canaries that were never stored.
    assert Patient.objects.filter(identifiers__full_name__startswith="CANARY").count() == 3
    assert InjectionSession.objects.filter(lot_number__startswith="CANARY").count() == 3
    assert Visit.objects.filter(void_reason__startswith="CANARY").count() == 3
