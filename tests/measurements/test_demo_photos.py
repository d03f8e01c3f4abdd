"""The demo's photos: synthetic faces with a known droop, uploaded and scored like any photo."""

from measurements.demo import seed_demo_photos
from measurements.models import Photo
from patients.demo import seed_demo


def test_demo_photos_are_scored_and_show_the_treatment_effect(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):
        study, _ = seed_demo(patients_per_site=3)
        uploaded = seed_demo_photos(study)

    photos = Photo.objects.filter(patient__study=study)
    assert uploaded == photos.count() > 0
    assert set(photos.values_list("status", flat=True)) == {Photo.Status.SCORED}
    # Idempotent: a second run adds nothing.
    assert seed_demo_photos(study) == 0

    for patient in study.patients.filter(photos__isnull=False).distinct().select_related("arm"):
        smiles = list(
            patient.photos.filter(expression="smile_open")
            .order_by("visit__scheduled_visit__day_offset")
            .values_list("scores__metrics__commissure_height_signed_mm", flat=True)
        )
        if len(smiles) < 2:
            continue
        baseline, latest = smiles[0], smiles[-1]
        # The affected corner was pulled down 2-4 mm at baseline; BoNT-A patients lose about 60% of it.
        improvement = baseline - latest
        if patient.arm.receives_injections:
            assert improvement > 1.0, (patient, baseline, latest)
        else:
            assert improvement < 0.8, (patient, baseline, latest)
