"""No page an investigator can open shows the text of a field `patients/identifiers.py` lists.

Every listed field of every record (and of every row of its audit trail) holds a canary string,
and so does every reason typed for a change to one of them (a withdrawal, voids, a removed
point, an external arm, an adverse-event edit); then every URL pattern is walked as the investigator, for each
patient, visit, session and photo. The URL patterns are walked, not listed by hand, so a page
added later is checked too. The data manager, who may see identifiers, sees the canaries: the
test looks where they are printed.
"""

import re
from datetime import date

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from measurements import services as photo_services
from measurements.models import Photo
from patients import services
from patients.identifiers import HIDDEN, IDENTIFYING_FIELDS
from patients.models import ApiToken, InjectionPoint, InjectionSession, Visit
from patients.pseudonyms import pseudonym_key_rotate
from tests.conftest import make_patient, record_treatment, write_old_free_text_adverse_events
from tests.measurements.files import noise_jpeg

CANARY = "CANARY"
CANARY_DATE = date(1901, 2, 3)
LEAK = re.compile(CANARY + r"[-\w.]*")


def _canary_value(field, label: str):
    internal = field.get_internal_type()
    if internal == "DateField":
        return CANARY_DATE
    if internal == "JSONField":
        return [f"{CANARY}-{label}"]
    return f"{CANARY}-{label}"[: field.max_length or None]


def _fill_with_canaries(django_apps) -> list[str]:
    """A canary in every listed field of every row, live and historical. Returns what was filled."""
    filled = []
    for (app_label, model_name), names in IDENTIFYING_FIELDS.items():
        model = django_apps.get_model(app_label, model_name)
        for name in sorted(names):
            value = _canary_value(model._meta.get_field(name), f"{model_name}.{name}")
            assert model._default_manager.update(**{name: value}) > 0, f"no {model_name} row to fill"
            history = getattr(model, "history", None)
            if history is not None and name in {f.name for f in history.model._meta.fields}:
                # A different value in each row, so that every row of the trail shows a change to it.
                for row in history.model.objects.all():
                    setattr(row, name, _canary_value(history.model._meta.get_field(name), f"{model_name}.{name}"))
                    if isinstance(getattr(row, name), str):
                        setattr(
                            row,
                            name,
                            f"{getattr(row, name)}-{row.history_id}"[: row._meta.get_field(name).max_length or None],
                        )
                    row.save(update_fields=[name])
            filled.append(f"{model_name}.{name}")
    return filled


