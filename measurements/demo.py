"""Demo photos for `manage.py seed_demo`: synthetic faces with a known droop, scored like any upload.

The faces are scikit-image's astronaut (shipped inside the package, so nothing is
downloaded) with the affected mouth corner pulled down by a known number of
millimetres: at baseline every patient droops by 2-4 mm; at the latest visit the
BoNT-A patients droop about 60% less, the controls about the same. It needs the
development requirements (scikit-image), which `make run` installs; without them
the demo simply has no photos.
"""

import logging

from django.db import transaction

from patients.models import Patient, RecordStatus, Study

from . import services
from .models import Photo

logger = logging.getLogger(__name__)

BASELINE_DROOP_MM = (2.0, 2.6, 3.2, 3.8, 2.3, 2.9, 3.5)
BONT_A_CORRECTION = 0.6
CONTROL_CORRECTION = 0.1


def seed_demo_photos(study: Study) -> int:
    """Upload and score rest and broad-smile photos at baseline and the latest visit. Idempotent."""
    if Photo.objects.filter(patient__study=study).exists():
        return 0
    try:
        from tests.imaging import astronaut_face, face_reference, pull_commissure_down, to_jpeg_bytes
    except ImportError:
        logger.warning("scikit-image is not installed: the demo has no photos.")
        return 0
    face = astronaut_face()
    reference = face_reference(face)
    count = 0
    patients = study.patients.filter(status=Patient.Status.ENROLLED, arm__isnull=False).select_related("arm")
    for index, patient in enumerate(patients.order_by("study_code")):
        visits = list(
            patient.visits.filter(status=RecordStatus.RECORDED)
            .select_related("scheduled_visit", "created_by")
            .order_by("scheduled_visit__day_offset")
        )
        if not visits:
            continue
        baseline_mm = BASELINE_DROOP_MM[index % len(BASELINE_DROOP_MM)] + index * 0.01  # unique bytes per patient
        correction = BONT_A_CORRECTION if patient.arm.receives_injections else CONTROL_CORRECTION
        plan = [(visits[0], baseline_mm)]
        if len(visits) > 1:
            plan.append((visits[-1], baseline_mm * (1 - correction)))
        for visit, droop in plan:
            smile = pull_commissure_down(face, side=patient.affected_side, mm=droop, reference=reference)
            rest = pull_commissure_down(face, side=patient.affected_side, mm=droop / 2, reference=reference)
            for expression, image in (("smile_open", smile), ("rest", rest)):
                # Each upload commits on its own, so the in-process scoring runs right after it.
                with transaction.atomic():
                    services.photo_upload(
                        visit=visit,
                        expression=expression,
                        data=to_jpeg_bytes(image),
                        filename=f"{patient.study_code}-{visit.scheduled_visit.code}-{expression}.jpg",
                        by=visit.created_by,
                    )
                count += 1
    return count
