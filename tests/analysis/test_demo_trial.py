"""The demo trial (`manage.py seed_demo`): a study built through the services, with a known answer."""

import json
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction

from analysis import demo_trial
from measurements.models import Photo
from patients.demo import DATA_MANAGERS_GROUP, DEMO_PASSWORD, DEMO_STUDY_CODE
from patients.models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    RandomizationSlot,
    StudyRole,
    Visit,
)

DEMO_MODELS = (Patient, PatientIdentifiers, Visit, InjectionSession, InjectionPoint, RandomizationSlot, StudyRole)


def counts() -> dict[str, int]:
    result = {model.__name__: model.objects.count() for model in DEMO_MODELS}
    result["history"] = Patient.history.count() + Visit.history.count()
    result["users"] = get_user_model().objects.count()
    return result


@pytest.fixture
def records_only(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return demo_trial.seed_demo_trial(patients=8, photos=False)


def test_demo_records_follow_the_trials_rules(records_only):
    study = records_only.study
    patients = list(study.patients.select_related("arm"))
    assert len(patients) == 8 and records_only.created
    assert all(p.arm is not None and p.arm_assignment == Patient.ArmAssignment.RANDOMIZED for p in patients)
    # Allocated from the concealed list, like any patient.
    assert RandomizationSlot.objects.filter(stratum__study=study, patient__isnull=False).count() == 8
    assert [p.status for p in patients].count(Patient.Status.WITHDRAWN) == 1
    withdrawn = next(p for p in patients if p.status == Patient.Status.WITHDRAWN)
    assert withdrawn.withdrawal_reason and withdrawn.withdrawn_on
    assert not withdrawn.visits.filter(scheduled_visit__code="week-12").exists()
    # Those seen at week 12 completed the study; the two most recent are still being followed.
    completed = [p for p in patients if p.status == Patient.Status.COMPLETED]
    assert all(p.visits.filter(scheduled_visit__code="week-12").exists() for p in completed)
    assert [p.status for p in patients].count(Patient.Status.ENROLLED) == 2

    visits = Visit.objects.filter(patient__study=study)
    assert visits.exclude(protocol_deviation_reason="").count() == 1
    assert set(visits.values_list("scheduled_visit__code", flat=True)) == {"baseline", "week-2", "week-4", "week-12"}
    assert visits.exclude(house_brackmann=None).count() == visits.count()

    for patient in patients:
        sessions = list(patient.injection_sessions.prefetch_related("points"))
        if patient.arm.receives_injections:
            (session,) = sessions
            unaffected = "left" if patient.affected_side == "right" else "right"
            sides = {point.side for point in session.points.all()}
            assert sides <= {unaffected, "midline"}, "BoNT-A goes to the unaffected side"
            assert 0 < session.total_units <= study.max_units_per_session
        else:
            assert sessions == []
        # Written through the audited services, with who and why.
        assert patient.history.filter(history_change_reason="Registered").exists()


def test_demo_creates_one_login_per_role(records_only):
    User = get_user_model()
    roles = {username: role for username, _, role in records_only.logins}
    assert roles == {
        "coordinator.lon": "Study coordinator at LON",
        "coordinator.man": "Study coordinator at MAN",
        "investigator": "Investigator",
        "datamanager": "Data manager",
        "apiclient": "API client",
    }
    for username, password, _ in records_only.logins:
        user = User.objects.get(username=username)
        assert password == DEMO_PASSWORD and user.check_password(password), username
        assert user.is_staff == (username == "datamanager"), username
        assert not user.is_superuser
    data_manager = User.objects.get(username="datamanager")
    assert list(data_manager.groups.values_list("name", flat=True)) == [DATA_MANAGERS_GROUP]


def test_a_second_run_leaves_the_demo_as_it_is(records_only):
    before = counts()
    again = demo_trial.seed_demo_trial(patients=8, photos=False)
    assert not again.created and again.study == records_only.study
    assert counts() == before


def test_seed_demo_refuses_to_run_with_debug_off_unless_told(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo", "--no-photos", "--patients", "2", stdout=StringIO())
    assert not Patient.objects.exists()

    out = StringIO()
    call_command("seed_demo", "--no-photos", "--patients", "2", "--i-know-this-is-not-production", stdout=out)
    assert f"Demo study {DEMO_STUDY_CODE}: 2 patients (created)." in out.getvalue()
    call_command("seed_demo", "--no-photos", "--i-know-this-is-not-production", stdout=out)
    assert "2 patients (already there, left as it was)." in out.getvalue()


def test_seed_demo_refuses_an_unknown_expression(db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="Unknown expression"):
        call_command("seed_demo", "--expressions", "smile_open,wink", stdout=StringIO())
    assert not Patient.objects.exists()


def test_demo_photos_are_scored_and_track_the_true_droop(db, settings, tmp_path, django_capture_on_commit_callbacks):
    """In-process scoring (no broker, as in `make run`); the real-worker version is in tests/integration."""
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    with django_capture_on_commit_callbacks(execute=True):
        result = demo_trial.seed_demo_trial(patients=4, expressions=("smile_open", "rest"), effect_mm=2.0)

    photos = Photo.objects.filter(patient__study=result.study).select_related("patient", "visit__scheduled_visit")
    assert result.photos_uploaded == photos.count() == len(result.truth) > 0
    assert set(photos.values_list("status", flat=True)) == {Photo.Status.SCORED}

    # The true values are in a file beside the database, not in any clinical table.
    assert result.ground_truth_path == tmp_path / "demo" / f"ground-truth-{DEMO_STUDY_CODE}.json"
    truth_file = json.loads(result.ground_truth_path.read_text())
    assert truth_file["effect_model"]["true_between_arm_effect_mm"]["week-12"] == -2.0
    truth = {
        (t["study_code"], t["visit"], t["expression"]): t["true_commissure_height_signed_mm"]
        for t in truth_file["photos"]
    }
    true, measured = [], []
    for photo in photos.prefetch_related("scores"):
        (score,) = photo.scores.all()
        true.append(truth[(photo.patient.study_code, photo.visit.scheduled_visit.code, photo.expression)])
        measured.append(score.metrics["commissure_height_signed_mm"])
    true, measured = np.array(true), np.array(measured)
    slope = np.polyfit(true, measured, 1)[0]
    assert 0.9 < slope < 1.1, slope
    assert np.mean(np.abs(measured - true)) < 0.3


def _snapshot(study) -> list[tuple]:
    return [
        (p.study_code, p.arm.code, p.sex, p.affected_side, p.aetiology, p.baseline_house_brackmann, p.enrollment_date)
        + tuple(
            (v.scheduled_visit.code, v.date_performed, v.house_brackmann, v.sunnybrook_composite)
            for v in p.visits.order_by("scheduled_visit__day_offset")
        )
        for p in study.patients.select_related("arm").order_by("study_code")
    ]


def test_the_same_seed_builds_the_same_study(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path

    class Rollback(Exception):
        pass

    snapshots = []
    for _ in range(2):
        try:
            with transaction.atomic():
                snapshots.append(_snapshot(demo_trial.seed_demo_trial(patients=6, seed=7, photos=False).study))
                raise Rollback  # the next build starts from an empty database again
        except Rollback:
            pass
    assert snapshots[0] == snapshots[1]
    with transaction.atomic():
        other = _snapshot(demo_trial.seed_demo_trial(patients=6, seed=8, photos=False).study)
    assert other != snapshots[0]


def test_the_demo_records_a_study_defined_outcome_that_moves_with_the_effect(records_only):
    from patients.models import VisitOutcomeValue

    study = records_only.study
    (outcome,) = study.outcomes.all()
    assert (outcome.code, outcome.unit) == (demo_trial.QOL_OUTCOME_CODE, "points")
    values = VisitOutcomeValue.objects.filter(outcome=outcome)
    assert values.count() == Visit.objects.filter(patient__study=study).count(), "one value per visit"
    assert all(outcome.min_value <= v.value <= outcome.max_value for v in values)
    assert outcome.history.filter(history_change_reason="Outcome defined").exists()