@pytest.fixture
def trial_with_canaries(
    django_capture_on_commit_callbacks,
    settings,
    tmp_path,
    study,
    site_a,
    site_b,
    coordinator_a,
    coordinator_b,
    api_client_user,
):
    from django.apps import apps

    settings.MEDIA_ROOT = tmp_path
    arm = study.arms.get(code="bont-a")
    manager = coordinator_a  # the arm is recorded by anyone here: the service does not check roles
    withdrawn = make_patient(site_a, coordinator_a, mrn="CAN-1")
    services.patient_assign_arm_externally(patient=withdrawn, arm=arm, by=manager, reason=f"{CANARY}-arm-reason")
    withdrawn.refresh_from_db()
    visit_1, session_1 = record_treatment(
        withdrawn,
        coordinator_a,
        points=[
            {"muscle": "other", "muscle_other": "Nasalis", "side": "left", "units": "2"},
            {"muscle": "risorius", "side": "right", "units": "3"},
        ],
    )
    services.injection_session_update(  # the second point is removed: voided with a reason
        session=session_1,
        by=coordinator_a,
        reason=f"{CANARY}-point-removal-reason",
        points=[{"muscle": "other", "muscle_other": "Nasalis", "side": "left", "units": "2"}],
    )
    with django_capture_on_commit_callbacks(execute=True):  # scored: a PhotoScore with landmarks
        photo = photo_services.photo_upload(
            visit=visit_1, expression="rest", data=noise_jpeg(4), filename="rest.jpg", by=coordinator_a
        )
    # A missing-data code with its reason, and one withdrawn (a void reason): both filled below.
    missing_code = services.missing_item_record(
        visit=visit_1, item_kind="grade", item_code="sunnybrook_composite", code="other", reason="x", by=coordinator_a
    )
    withdrawn_code = services.missing_item_record(
        visit=visit_1, item_kind="photo", item_code="smile_open", code="declined", reason="x", by=coordinator_a
    )
    services.missing_item_void(item=withdrawn_code, by=coordinator_a, reason="Marked on the wrong visit")
    write_old_free_text_adverse_events(
        visit_1, "Bruising", by=coordinator_a, reason=f"{CANARY}-adverse-event-edit-reason"
    )
    # Structured adverse events, one voided (a void reason), their free text filled below.
    event_fields = dict(
        patient=withdrawn,
        by=coordinator_a,
        visit=visit_1,
        onset_date=visit_1.date_performed,
        term="other",
        term_other="Eyelid twitch",
        severity="mild",
        serious=False,
        relatedness="possible",
        action_taken="none",
        outcome="recovering",
    )
    voided_event = services.adverse_event_record(**event_fields, description="Noticed at home")
    services.adverse_event_void(event=voided_event, by=coordinator_a, reason="Entered twice")
    event = services.adverse_event_record(**event_fields, description="Noticed at home, twice")
    # A scale graded item by item, one grading voided (its reason is free text), the other current.
    graded = services.visit_scale_record(visit=visit_1, scale="sunnybrook", responses={}, by=coordinator_a)
    services.visit_scale_void(assessment=graded, by=coordinator_a, reason=f"{CANARY}-scale-void-reason")
    services.visit_scale_record(visit=visit_1, scale="eface", responses={"ef_brow_rest": 90}, by=coordinator_a)
    services.patient_withdraw(patient=withdrawn, by=coordinator_a, reason=f"{CANARY}-withdrawal-reason")
    # The API's secrets: a token for a script and the study's pseudonym key.
    ApiToken.objects.create(user=api_client_user, study=study, client_name="Analysis script", created_by=manager)
    pseudonym_key_rotate(study=study, by=manager, reason="Key rotated")

    other = make_patient(site_b, coordinator_b, mrn="CAN-2")
    services.patient_assign_arm_externally(patient=other, arm=arm, by=coordinator_b, reason="Allocated by phone")
    other.refresh_from_db()
    visit_2, session_2 = record_treatment(other, coordinator_b)
    services.injection_session_void(session=session_2, by=coordinator_b, reason=f"{CANARY}-session-void-reason")
    services.visit_void(visit=visit_2, by=coordinator_b, reason=f"{CANARY}-visit-void-reason")

    # Text fields that are empty in ordinary use get a value too, so that each is printed if shown.
    Visit.objects.update(adverse_events="x", notes="x", protocol_deviation_reason="x")
    InjectionSession.objects.update(notes="x")
    filled = _fill_with_canaries(apps)
    assert InjectionPoint.objects.filter(status="voided").exists()
    return {
        "patients": [withdrawn, other],
        "visits": {withdrawn.pk: visit_1.pk, other.pk: visit_2.pk},
        "sessions": {withdrawn.pk: session_1.pk, other.pk: session_2.pk},
        "events": {withdrawn.pk: event.pk, other.pk: event.pk},  # another patient's event: a 404 page
        "missing_items": {withdrawn.pk: missing_code.pk, other.pk: missing_code.pk},
        "photo": Photo.objects.get(pk=photo.pk),
        "filled": filled,
    }


def _routes(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern) and not route.startswith("^") and "(?P" not in route:
            yield route


