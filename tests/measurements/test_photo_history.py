"""Uploads, retakes, scoring failures and rescoring appear in the patient's history."""

from measurements import engine, services
from measurements.models import Photo, PhotoScore

from .files import noise_jpeg


def _history(client, patient):
    return client.get(f"/patients/{patient.pk}/history/").content.decode()


def test_upload_retake_failure_and_rescore_are_in_the_history(client, coordinator_a, patient_a, add_photo):
    first = add_photo(expression="rest", filename="rest-take-1.jpg")
    add_photo(noise_jpeg(77), expression="rest", filename="rest-take-2.jpg")
    Photo.objects.filter(pk=first.pk).update(status=Photo.Status.PROCESSING)
    first.refresh_from_db()
    first.status, first.failure_code, first.failure_reason = Photo.Status.FAILED, "no_face", "No face was found."
    first._change_reason = f"Scored by engine {engine.ENGINE_VERSION}: no_face"
    first.save()
    PhotoScore.objects.create(
        photo=first, engine_version="0.9", model_version="old", status="scored", metrics={}
    )  # a score from an older engine: the rescore gives it one from the current engine
    assert services.photos_rescore() >= 1

    client.force_login(coordinator_a)
    page = _history(client, patient_a)

    assert page.count("Photo: Baseline, Rest") >= 4
    assert "“rest-take-1.jpg”" in page and "“rest-take-2.jpg”" in page
    assert "Replaced by a retake" in page
    assert "no (replaced by a retake)" in page
    assert "No face was found." in page
    assert f"Queued for rescoring by engine {engine.ENGINE_VERSION}" in page


def test_investigator_sees_photo_events_without_file_names(client, investigator, patient_a, add_photo):
    add_photo(expression="rest", filename="Jane-Doe-face.jpg")
    client.force_login(investigator)
    page = _history(client, patient_a)
    assert "Photo: Baseline, Rest" in page and "uploaded" in page
    assert "Jane-Doe" not in page
