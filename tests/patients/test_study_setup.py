"""Setting a study up (the demo trial has its own tests in tests/analysis/test_demo_trial.py)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.models import (
    RandomizationSlot,
    RandomizationStratum,
    ScheduledVisit,
    SeverityBand,
    Site,
    Study,
    TreatmentArm,
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
