"""The photo section of the patient page: one slot per expression and visit, uploads, failures."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from measurements import engine
from measurements.models import Expression, Photo, PhotoScore

from .files import noise_jpeg, reported, stored_files, upload


def photo_section(page: str) -> str:
    start = page.index('<section id="photos"')
    return page[start : page.index("</section>", start)]


def fail(photo, reason="No face was found in the photo; make sure the patient's whole face is in the frame."):
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.FAILED, failure_code="no_face", failure_reason=reason)
    return reason


def score(photo, deviation=1.25):
    PhotoScore.objects.create(
        photo=photo,
        engine_version=engine.ENGINE_VERSION,
        model_version=engine.MODEL_VERSION,
        status="scored",
        metrics={"commissure_height_deviation_mm": deviation},
    )
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.SCORED)


def test_patient_page_shows_a_slot_for_every_expression(client, coordinator_a, patient_a, visit_a, add_photo):
    smile = add_photo(expression="smile_open")
    score(smile, deviation=2.345)
    client.force_login(coordinator_a)

    section = photo_section(client.get(f"/patients/{patient_a.pk}/").content.decode())

    assert 'aria-label="Photos of Baseline"' in section
    for _, label in Expression.choices:
        assert f'<div class="photo-label">{label}</div>' in section, label
    assert section.count("No photo") == len(Expression.choices) - 1
    assert f'src="/photos/{smile.pk}/thumbnail.jpg"' in section
    assert "2.3 mm" in section
    assert f'action="/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/"' in section


def test_failed_photo_shows_its_reason_and_a_replace_link(client, coordinator_a, patient_a, add_photo):
    photo = add_photo(expression="rest")
    reason = fail(photo)
    client.force_login(coordinator_a)

    section = photo_section(client.get(f"/patients/{patient_a.pk}/").content.decode())

    assert "Failed a quality check" in section
    assert "No face was found in the photo; make sure the patient&#x27;s whole face is in the frame." in section
    assert reason.split(";")[0] in section
    assert f'href="/photos/{photo.pk}/#replace"' in section
    assert ">Replace</a>" in section


def test_investigator_sees_the_failure_but_no_face_and_no_upload(client, investigator, patient_a, add_photo):
    photo = add_photo(expression="rest")
    fail(photo)
    client.force_login(investigator)

    section = photo_section(client.get(f"/patients/{patient_a.pk}/").content.decode())

    assert "No face was found in the photo" in section
    assert "<img" not in section
    assert "Image hidden (identifying)" in section
    assert "#replace" not in section
    assert "<form" not in section


def test_retake_counts_as_an_earlier_photo_on_the_page(client, coordinator_a, patient_a, add_photo):
    first = add_photo(expression="pucker")
    retake = add_photo(expression="pucker")
    client.force_login(coordinator_a)

    section = photo_section(client.get(f"/patients/{patient_a.pk}/").content.decode())

    assert f"/photos/{retake.pk}/thumbnail.jpg" in section
    assert f"/photos/{first.pk}/thumbnail.jpg" not in section
    assert "1 earlier photo kept" in section


def test_upload_form_stores_several_photos_tagged_with_their_expression(
    client, coordinator_a, patient_a, visit_a, media_root, django_capture_on_commit_callbacks
):
    client.force_login(coordinator_a)
    files = {"photo_rest": noise_jpeg(1), "photo_smile_open": noise_jpeg(2)}

    with django_capture_on_commit_callbacks() as queued:
        response = client.post(
            f"/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/",
            {field: upload(f"{field}.jpg", data) for field, data in files.items()},
        )

    assert response.status_code == 302
    assert response["Location"].startswith(f"/patients/{patient_a.pk}/?upload=")
    assert response["Location"].endswith("#upload-report")
    photos = {p.expression: p for p in Photo.objects.filter(visit=visit_a)}
    assert set(photos) == {"rest", "smile_open"}
    for expression, photo in photos.items():
        with photo.original.open("rb") as stored:
            assert stored.read() == files[f"photo_{expression}"]
        assert photo.original_filename == f"photo_{expression}.jpg"
        assert (photo.is_current, photo.status, photo.uploaded_by) == (True, Photo.Status.PENDING, coordinator_a)
    assert len(stored_files(media_root)) == 2
    assert len(queued) == 2, "each photo is queued for scoring after the commit"
    page = client.get(response["Location"]).content.decode()
    assert "Upload for Baseline: 2 stored." in page
    assert "Rest: “photo_rest.jpg” saved" in page
    assert "Broad smile (teeth showing): “photo_smile_open.jpg” saved" in page


def test_upload_form_with_no_file_asks_for_one(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)

    response = client.post(f"/patients/{patient_a.pk}/visits/{visit_a.pk}/photos/", {}, follow=True)

    assert reported(response)
    assert "Choose at least one photo." in response.content.decode()


def patient_page_queries(client, patient) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    assert '<div class="photo-label">' in response.content.decode()
    return len(queries)


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator"])
def test_patient_page_queries_do_not_grow_with_photos(
    client, request, persona, patient_a, another_patient_a, add_photo, coordinator_a
):
    from .conftest import record_baseline

    client.force_login(request.getfixturevalue(persona))
    one = another_patient_a
    one_visit = record_baseline(one, coordinator_a)
    score(add_photo(visit=one_visit, expression="rest"))
    eight = patient_a
    for expression in Expression.values:
        photo = add_photo(expression=expression)
        score(photo)
    fail(add_photo(expression="rest"))  # a retake: one earlier photo kept
    assert Photo.objects.filter(patient=eight, is_current=True).count() == 8
    patient_page_queries(client, one)  # warm up per-process caches (content types, sessions)

    assert patient_page_queries(client, eight) == patient_page_queries(client, one)
