"""Canary: a unique string in every identifying and free-text field (patients/identifiers.py);
none of them appears in any page, plot, download or JSON of the outcome analysis for an investigator."""

import io
import zipfile

import pytest
from django.apps import apps
from django.db import models

from analysis.views import FILE_KINDS
from patients import services
from patients.identifiers import IDENTIFYING_FIELDS

from .conftest import add_scored_photo, record_visit

QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed", "visit": "week-12"}


def _plant_canaries() -> list[str]:
    """Write a unique string into every text-like identifying field of every row; return them."""
    canaries = []
    for (app_label, model_name), fields in IDENTIFYING_FIELDS.items():
        model = apps.get_model(app_label, model_name)
        for instance in model.objects.all():
            changes = {}
            for name in fields:
                field = model._meta.get_field(name)
                token = f"CANARY{model_name.upper()}{name.upper().replace('_', '')}{instance.pk}Z"
                if isinstance(field, models.JSONField):
                    changes[name] = [token]
                elif isinstance(field, models.CharField | models.TextField | models.FileField):
                    changes[name] = token[: field.max_length] if field.max_length else token
                else:
                    continue  # dates (date of birth) and foreign keys cannot hold a string
                canaries.append(token[: field.max_length] if getattr(field, "max_length", None) else token)
            model.objects.filter(pk=instance.pk).update(**changes)
    return canaries


def _texts(response) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if body[:2] == b"PK":  # XLSX or ZIP: search every part
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            return [archive.read(name).decode("utf-8", "replace") for name in archive.namelist()]
    return [body.decode("utf-8", "replace")]


@pytest.fixture
def canaries(trial, coordinator_a, data_manager):
    a = trial.measured("bont-a", {"baseline": 3.5, "week-12": 1.5})
    trial.measured("bont-a", {"baseline": 3.0, "week-12": 1.2})
    trial.measured("control", {"baseline": 3.0, "week-12": 2.8})
    trial.measured("control", {"baseline": 3.2, "week-12": 3.0})
    withdrawn = trial.measured("control", {"baseline": 2.0})
    services.patient_withdraw(patient=withdrawn, by=coordinator_a, reason="reason text")
    failed = trial.patient("bont-a")
    add_scored_photo(record_visit(failed, "baseline", by=coordinator_a), by=coordinator_a, status="head_turned")
    # An injection session: its injector, notes and point descriptions are identifying.
    services.injection_session_record(
        patient=a,
        by=coordinator_a,
        points=[{"muscle": "other", "muscle_other": "x", "side": "right", "units": "4"}],
        visit=a.visits.get(scheduled_visit__code="baseline"),
        date=a.enrollment_date,
        product="onabotulinumtoxinA",
        lot_number="C1",
        diluent_ml_per_100_units="2.5",
        injector="Dr X",
    )
    planted = _plant_canaries()
    covered = {token.split("Z")[0].rstrip("0123456789") for token in planted}
    # Every identifying model that has rows here got its canaries.
    assert any("PATIENTIDENTIFIERSFULLNAME" in c for c in covered)
    assert any("VISITNOTES" in c for c in covered) and any("PHOTOSCORELANDMARKS" in c for c in covered)
    assert any("INJECTIONSESSIONINJECTOR" in c for c in covered)
    return planted


URLS = [
    "/studies/FACE-1/outcomes/",
    "/api/v1/studies/FACE-1/summary/",
    # Every file the outcomes page can serve (its one list of kinds), not a copy of it.
    *[f"/studies/FACE-1/outcomes/files/{what}.{ext}" for what, exts in FILE_KINDS.items() for ext in exts],
]


@pytest.fixture(params=["investigator", "coordinator of a closed study with results open"])
def reader(request, canaries, study, data_manager, coordinator_a):
    """Who reads the analysis: the investigator, and a coordinator once the study is closed and its
    results opened to them (who sees their own site's identifiers elsewhere, never here). After the
    canaries are planted: a closed study takes no data."""
    if request.param == "investigator":
        return request.getfixturevalue("investigator")
    services.study_close(study=study, by=data_manager, reason="Database lock")
    study.refresh_from_db()
    study.results_open_to_coordinators = True
    services.common.save_audited(study, by=data_manager, reason="Results for the sites")
    return coordinator_a


@pytest.mark.parametrize("metric", ["commissure_height_deviation_mm", "commissure_height_signed_mm", "house_brackmann"])
def test_no_identifier_leaves_through_the_analysis(login, reader, canaries, metric):
    client = login(reader)
    for url in URLS:
        response = client.get(url, {**QUERY, "metric": metric, "download": "1"})
        assert response.status_code == 200, url  # the summary API follows the page's rule for coordinators
        for text in _texts(response):
            leaked = [c for c in canaries if c in text]
            assert not leaked, f"{url} shows {leaked[:3]}"