def _paths(data) -> list[str]:
    """Every URL pattern, filled in for each patient (its visit, its session) and for the photo."""
    paths = set()
    photo = data["photo"]
    for route in _routes(get_resolver()):
        for patient in data["patients"]:
            ids = {
                "pk": photo.pk if route.startswith("photos/") else patient.pk,
                "visit_pk": data["visits"][patient.pk],
                "session_pk": data["sessions"][patient.pk],
                "event_pk": data["events"][patient.pk],
                "item_pk": data["missing_items"][patient.pk],
            }
            path = re.sub(r"<int:(\w+)>", lambda m, ids=ids: str(ids[m.group(1)]), route)
            for kind in ("original", "preview", "thumbnail", "overlay"):
                paths.add("/" + re.sub(r"<(?:str|slug):\w+>", kind, path))
    paths.add(f"/photos/status/?ids={photo.pk}")
    for patient in data["patients"]:
        paths.add(f"/patients/?q={patient.study_code}")
    return sorted(paths)


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_no_page_an_investigator_opens_shows_an_identifying_value(client, investigator, trial_with_canaries):
    client.force_login(investigator)
    opened = []
    for path in _paths(trial_with_canaries):
        response = client.get(path)
        body = _body(response)
        assert CANARY not in body, f"{path} ({response.status_code}) shows {LEAK.findall(body)}"
        assert "1901-02-03" not in body and "3 Feb 1901" not in body, path
        if response.status_code == 200:
            opened.append(path)
    withdrawn = trial_with_canaries["patients"][0]
    for page in (f"/patients/{withdrawn.pk}/", f"/patients/{withdrawn.pk}/history/", "/patients/", "/"):
        assert page in opened, page
    assert f"/photos/{trial_with_canaries['photo'].pk}/" in opened
    # What is hidden is said to exist: the withdrawal has a reason, the history has reasons.
    assert HIDDEN in client.get(f"/patients/{withdrawn.pk}/").content.decode()
    assert HIDDEN in client.get(f"/patients/{withdrawn.pk}/history/").content.decode()


def test_every_listed_field_held_a_canary(trial_with_canaries):
    listed = {f"{model}.{name}" for (_, model), names in IDENTIFYING_FIELDS.items() for name in names}
    assert set(trial_with_canaries["filled"]) == listed


def test_the_data_manager_sees_the_canaries_where_the_investigator_does_not(client, data_manager, trial_with_canaries):
    client.force_login(data_manager)
    withdrawn, other = trial_with_canaries["patients"]
    detail = client.get(f"/patients/{withdrawn.pk}/").content.decode()
    for field in ("patient.withdrawal_reason", "injectionsession.injector", "injectionpoint.muscle_other"):
        assert f"{CANARY}-{field}" in detail, field
    # Adverse events are their own records now (the visit's old free text was migrated into them
    # and is no longer printed on the timeline): their free text is what the data manager reads.
    for field in ("adverseevent.term_other", "adverseevent.description", "adverseevent.void_reason"):
        assert f"{CANARY}-{field}" in detail, field
    assert f"{CANARY}-visit.void_reason" in client.get(f"/patients/{other.pk}/").content.decode()
    history = client.get(f"/patients/{withdrawn.pk}/history/").content.decode()
    assert f"{CANARY}-adverse-event-edit-reason" in history
    assert f"Withdrawn: {CANARY}-withdrawal-reason" in history
    assert f"{CANARY}-visit.notes" in history


def test_the_pseudonym_secret_is_shown_to_nobody_not_even_the_data_manager(client, data_manager, trial_with_canaries):
    # The token's digest is not walked here: knox makes it the token's primary key, so the admin's
    # own URLs carry it (a digest, not the token; giving tokens a surrogate key is left to the API's
    # next part).
    from patients.models import PseudonymKey

    client.force_login(data_manager)
    key = PseudonymKey.objects.get()
    for url in (
        "/admin/patients/pseudonymkey/",
        f"/admin/patients/pseudonymkey/{key.pk}/change/",
        f"/admin/patients/pseudonymkey/{key.pk}/history/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert f"{CANARY}-pseudonymkey.secret" not in _body(response), url
