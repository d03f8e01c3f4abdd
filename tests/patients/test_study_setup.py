"""Setting a study up, and the demo trial that `make run` seeds."""

from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command

from patients import services
from patients.demo import DATA_MANAGERS_GROUP, DEMO_PASSWORD, DEMO_STUDY_CODE, seed_demo
from patients.models import (
    InjectionPoint,
    InjectionSession,
    Patient,
    PatientIdentifiers,
    RandomizationSlot,
    RandomizationStratum,
    ScheduledVisit,
    SeverityBand,
    Site,
    Study,
    StudyRole,
    TreatmentArm,
    Visit,
)

SET_UP_MODELS = (Study, Site, TreatmentArm, ScheduledVisit, RandomizationStratum, RandomizationSlot)


def row_counts(models) -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in models}


def test_set_up_creates_sites_arms_and_schedule(study):
    assert list(study.sites.values_list("code", "name")) == [("LON", "London"), ("MAN", "Manchester")]
    assert list(study.arms.values_list("code", "name", "receives_injections", "allocation_weight")) == [
        ("bont-a", "BoNT-A", True, 1),
        ("control", "Control", False, 1),
    ]
    assert list(study.schedule.values_list("code", "day_offset", "window_before_days", "window_after_days")) == [
        ("baseline", 0, 0, 3),
        ("week-2", 14, 3, 3),
        ("week-4", 28, 3, 7),
        ("week-12", 84, 7, 7),
        ("week-24", 168, 14, 14),
    ]
    assert (study.max_units_per_point, study.max_units_per_session) == (Decimal("10"), Decimal("50"))


def test_set_up_generates_a_list_for_every_site_and_severity_band(study):
    strata = {
        (stratum.site.code, stratum.severity_band): stratum.slots.count()
        for stratum in study.strata.select_related("site")
    }

    assert set(strata) == {(site, band) for site in ("LON", "MAN") for band in SeverityBand.values}
    assert all(count >= services.BLOCKS_GENERATED_AT_SET_UP * 4 for count in strata.values()), strata
    assert not RandomizationSlot.objects.filter(patient__isnull=False).exists()


def test_set_up_records_itself_in_the_audit_trail(db, data_manager):
    study = services.study_set_up(code="AUDITED", title="Audited", sites=[("LON", "London")], by=data_manager)

    assert sorted(study.history.values_list("history_type", "history_user", "history_change_reason")) == [
        ("+", data_manager.pk, "Study set up"),
        ("~", data_manager.pk, "Randomization list generated"),
    ]
    assert set(Site.history.filter(study_id=study.pk).values_list("history_change_reason", flat=True)) == {
        "Study set up"
    }


def test_saving_the_study_returned_by_set_up_keeps_its_seed(study):
    seed = Study.objects.get(pk=study.pk).randomization_seed

    study.title = "Renamed"
    study.save()

    assert seed and Study.objects.get(pk=study.pk).randomization_seed == seed


def test_a_schedule_without_a_baseline_is_refused(db):
    before = row_counts(SET_UP_MODELS)
    no_baseline = tuple(v for v in services.DEFAULT_SCHEDULE if v["day_offset"] != 0)

    with pytest.raises(ValidationError) as refusal:
        services.study_set_up(code="NO-BASE", title="No baseline", sites=[("LON", "London")], schedule=no_baseline)

    assert refusal.value.messages == ["The visit schedule needs a baseline visit at day 0."]
    assert row_counts(SET_UP_MODELS) == before


def test_a_study_with_a_single_arm_is_refused_and_nothing_is_left_behind(db):
    before = row_counts(SET_UP_MODELS)

    with pytest.raises(ValidationError) as refusal:
        services.study_set_up(
            code="ONE-ARM", title="One arm", sites=[("LON", "London")], arms=services.DEFAULT_ARMS[:1]
        )

    assert refusal.value.messages == ["A study needs at least two arms before its randomization list can be generated."]
    assert row_counts(SET_UP_MODELS) == before


