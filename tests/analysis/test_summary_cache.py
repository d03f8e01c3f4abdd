"""The summary cache: a repeat view is served from the cache, and never stale after any change that matters."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analysis.cache import data_stamp
from analysis.summary import outcome_summary
from measurements.models import Photo
from patients import services

from .conftest import add_scored_photo, score_metrics

QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed"}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def measured(trial):
    patients = []
    for arm, base, follow in (("bont-a", 3.5, 1.5), ("bont-a", 3.0, 1.0), ("control", 3.0, 2.8), ("control", 3.2, 3.3)):
        patients.append(trial.measured(arm, {"baseline": base, "week-12": follow}))
    return patients


def _week12_mean(study, arm="bont-a"):
    summary = outcome_summary(study, **QUERY)
    return next(v for v in summary["visits"] if v["code"] == "week-12")["arms"][arm]


def test_repeat_view_comes_from_the_cache(study, measured):
    with CaptureQueriesContext(connection) as cold:
        first = outcome_summary(study, **QUERY)
    with CaptureQueriesContext(connection) as warm:
        second = outcome_summary(study, **QUERY)
    assert first == second
    assert len(warm) < len(cold)
    assert not any("measurements_photoscore" in q["sql"] and "metrics" in q["sql"] for q in warm.captured_queries)


def test_a_new_score_changes_the_key(study, measured, coordinator_a):
    before = _week12_mean(study)["n"]
    patient = measured[0]
    visit = patient.visits.get(scheduled_visit__code="week-12")
    Photo.objects.filter(visit=visit).update(is_current=False)  # bypasses history, on purpose
    stamp = data_stamp(study)
    add_scored_photo(visit, by=coordinator_a, metrics=score_metrics(20, 20.5))
    assert data_stamp(study) != stamp
    assert _week12_mean(study)["mean"] == pytest.approx((0.5 + 1.0) / 2) and before == 2


def test_a_voided_visit_changes_the_key(study, measured, coordinator_a):
    _week12_mean(study)
    visit = measured[0].visits.get(scheduled_visit__code="week-12")
    services.visit_void(visit=visit, by=coordinator_a, reason="Entered on the wrong patient")
    assert _week12_mean(study)["n"] == 1


def test_a_visit_edit_changes_the_key(study, measured, coordinator_a):
    stamp = data_stamp(study)
    visit = measured[0].visits.get(scheduled_visit__code="week-12")
    services.visit_update(visit=visit, by=coordinator_a, reason="Grade added", house_brackmann=2)
    assert data_stamp(study) != stamp


def test_a_withdrawal_changes_the_key(study, measured, coordinator_a):
    stamp = data_stamp(study)
    services.patient_withdraw(patient=measured[0], by=coordinator_a, reason="Moved away")
    assert data_stamp(study) != stamp


def test_a_new_arm_assignment_changes_the_key(study, measured, trial, coordinator_a):
    _week12_mean(study)
    trial.measured("bont-a", {"baseline": 4.0, "week-12": 1.0})
    assert _week12_mean(study)["n"] == 3


def test_a_new_responder_threshold_changes_the_key(study, measured):
    stamp = data_stamp(study)
    study.responder_threshold_mm = 2
    study.save()
    assert data_stamp(study) != stamp


def test_filters_are_part_of_the_key(study, measured):
    assert _week12_mean(study)["n"] == 2
    summary = outcome_summary(study, **QUERY, site="MAN")
    assert next(v for v in summary["visits"] if v["code"] == "week-12")["arms"]["bont-a"]["n"] == 0
