"""Every GET path of the API, as every role, against the pages' identifier rule.

A study at two sites whose every row of every model that `patients/identifiers.py` lists holds, in
each listed field, a canary of its own. Then every GET path of the OpenAPI schema (not a list
written here), with its path parameters filled for each patient, in every format it declares and on
every page, is fetched as every role of `StudyRole.Role` (the enum, so that a role added later is
walked, or fails this test until it is built here), as a coordinator of the other site, as an
account without a role and anonymously. A canary may appear only where the pages would show it to
that caller: `Access.shown`, the pages' own function, with the caller's access as the API resolves
it. Records outside a patient's record (tokens, pseudonym keys) are shown by no path.
"""

import itertools
import re
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework.test import APIClient

from patients import identifiers, services
from patients.admin_scope import STUDY_LOOKUPS
from patients.models import ApiToken, InjectionPoint, InjectionSession, StudyRole, Visit
from patients.pseudonyms import pseudonym_key_rotate
from patients.selectors import access_for, access_for_token
from tests.analysis.conftest import add_scored_photo, score_metrics
from tests.api.test_canary import _bodies
from tests.conftest import make_patient

Role = StudyRole.Role

# Required query parameters whose values a schema cannot know (they depend on the study's data).
QUERY_VALUES = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed"}


def _plant_records(study, patient, *, coordinator, data_manager):
    """One of each record of a patient's file, through the services, with free text to be replaced."""
    services.patient_assign_arm_externally(
        patient=patient, arm=study.arms.get(code="bont-a"), by=data_manager, reason="Allocated by phone"
    )
    patient.refresh_from_db()
    baseline = services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator,
        date_performed=patient.enrollment_date,
        notes="x",
        protocol_deviation_reason="x",
        house_brackmann=3,
    )
    add_scored_photo(baseline, by=coordinator, metrics=score_metrics(20.0, 22.5))
    services.visit_scale_record(visit=baseline, scale="sunnybrook", responses={"sb_rest_eye": "wide"}, by=coordinator)
    services.missing_item_record(  # a missing-data code's reason, and a withdrawn code's void reason
        visit=baseline, item_kind="grade", item_code="sunnybrook_composite", code="other", reason="x", by=coordinator
    )
    withdrawn = services.missing_item_record(
        visit=baseline, item_kind="photo", item_code="smile_open", code="declined", reason="x", by=coordinator
    )
    services.missing_item_void(item=withdrawn, by=coordinator, reason="x")
    services.injection_session_record(
        patient=patient,
        by=coordinator,
        visit=baseline,
        date=patient.enrollment_date,
        product="onabotulinumtoxinA",
        lot_number="C1234",
        diluent_ml_per_100_units="2.5",
        injector="x",
        notes="x",
        points=[
            {"muscle": "other", "muscle_other": "x", "side": "left", "units": "3"},
            {"muscle": "mentalis", "side": "midline", "units": "2"},
        ],
    )
    services.adverse_event_record(
        patient=patient,
        by=coordinator,
        visit=baseline,
        onset_date=patient.enrollment_date,
        term="other",
        term_other="x",
        description="x",
        severity="mild",
        serious=False,
        relatedness="possible",
        action_taken="none",
        outcome="recovering",
    )


_serial = itertools.count(1)


def _canary_for(field):
    """A value for `field` found nowhere else, and the texts it may be printed as."""
    n = next(_serial)
    internal = field.get_internal_type()
    if internal == "DateField":
        value = date(1901, 1, 1) + timedelta(days=n)
        return value, {value.isoformat(), value.strftime("%d/%m/%Y"), value.strftime("%Y%m%d")}
    text = f"CNRY{n:04d}Z"
    if internal == "JSONField":
        return [text], {text}
    if internal in {"CharField", "TextField", "EmailField", "FileField", "ImageField"}:
        return text, {text}
    pytest.fail(f"{field.model._meta.label}.{field.name}: no canary for a {internal}; teach _canary_for")


