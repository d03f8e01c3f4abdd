"""The demo grades Sunnybrook and eFACE item by item at every visit, consistently with the true
droop (so the grades move with the effect), from its own keyed stream (the earlier draws keep
their order, so the demo's known answers do not move)."""

import numpy as np
import pytest
from django.db import transaction

from analysis import demo_scales, demo_trial
from patients.grading import eface, sunnybrook
from patients.models import ScaleAssessment, Visit


class Rollback(Exception):
    pass


def _build(**kwargs) -> tuple[list, list]:
    """(the visits' earlier fields, the scales' totals) of a demo built and rolled back."""
    try:
        with transaction.atomic():
            study = demo_trial.seed_demo_trial(photos=False, **kwargs).study
            visits = list(
                Visit.objects.filter(patient__study=study)
                .order_by("patient__study_code", "scheduled_visit__day_offset")
                .values_list("patient__study_code", "date_performed", "house_brackmann", "sunnybrook_composite")
            )
            scales = list(
                ScaleAssessment.objects.filter(visit__patient__study=study)
                .order_by("visit__patient__study_code", "visit__scheduled_visit__day_offset", "scale")
                .values_list("scale", "total", "complete")
            )
            raise Rollback
    except Rollback:
        return visits, scales


def test_every_demo_visit_records_both_scales_with_computed_totals(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    study = demo_trial.seed_demo_trial(patients=8, photos=False).study
    visits = Visit.objects.filter(patient__study=study)
    assert study.scales == ["sunnybrook", "eface", "house_brackmann"]
    for scale in ("sunnybrook", "eface"):
        assessments = ScaleAssessment.objects.filter(visit__in=visits, scale=scale, source="in_person")
        assert assessments.count() == visits.count()
        for a in assessments.filter(complete=True):
            expected = (
                sunnybrook.scores(a.responses).composite if scale == "sunnybrook" else eface.scores(a.responses).total
            )
            assert a.total == expected
        assert assessments.filter(complete=False, total__isnull=False).count() == 0


def test_the_demo_grades_move_with_the_effect(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    study = demo_trial.seed_demo_trial(patients=12, photos=False, effect_mm=3.0).study
    change: dict[bool, dict[str, list[float]]] = {
        True: {"sunnybrook": [], "eface": []},
        False: {"sunnybrook": [], "eface": []},
    }
    for patient in study.patients.select_related("arm"):
        for scale in ("sunnybrook", "eface"):
            totals = list(
                ScaleAssessment.objects.filter(visit__patient=patient, scale=scale, complete=True)
                .order_by("visit__scheduled_visit__day_offset")
                .values_list("total", flat=True)
            )
            if len(totals) >= 2:
                change[patient.arm.receives_injections][scale].append(totals[-1] - totals[0])
    for scale in ("sunnybrook", "eface"):
        assert change[True][scale] and change[False][scale]
        assert np.mean(change[True][scale]) > np.mean(change[False][scale]) + 5, scale


def test_a_drooping_face_grades_worse_than_a_balanced_one():
    def mean_totals(droop: float) -> tuple[float, float]:
        graded = [
            demo_scales.scale_responses(droop, demo_scales.scale_stream(1, f"P{i}", "baseline")) for i in range(40)
        ]
        sb = [sunnybrook.scores(g["sunnybrook"]).composite for g in graded]
        ef = [eface.scores(g["eface"]).total for g in graded]
        return float(np.mean(sb)), float(np.mean([t for t in ef if t is not None]))

    (sb_normal, ef_normal), (sb_droop, ef_droop) = mean_totals(0.0), mean_totals(7.0)
    assert sb_normal > 90 and ef_normal > 90
    assert sb_droop < sb_normal - 40 and ef_droop < ef_normal - 25


def test_the_scales_draw_from_their_own_stream_so_the_earlier_draws_do_not_move(db, settings, tmp_path, monkeypatch):
    settings.VAR_DIR = tmp_path
    visits, scales = _build(patients=6, seed=7)
    assert (visits, scales) == _build(patients=6, seed=7)  # same seed, same grades

    def noisier(droop, rng):
        for _ in range(50):
            rng.random()
        return demo_scales.scale_responses(droop, rng)

    monkeypatch.setattr(demo_trial, "scale_responses", noisier)
    other_visits, other_scales = _build(patients=6, seed=7)
    assert other_visits == visits
    assert other_scales != scales


@pytest.mark.parametrize("droop", [0.0, 4.0, 12.0])
def test_every_demo_answer_is_valid(droop):
    from patients.grading import SCALES, validate

    for i in range(20):
        for code, responses in demo_scales.scale_responses(droop, demo_scales.scale_stream(3, f"P{i}", "w")).items():
            assert validate(SCALES[code], responses) == {}
