"""Sunnybrook and eFACE recorded item by item at a visit: scores computed on save, never typed in;
an incomplete scale stays incomplete (missing, never zero); a bad answer names its item."""

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.models import ScaleAssessment

SB_WORKED = {
    "sb_rest_eye": "narrow",
    "sb_rest_cheek": "absent",
    "sb_rest_mouth": "corner_drooped",
    "sb_movement_forehead_wrinkle": 3,
    "sb_movement_gentle_eye_closure": 4,
    "sb_movement_open_mouth_smile": 2,
    "sb_movement_snarl": 3,
    "sb_movement_lip_pucker": 3,
    "sb_synkinesis_forehead_wrinkle": 1,
    "sb_synkinesis_gentle_eye_closure": 0,
    "sb_synkinesis_open_mouth_smile": 2,
    "sb_synkinesis_snarl": 1,
    "sb_synkinesis_lip_pucker": 0,
}


@pytest.fixture
def visit(patient_a, coordinator_a):
    return services.visit_record(
        patient=patient_a,
        scheduled_visit=patient_a.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )


def test_the_sunnybrook_scores_are_computed_from_the_items_on_save(visit, coordinator_a):
    a = services.visit_scale_record(visit=visit, scale="sunnybrook", responses=SB_WORKED, by=coordinator_a)
    a.refresh_from_db()
    assert a.scores == {"rest": 20, "movement": 60, "synkinesis": 4, "composite": 36}
    assert (a.total, a.complete, a.source) == (36, True, "in_person")


def test_the_eface_total_is_the_mean_of_the_item_scores(visit, coordinator_a):
    static = dict(zip(["ef_brow_rest", "ef_palpebral_fissure_rest", "ef_nasolabial_fold_depth_rest",
                       "ef_oral_commissure_rest"], [80, 120, 60, 150], strict=True))  # fmt: skip
    from patients.grading import eface

    dynamic = {i.code: v for i, v in zip(eface.DYNAMIC_ITEMS, [70, 100, 90, 40, 50, 60, 80], strict=True)}
    synk = {i.code: v for i, v in zip(eface.SYNKINESIS_ITEMS, [100, 80, 90, 70], strict=True)}
    a = services.visit_scale_record(visit=visit, scale="eface", responses=static | dynamic | synk, by=coordinator_a)
    a.refresh_from_db()
    assert a.scores["static"] == 67.5 and a.scores["dynamic"] == 70.0 and a.scores["synkinesis"] == 85.0
    assert a.total == pytest.approx(1100 / 15)


def test_an_incomplete_scale_is_saved_as_incomplete_with_no_total(visit, coordinator_a):
    partial = {k: v for k, v in SB_WORKED.items() if not k.startswith("sb_synkinesis")}
    a = services.visit_scale_record(visit=visit, scale="sunnybrook", responses=partial, by=coordinator_a)
    a.refresh_from_db()
    assert (a.complete, a.total) == (False, None)
    assert a.scores == {"rest": 20, "movement": 60, "synkinesis": None, "composite": None}


def test_an_answer_out_of_range_is_refused_naming_the_item_and_nothing_is_saved(visit, coordinator_a):
    with pytest.raises(ValidationError) as error:
        services.visit_scale_record(visit=visit, scale="eface", responses={"ef_brow_rest": 201}, by=coordinator_a)
    assert error.value.message_dict == {"ef_brow_rest": ["Brow at rest: 201 is outside 0 to 200."]}
    with pytest.raises(ValidationError, match="Voluntary movement: Snarl: 6 is not one of the allowed"):
        services.visit_scale_record(
            visit=visit, scale="sunnybrook", responses={"sb_movement_snarl": 6}, by=coordinator_a
        )
    assert not ScaleAssessment.objects.exists()


def test_a_correction_recomputes_and_keeps_the_old_answers_with_the_reason(visit, coordinator_a):
    a = services.visit_scale_record(visit=visit, scale="sunnybrook", responses=SB_WORKED, by=coordinator_a)
    with pytest.raises(ValidationError):
        services.visit_scale_update(assessment=a, responses=SB_WORKED, by=coordinator_a, reason=" ")
    services.visit_scale_update(
        assessment=a, responses=SB_WORKED | {"sb_rest_cheek": "normal"}, by=coordinator_a, reason="Fold misread"
    )
    a.refresh_from_db()
    assert (a.scores["rest"], a.total) == (10, 46)
    latest, first = a.history.order_by("-history_id")[:2]
    assert (latest.history_change_reason, latest.history_user, latest.total) == ("Fold misread", coordinator_a, 46)
    assert (first.history_change_reason, first.responses["sb_rest_cheek"], first.total) == ("Recorded", "absent", 36)


def test_one_current_scale_per_visit_and_a_void_frees_the_slot(visit, coordinator_a):
    a = services.visit_scale_record(visit=visit, scale="sunnybrook", responses={}, by=coordinator_a)
    with pytest.raises(ValidationError, match="already been recorded"):
        services.visit_scale_record(visit=visit, scale="sunnybrook", responses={}, by=coordinator_a)
    services.visit_scale_void(assessment=a, by=coordinator_a, reason="Graded the wrong visit")
    with pytest.raises(ValidationError, match="voided"):
        services.visit_scale_update(assessment=a, responses={}, by=coordinator_a, reason="x")
    services.visit_scale_record(visit=visit, scale="sunnybrook", responses={}, by=coordinator_a)
    assert ScaleAssessment.objects.filter(visit=visit).count() == 2  # voided, never deleted


def test_a_study_records_only_the_scales_it_chose(visit, coordinator_a):
    study = visit.patient.study
    study.scales = ["house_brackmann", "eface"]
    study.save()
    with pytest.raises(ValidationError, match="does not record the sunnybrook scale"):
        services.visit_scale_record(visit=visit, scale="sunnybrook", responses={}, by=coordinator_a)
    study.scales = ["sunnybrook", "nonsense"]
    with pytest.raises(ValidationError, match="Choose scales among"):
        study.full_clean()