@pytest.fixture
def planted(study, site_a, site_b, coordinator_a, coordinator_b, data_manager, api_client_user, issue_token):
    """Two patients (one per site) with every listed record; a canary in every listed field of every row."""
    patient_a = make_patient(site_a, coordinator_a, enrolled_days_ago=60)
    patient_b = make_patient(site_b, coordinator_b, enrolled_days_ago=60)
    for patient, coordinator in ((patient_a, coordinator_a), (patient_b, coordinator_b)):
        _plant_records(study, patient, coordinator=coordinator, data_manager=data_manager)
    pseudonym_key_rotate(study=study, by=data_manager, reason="Annual rotation")
    live_token = issue_token(api_client_user, study)
    revoked, _ = ApiToken.objects.create(
        user=api_client_user, study=study, client_name="Old script", created_by=data_manager
    )
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now(), revoked_by=data_manager)
    live = ApiToken.objects.exclude(pk=revoked.pk).get()

    needles: dict[str, tuple] = {}  # printed text -> (model, pk, field)
    for (app_label, model_name), names in identifiers.IDENTIFYING_FIELDS.items():
        model = apps.get_model(app_label, model_name)
        lookup = STUDY_LOOKUPS.get(model._meta.label_lower)
        assert lookup, f"{model._meta.label}: tell patients.admin_scope.STUDY_LOOKUPS how it belongs to a study"
        rows = list(model._base_manager.filter(**{lookup: study.pk}))
        assert rows, f"no {model._meta.label} row in the planted study: plant one in _plant_records"
        for row, name in itertools.product(rows, sorted(names)):
            if row == live:  # the token the walk authenticates with: its real digest is the needle
                needles[str(getattr(row, name))] = (model, row.pk, name)
                continue
            value, texts = _canary_for(model._meta.get_field(name))
            model._base_manager.filter(pk=row.pk).update(**{name: value})
            needles.update(dict.fromkeys(texts, (model, row.pk, name)))
    # Each patient has a row of every model of a patient's file, so that a site's rule is tried on each.
    for model_label, lookup in STUDY_LOOKUPS.items():
        model = apps.get_model(model_label)
        if (model._meta.app_label, model._meta.model_name) in identifiers.IDENTIFYING_FIELDS and "patient" in lookup:
            patient_lookup = lookup.removesuffix("__study") or "patient"
            for patient in (patient_a, patient_b):
                assert model._base_manager.filter(**{patient_lookup: patient.pk}).exists(), (model_label, patient)
    return {"study": study, "patients": [patient_a, patient_b], "token": (live_token, live), "needles": needles}


def _session(user):
    client = APIClient()
    client.force_login(user)
    return client, access_for(user)


def _token(token_text, stored):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_text}")
    return client, access_for_token(stored)


# How each role of StudyRole.Role is walked: (label, fixture) pairs; an API client as its token.
ROLE_PERSONAS = {
    Role.COORDINATOR: [("coordinator of the site", "coordinator_a"), ("coordinator of another site", "coordinator_b")],
    Role.INVESTIGATOR: [("investigator", "investigator")],
    Role.DATA_MANAGER: [("data manager", "data_manager")],
    Role.API_CLIENT: [("API client (token)", None)],
}


def _personas(request, planted):
    missing = [role for role in Role if role not in ROLE_PERSONAS]
    assert not missing, f"roles this walk does not know how to build: {missing}; add them to ROLE_PERSONAS"
    personas = []
    for role in Role:
        for label, fixture in ROLE_PERSONAS[role]:
            if role == Role.API_CLIENT:
                personas.append((label, *_token(*planted["token"])))
            else:
                personas.append((label, *_session(request.getfixturevalue(fixture))))
    personas.append(("account without a role", *_session(request.getfixturevalue("outsider"))))
    personas.append(("anonymous", APIClient(), access_for(AnonymousUser())))
    return personas


def _fillings(path, planted) -> list[str]:
    """`path` with its parameters filled: once per patient when it names one."""
    names = set(re.findall(r"{(\w+)}", path))
    urls = []
    for patient in planted["patients"]:
        values = {
            "study_code": planted["study"].code,
            "id": patient.pk,  # the patient, as drf-spectacular names the URL's pk
            "visit_pk": Visit.objects.filter(patient=patient).values_list("pk", flat=True).first(),
            "session_pk": InjectionSession.objects.filter(patient=patient).values_list("pk", flat=True).first(),
        }
        unknown = names - values.keys()
        assert not unknown, f"{path}: the walk cannot fill {sorted(unknown)}; teach _fillings"
        urls.append(path.format(**values))
        if "id" not in names:
            break
    return urls


