"""The whole chain on a small cohort: the demo generator, a real scoring worker, the outcome summary.

`make bench` runs the same chain on the full 38-patient demo (docs/benchmarks.md); here a
16-patient cohort with the smile photos only keeps it to well under a minute. The seed is fixed,
so the cohort (arms included) is the same on every run.
"""

import pytest

from analysis import demo_trial
from measurements.models import Photo

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_pipeline_recovers_the_true_effect(worker_factory, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    worker = worker_factory()
    result = demo_trial.seed_demo_trial(patients=16, expressions=("smile_open",), effect_mm=2.0)
    photos = Photo.objects.filter(patient__study=result.study)
    assert photos.count() == result.photos_uploaded > 40

    wait_for(
        lambda: not photos.exclude(status__in=[Photo.Status.SCORED, Photo.Status.FAILED]).exists(),
        timeout=300,
        interval=0.5,
        what=lambda: f"the worker to score the demo photos\n{worker.log()}",
    )
    assert not photos.filter(status=Photo.Status.FAILED).exists()

    answer = demo_trial.known_answer(result.study, expression="smile_open", visit="week-12")
    assert answer["true_effect_mm"] == -2.0
    assert answer["ci_contains_true_effect"], answer["ancova"]
    assert answer["ancova"]["ci_high"] < 0, "the effect is found, not just not ruled out"
    tracked = answer["photos"]
    assert 0.9 < tracked["slope"] < 1.1 and tracked["r2"] > 0.9, tracked
    assert tracked["mean_absolute_error_mm"] < 0.3, tracked
