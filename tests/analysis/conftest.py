"""A small trial with chosen scores: PhotoScore rows written directly, so every number is known.

No image is scored here (that is tests/measurements); the metric names are the engine's.
"""

import uuid
from datetime import timedelta

import pytest

from measurements.engine import ENGINE_VERSION
from measurements.models import Photo, PhotoScore
from patients import services
from tests.conftest import make_patient

ENROLLED_DAYS_AGO = 200


def score_metrics(right: float, left: float, base: str = "commissure_height", unit: str = "mm") -> dict:
    """Engine-style metrics for one bilateral measurement (right, left, deviation)."""
    return {f"{base}_right_{unit}": right, f"{base}_left_{unit}": left, f"{base}_deviation_{unit}": abs(right - left)}


def add_scored_photo(
    visit,
    *,
    by,
    expression="smile_closed",
    metrics=None,
    status="scored",
    engine_version=None,
    is_current=True,
    pose=None,
):
    photo = Photo.objects.create(
        patient=visit.patient,
        visit=visit,
        expression=expression,
        original=f"photos/test/{uuid.uuid4().hex}",
        size_bytes=1,
        sha256=uuid.uuid4().hex + uuid.uuid4().hex,
        is_current=is_current,
        status=Photo.Status.SCORED if status == "scored" else Photo.Status.FAILED,
        failure_reason="" if status == "scored" else "Head turned",
        uploaded_by=by,
    )
    if status is not None:
        PhotoScore.objects.create(
            photo=photo,
            engine_version=engine_version or ENGINE_VERSION,
            model_version="test",
            status=status,
            metrics=metrics or {},
            **(pose or {}),  # yaw_deg, pitch_deg, roll_deg
        )
    return photo


def record_visit(patient, code, *, by, **fields):
    scheduled = patient.study.schedule.get(code=code)
    return services.visit_record(
        patient=patient,
        scheduled_visit=scheduled,
        by=by,
        date_performed=patient.enrollment_date + timedelta(days=scheduled.day_offset),
        **fields,
    )


@pytest.fixture
def trial(study, site_a, coordinator_a, data_manager):
    """Builds patients in a chosen arm with baseline and week-12 values of one metric."""

    class Trial:
        def patient(self, arm_code, *, side="left", site=None, enrolled_days_ago=ENROLLED_DAYS_AGO, **fields):
            patient = make_patient(
                site or site_a, coordinator_a, enrolled_days_ago=enrolled_days_ago, affected_side=side, **fields
            )
            arm = study.arms.get(code=arm_code)
            return services.patient_assign_arm_externally(
                patient=patient, arm=arm, by=data_manager, reason="Test allocation"
            )

        def measured(self, arm_code, values, *, side="left", expression="smile_closed", **fields):
            """A patient with commissure height deviation values per visit code, e.g. {"baseline": 3.5}."""
            patient = self.patient(arm_code, side=side, **fields)
            for code, deviation in values.items():
                visit = record_visit(patient, code, by=coordinator_a)
                if deviation is None:
                    continue
                # The affected side sits lower by `deviation` mm.
                right, left = (20.0, 20.0 + deviation) if side == "left" else (20.0 + deviation, 20.0)
                add_scored_photo(visit, by=coordinator_a, expression=expression, metrics=score_metrics(right, left))
            return patient

    return Trial()


# Three BoNT-A and three control patients: commissure height deviation (mm) at baseline and week 12.
MEASURED_BONT_A = ((3.5, 1.5), (3.0, 1.0), (4.0, 2.5))
MEASURED_CONTROL = ((3.0, 2.8), (3.2, 3.3), (3.8, 3.0))


@pytest.fixture
def measured(trial):
    """The six patients of MEASURED_BONT_A and MEASURED_CONTROL, scored at baseline and week 12."""
    for arm, values in (("bont-a", MEASURED_BONT_A), ("control", MEASURED_CONTROL)):
        for base, follow in values:
            trial.measured(arm, {"baseline": base, "week-12": follow})