def _queries(path, operation) -> list[dict]:
    """The required query parameters, once per format the operation declares."""
    required = {}
    formats: list = [None]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "query":
            continue
        if parameter["name"] == "format":
            formats += parameter["schema"]["enum"]
        elif parameter.get("required"):
            enum = parameter.get("schema", {}).get("enum")
            value = QUERY_VALUES.get(parameter["name"]) or (enum[0] if enum else None)
            assert value, f"{path}: the walk cannot fill the required parameter {parameter['name']}"
            required[parameter["name"]] = value
    return [{**required, **({"format": f} if f else {})} for f in formats]


def _walk(client, schema, planted):
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        for url, query in itertools.product(_fillings(path, planted), _queries(path, operations["get"])):
            response = client.get(url, query)
            yield url, response
            seen = 0
            while response.status_code == 200 and response["Content-Type"].startswith("application/json"):
                next_url = response.json().get("next") if isinstance(response.json(), dict) else None
                if not next_url or (seen := seen + 1) > 50:
                    break
                response = client.get(next_url)
                yield next_url, response


def _may_see(access, model, pk, field) -> bool:
    record = model._base_manager.get(pk=pk)
    try:
        return access.shown(record, field) != identifiers.HIDDEN
    except TypeError:  # not part of a patient's record (a token, a key): no path shows it
        return False


def test_no_role_reads_an_identifier_it_may_not_see(request, planted):
    schema_client, _ = _session(request.getfixturevalue("data_manager"))
    schema = schema_client.get("/api/schema/", {"format": "json"}).json()
    assert any("injections" in p for p in schema["paths"]), "the schema lists no records path"
    needles = planted["needles"]
    seen_by: dict[str, set] = {}
    ok_by: dict[str, list] = {}
    for label, client, access in _personas(request, planted):
        seen_by[label], ok_by[label] = set(), []
        allowed = {text for text, where in needles.items() if _may_see(access, *where)}
        for url, response in _walk(client, schema, planted):
            assert response.status_code < 500, f"{label}: {url} answers {response.status_code}"
            if response.status_code == 200:
                ok_by[label].append(url)
            for body in _bodies(response):
                found = {text for text in needles if text.encode() in body}
                leaks = found - allowed
                assert not leaks, f"{label} reads {sorted({needles[t][2] for t in leaks})} at {url}"
                seen_by[label] |= found

    # Not vacuous: the walk reached the records, and those who may see the canaries were shown them.
    patient_a, patient_b = planted["patients"]
    session_a = InjectionSession.objects.get(patient=patient_a)
    point_a = InjectionPoint.objects.get(session=session_a, muscle="other")
    own = {session_a.injector, session_a.notes, point_a.muscle_other, patient_a.identifiers.full_name}
    assert own <= seen_by["coordinator of the site"]
    assert any(url.endswith(f"/{patient_a.pk}/injections/") for url in ok_by["investigator"])
    assert any(url.endswith(f"/{patient_b.pk}/injections/") for url in ok_by["coordinator of another site"])
    assert any("/dataset/" in url for url in ok_by["API client (token)"])
    assert not ok_by["anonymous"] and not ok_by["account without a role"]


def test_the_investigator_is_told_that_a_hidden_value_exists(login, investigator, planted):
    patient = planted["patients"][0]
    client = APIClient()
    client.force_login(investigator)
    page = client.get(f"/api/v1/studies/{planted['study'].code}/patients/{patient.pk}/injections/").json()
    sessions = page["results"]  # cursor pages, as every list of the API
    assert sessions
    assert sessions[0]["injector"] == identifiers.HIDDEN
    assert sessions[0]["notes"] == identifiers.HIDDEN
    assert {p["muscle_other"] for p in sessions[0]["points"]} == {identifiers.HIDDEN}
