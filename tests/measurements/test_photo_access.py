"""Who may reach a photo, its images and its numbers. Faces are identifiers.

Every persona is tried against every photo URL; the expected status codes read as a table.
A photo of another site answers 404 (its existence is not revealed); an action a role may
not take on a photo it can see answers 403.
"""

import hashlib
import io
import json

import pytest
from PIL import Image

from measurements import engine, services
from measurements.models import Photo, PhotoScore
from tests.imaging import astronaut_face

from .files import GPS_IFD, has_exif, noise_jpeg, upload

IMAGE_KINDS = ("thumbnail", "view", "overlay")


@pytest.fixture
def photo(add_photo):
    """A scored photo of patient_a (site A) with landmarks for its overlay, scored without running the engine."""
    photo = add_photo(noise_jpeg(1, (120, 90)), expression="smile_open")
    PhotoScore.objects.create(
        photo=photo,
        engine_version=engine.ENGINE_VERSION,
        model_version=engine.MODEL_VERSION,
        status="scored",
        mm_per_px=0.25,
        metrics={"commissure_height_deviation_mm": 1.234, "asymmetry_index": 3.5},
        # Points on a small grid: enough to draw, no face needed to test who may see it.
        landmarks=[[20 + (i % 26) * 3, 15 + (i // 26) * 3] for i in range(478)],
        image_width=120,
        image_height=90,
    )
    photo.status = Photo.Status.SCORED
    photo.save()
    services.photo_derive_images(photo_id=photo.pk)  # as the worker does after scoring
    return photo


def request_every_url(client, photo, seed=100):
    """Status code of every photo URL, by name. POSTs send a fresh file each time."""
    upload_url = f"/patients/{photo.patient_id}/visits/{photo.visit_id}/photos/"
    responses = {
        "upload GET": client.get(upload_url),
        "upload POST": client.post(upload_url, {"photo_pucker": upload("pucker.jpg", noise_jpeg(seed))}),
        "detail": client.get(f"/photos/{photo.pk}/"),
        "replace": client.post(f"/photos/{photo.pk}/replace/", {"photo": upload("retake.jpg", noise_jpeg(seed + 1))}),
        **{kind: client.get(f"/photos/{photo.pk}/{kind}.jpg") for kind in IMAGE_KINDS},
        "status": client.get(f"/photos/status/?ids={photo.pk}"),
    }
    return responses


def codes(responses):
    return {name: response.status_code for name, response in responses.items()}


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_coordinator_of_the_site_can_use_every_photo_url(client, coordinator_a, photo):
    client.force_login(coordinator_a)

    responses = request_every_url(client, photo)

    assert codes(responses) == {
        "upload GET": 302,  # to the upload form on the patient page
        "upload POST": 302,
        "detail": 200,
        "replace": 302,
        "thumbnail": 200,
        "view": 200,
        "overlay": 200,
        "status": 200,
    }
    assert Photo.objects.count() == 3, "the upload and the retake were stored"
    for kind in IMAGE_KINDS:
        assert responses[kind]["Content-Type"] == "image/jpeg"
        assert responses[kind]["Cache-Control"] == "no-store", "faces must not stay in a shared browser cache"
        with Image.open(io.BytesIO(body(responses[kind]))) as image:
            assert image.format == "JPEG"
    detail = responses["detail"].content.decode()
    assert f'src="/photos/{photo.pk}/overlay.jpg"' in detail


def test_coordinator_cannot_see_other_site_photos(client, coordinator_b, photo):
    client.force_login(coordinator_b)

    responses = request_every_url(client, photo)

    assert codes(responses) == {
        "upload GET": 404,
        "upload POST": 404,
        "detail": 404,
        "replace": 404,
        "thumbnail": 404,
        "view": 404,
        "overlay": 404,
        "status": 200,
    }
    assert responses["status"].json() == {}, "the status of another site's photo is not revealed"
    assert Photo.objects.count() == 1
    for name, response in responses.items():
        assert b"1.23" not in body(response), f"{name} leaked the metrics"
        assert photo.patient.study_code.encode() not in body(response), f"{name} leaked the patient"


def test_investigator_sees_metrics_but_no_image(client, investigator, photo):
    client.force_login(investigator)

    responses = request_every_url(client, photo)

    assert codes(responses) == {
        "upload GET": 403,
        "upload POST": 403,
        "detail": 200,
        "replace": 403,
        "thumbnail": 404,
        "view": 404,
        "overlay": 404,
        "status": 200,
    }
    assert Photo.objects.count() == 1
    detail = responses["detail"].content.decode()
    assert "Commissure height" in detail and ">Deviation<" in detail
    assert "1.23" in detail
    assert "<img" not in detail, "the face is an identifier: no image of any kind on the page"
    assert f"/photos/{photo.pk}/view.jpg" not in detail
    assert f"/photos/{photo.pk}/overlay.jpg" not in detail
    assert 'id="replace"' not in detail
    assert responses["status"].json()[str(photo.pk)]["status"] == "scored"


def test_data_manager_sees_images_but_cannot_upload(client, data_manager, photo):
    client.force_login(data_manager)

    responses = request_every_url(client, photo)

    assert codes(responses) == {
        "upload GET": 403,
        "upload POST": 403,
        "detail": 200,
        "replace": 403,
        "thumbnail": 200,
        "view": 200,
        "overlay": 200,
        "status": 200,
    }
    assert Photo.objects.count() == 1
    detail = responses["detail"].content.decode()
    assert f'src="/photos/{photo.pk}/overlay.jpg"' in detail
    assert 'id="replace"' not in detail


def test_outsider_is_refused_everywhere(client, outsider, photo):
    client.force_login(outsider)

    responses = request_every_url(client, photo)

    assert set(codes(responses).values()) == {403}
    assert Photo.objects.count() == 1


def test_anonymous_visitor_is_sent_to_login(client, photo):
    responses = request_every_url(client, photo)

    for name, response in responses.items():
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/?next="), name
    assert Photo.objects.count() == 1


def test_replace_accepts_only_post(client, coordinator_a, photo):
    client.force_login(coordinator_a)
    assert client.get(f"/photos/{photo.pk}/replace/").status_code == 405


def test_unknown_image_kind_is_not_found(client, coordinator_a, photo):
    client.force_login(coordinator_a)
    assert client.get(f"/photos/{photo.pk}/original.jpg").status_code == 404


def test_status_json_reports_only_visible_photos(client, coordinator_a, photo, visit_b, coordinator_b, add_photo):
    other_site = add_photo(noise_jpeg(3), visit=visit_b, by=coordinator_b)
    Photo.objects.filter(pk=photo.pk).update(
        status="failed", failure_code="no_face", failure_reason="No face was found."
    )
    client.force_login(coordinator_a)

    response = client.get(f"/photos/status/?ids={photo.pk},{other_site.pk},999999")

    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert json.loads(response.content) == {
        str(photo.pk): {"status": "failed", "label": "Failed a quality check", "reason": "No face was found."}
    }
    assert client.get("/photos/status/?ids=1,abc").status_code == 400


# --- What is served, and what is stored -------------------------------------------------------


@pytest.fixture(scope="module")
def face_with_gps():
    """A face photo as a phone saves it: EXIF with the camera make and a GPS position."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    buffer = io.BytesIO()
    Image.fromarray(astronaut_face()).save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif().get_ifd(GPS_IFD)[2] == (51.0, 30.0, 0.0)
    return data


def test_served_images_carry_no_exif_and_no_location(client, coordinator_a, add_photo, face_with_gps):
    photo = add_photo(face_with_gps, filename="IMG_2024.jpg")
    assert services.photo_score(photo_id=photo.pk) == "scored"
    services.photo_derive_images(photo_id=photo.pk)  # the worker's second step
    client.force_login(coordinator_a)

    for kind in IMAGE_KINDS:
        response = client.get(f"/photos/{photo.pk}/{kind}.jpg")
        assert response.status_code == 200, kind
        served = body(response)
        assert not has_exif(served), f"{kind} carries EXIF"
        assert b"PhoneMaker" not in served, kind
        with Image.open(io.BytesIO(served)) as image:
            assert not image.getexif(), kind
            assert image.size[0] > 0


def test_original_is_stored_untouched(client, coordinator_a, visit_a, face_with_gps):
    client.force_login(coordinator_a)

    client.post(
        f"/patients/{visit_a.patient_id}/visits/{visit_a.pk}/photos/",
        {"photo_rest": upload("IMG_2024.jpg", face_with_gps)},
    )

    photo = Photo.objects.get()
    with photo.original.open("rb") as stored:
        kept = stored.read()
    assert kept == face_with_gps, "the original keeps every byte, EXIF included"
    assert photo.sha256 == hashlib.sha256(face_with_gps).hexdigest()
    assert photo.size_bytes == len(face_with_gps)
    assert photo.original_filename == "IMG_2024.jpg"
    assert "IMG_2024" not in photo.original.name, "no original file name in the storage path"
    assert photo.patient.study_code not in photo.original.name


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_investigator_cannot_fetch_any_image_of_a_face(client, investigator, photo, kind):
    client.force_login(investigator)
    response = client.get(f"/photos/{photo.pk}/{kind}.jpg")
    assert response.status_code == 404
    assert not response.get("Content-Type", "").startswith("image/")


def test_investigator_patient_page_lists_photos_without_images(client, investigator, photo):
    client.force_login(investigator)
    page = client.get(f"/patients/{photo.patient_id}/").content.decode()
    assert f"/photos/{photo.pk}/" in page, "the photo and its numbers are listed"
    assert "thumbnail.jpg" not in page and "view.jpg" not in page and "overlay.jpg" not in page
    assert "Image hidden (identifying)" in page


def test_the_photo_selector_refuses_images_to_an_investigator_but_not_the_record(investigator, coordinator_a, photo):
    from django.http import Http404

    from measurements import selectors
    from patients.selectors import access_for

    assert selectors.photo_get(access_for(investigator), photo.pk) == photo
    with pytest.raises(Http404):
        selectors.photo_get(access_for(investigator), photo.pk, images=True)
    assert selectors.photo_get(access_for(coordinator_a), photo.pk, images=True) == photo