def test_a_study_code_is_used_once(study):
    before = row_counts(SET_UP_MODELS)

    with pytest.raises(ValidationError) as refusal:
        services.study_set_up(code="FACE-1", title="Again", sites=[("LON", "London")])

    assert "code" in refusal.value.message_dict
    assert row_counts(SET_UP_MODELS) == before


def test_an_external_assignment_study_gets_no_list(db):
    study = services.study_set_up(
        code="EXT", title="External", sites=[("LON", "London")], randomization=Study.Randomization.EXTERNAL
    )

    assert not RandomizationSlot.objects.filter(stratum__study=study).exists()


# --- The demo -------------------------------------------------------------------------------------

DEMO_MODELS = (
    Study,
    Site,
    TreatmentArm,
    ScheduledVisit,
    RandomizationSlot,
    Patient,
    PatientIdentifiers,
    Visit,
    InjectionSession,
    InjectionPoint,
    StudyRole,
    get_user_model(),
)


def demo_counts() -> dict[str, int]:
    counts = row_counts(DEMO_MODELS)
    counts["allocated slots"] = RandomizationSlot.objects.filter(patient__isnull=False).count()
    counts["patient history"] = Patient.history.count()
    return counts


def test_seed_demo_run_twice_changes_nothing_the_second_time(db):
    out = StringIO()
    call_command("seed_demo", i_know_this_is_not_production=True, stdout=out)
    first = demo_counts()

    call_command("seed_demo", i_know_this_is_not_production=True, stdout=out)

    assert demo_counts() == first
    assert first["Study"] == 1 and first["Patient"] == 12 and first["allocated slots"] == 10
    printed = out.getvalue()
    assert printed.count(f"Demo study {DEMO_STUDY_CODE}: 12 patients.") == 2
    for username in ("coordinator.lon", "coordinator.man", "investigator", "datamanager", "apiclient"):
        assert printed.count(username) == 2, "each run prints the logins"


def test_seed_demo_creates_one_login_per_role(db):
    study, logins = seed_demo()

    User = get_user_model()
    roles = {username: role for username, _, role in logins}
    assert roles == {
        "coordinator.lon": "Study coordinator at LON",
        "coordinator.man": "Study coordinator at MAN",
        "investigator": "Investigator",
        "datamanager": "Data manager",
        "apiclient": "API client",
    }
    assert sorted(StudyRole.objects.filter(study=study).values_list("user__username", "role", "site__code")) == [
        ("apiclient", StudyRole.Role.API_CLIENT, None),
        ("coordinator.lon", StudyRole.Role.COORDINATOR, "LON"),
        ("coordinator.man", StudyRole.Role.COORDINATOR, "MAN"),
        ("datamanager", StudyRole.Role.DATA_MANAGER, None),
        ("investigator", StudyRole.Role.INVESTIGATOR, None),
    ]
    for username, password, _ in logins:
        user = User.objects.get(username=username)
        assert password == DEMO_PASSWORD and user.check_password(password), username
        assert user.is_staff == (username == "datamanager"), username
        assert not user.is_superuser
    data_manager = User.objects.get(username="datamanager")
    assert list(data_manager.groups.values_list("name", flat=True)) == [DATA_MANAGERS_GROUP]
    assert data_manager.has_perm("patients.change_visit")
    assert not data_manager.has_perm("patients.delete_visit")

    # The demo's patients follow the trial's own rules: they were made through the services.
    for site in study.sites.all():
        patients = list(site.patients.all())
        assert len(patients) == 6
        assert sum(p.arm is None for p in patients) == 1, "one enrolled patient is left to randomize"
        assert all(p.status == Patient.Status.ENROLLED for p in patients)
    assert not InjectionSession.objects.filter(patient__arm__receives_injections=False).exists()
    assert Visit.objects.filter(patient__study=study).exists()
