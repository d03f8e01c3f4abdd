"""What an upload accepts and refuses. Every refusal says why, and stores nothing at all."""

import io

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from PIL import Image

from measurements import services
from measurements.models import Photo
from patients import services as patient_services
from tests.imaging import bomb_png_bytes, with_exif_orientation

from .conftest import as_if_the_worker_finished
from .files import encode, noise_image, noise_jpeg, reported, stored_files, upload


def upload_url(visit):
    return f"/patients/{visit.patient_id}/visits/{visit.pk}/photos/"


def assert_nothing_stored(media_root):
    assert Photo.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.fixture
def coordinator_client(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


# --- Refused, each with its own message -------------------------------------------------


def test_empty_file_is_refused(coordinator_client, visit_a, media_root):
    response = coordinator_client.post(upload_url(visit_a), {"photo_rest": upload("rest.jpg", b"")}, follow=True)

    assert reported(response)
    assert "“rest.jpg” not saved: “rest.jpg” is empty (0 bytes)." in response.content.decode()
    assert_nothing_stored(media_root)


def test_empty_file_is_refused_by_the_service(add_photo, media_root):
    with pytest.raises(ValidationError, match=r"“rest.jpg” is empty \(0 bytes\)"):
        add_photo(b"", filename="rest.jpg")
    assert_nothing_stored(media_root)


def gif_bytes():
    return encode(noise_image(1).convert("P"), "GIF")


def bmp_bytes():
    return encode(noise_image(2), "BMP")


@pytest.mark.parametrize(
    "filename, make_data, message",
    [
        (
            "notes.jpg",
            lambda: b"Visit notes: patient smiled on request.\n" * 20,
            "“notes.jpg” is not a JPEG, PNG, WebP or HEIC photo.",
        ),
        ("animation.gif", gif_bytes, "“animation.gif” is a GIF image; upload a JPEG, PNG, WebP or HEIC photo."),
        ("scan.bmp", bmp_bytes, "“scan.bmp” is a BMP image; upload a JPEG, PNG, WebP or HEIC photo."),
    ],
    ids=["text-renamed-jpg", "gif", "bmp"],
)
def test_what_is_not_a_supported_photo_is_refused(
    coordinator_client, visit_a, media_root, filename, make_data, message
):
    response = coordinator_client.post(
        upload_url(visit_a), {"photo_smile_open": upload(filename, make_data())}, follow=True
    )

    assert reported(response)
    assert message in response.content.decode()
    assert_nothing_stored(media_root)


def test_file_over_the_size_limit_is_refused(coordinator_client, visit_a, media_root, settings):
    settings.PHOTO_MAX_UPLOAD_MB = 1
    # A real JPEG (readers stop at its end marker) padded to 1.5 MB.
    data = noise_jpeg(3) + b"\0" * (1536 * 1024 - len(noise_jpeg(3)))
    assert len(data) == 1536 * 1024

    response = coordinator_client.post(upload_url(visit_a), {"photo_rest": upload("big.jpg", data)}, follow=True)

    assert reported(response)
    assert "“big.jpg” is 1.5 MB, above the 1 MB limit." in response.content.decode()
    assert_nothing_stored(media_root)


def test_size_limit_is_also_enforced_by_the_service(add_photo, media_root, settings):
    settings.PHOTO_MAX_UPLOAD_MB = 1
    with pytest.raises(ValidationError, match="above the 1 MB limit") as refused:
        add_photo(noise_jpeg(3) + b"\0" * (1536 * 1024), filename="big.jpg")
    assert refused.value.code == "too_large"
    assert_nothing_stored(media_root)


def test_upload_form_states_the_formats_and_configured_size_limit(coordinator_client, visit_a, settings):
    settings.PHOTO_MAX_UPLOAD_MB = 7
    response = coordinator_client.get(f"/patients/{visit_a.patient_id}/")
    assert "JPEG, PNG, WebP or HEIC photos, up to 7 MB each." in response.content.decode()


def test_decompression_bomb_is_refused_by_its_pixel_count(coordinator_client, visit_a, media_root):
    data = bomb_png_bytes(30000, 30000)  # a valid 1-bit PNG: ~100 KB on disk, 900 M pixels decoded
    assert len(data) < 1024 * 1024

    response = coordinator_client.post(
        upload_url(visit_a), {"photo_rest": upload("bomb.png", data, "image/png")}, follow=True
    )

    assert reported(response)
    page = response.content.decode()
    assert "“bomb.png”" in page
    assert "megapixel limit" in page
    assert "not a JPEG" not in page, "a bomb is a real PNG: the message must say what is wrong with it"
    assert_nothing_stored(media_root)
    with pytest.raises(ValidationError) as refused:
        services.photo_inspect(data, filename="bomb.png")
    assert refused.value.code == "too_many_pixels"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns above 89 MP; we refuse
def test_photo_just_over_the_pixel_limit_is_refused_with_its_size(add_photo, media_root):
    data = encode(Image.new("1", (12000, 9000)), "PNG")  # 108 MP: below PIL's own bomb limit, above ours
    with pytest.raises(
        ValidationError, match=r"12000 × 9000 pixels \(108 megapixels\), above the 50-megapixel limit"
    ) as refused:
        add_photo(data, filename="huge.png")
    assert refused.value.code == "too_many_pixels"
    assert_nothing_stored(media_root)


def test_photo_for_a_voided_visit_is_refused(add_photo, visit_a, coordinator_a, media_root):
    patient_services.visit_void(visit=visit_a, by=coordinator_a, reason="Entered for the wrong patient")
    visit_a.refresh_from_db()

    with pytest.raises(ValidationError, match="This visit has been voided; photos cannot be added to it."):
        add_photo()
    assert_nothing_stored(media_root)


def test_voided_visit_has_no_upload_page(coordinator_client, visit_a, coordinator_a, media_root):
    patient_services.visit_void(visit=visit_a, by=coordinator_a, reason="Entered for the wrong patient")

    assert coordinator_client.get(upload_url(visit_a)).status_code == 404
    response = coordinator_client.post(upload_url(visit_a), {"photo_rest": upload("rest.jpg", noise_jpeg(4))})
    assert response.status_code == 404
    assert_nothing_stored(media_root)


def test_photo_for_a_withdrawn_patient_is_refused(coordinator_client, visit_a, patient_a, coordinator_a, media_root):
    patient_services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Consent withdrawn")

    response = coordinator_client.post(
        upload_url(visit_a), {"photo_rest": upload("rest.jpg", noise_jpeg(5))}, follow=True
    )

    assert reported(response)
    assert f"{patient_a.study_code} is withdrawn; no new photos can be added." in response.content.decode()
    assert_nothing_stored(media_root)


def test_unknown_expression_is_refused_by_the_service(add_photo, media_root):
    with pytest.raises(ValidationError) as refused:
        add_photo(expression="wink")
    assert refused.value.message_dict == {"expression": ["Unknown expression 'wink'."]}
    assert_nothing_stored(media_root)


def test_upload_form_ignores_a_field_for_an_unknown_expression(coordinator_client, visit_a, media_root):
    response = coordinator_client.post(
        upload_url(visit_a), {"photo_wink": upload("wink.jpg", noise_jpeg(6))}, follow=True
    )

    assert reported(response)
    assert "Choose at least one photo." in response.content.decode()
    assert_nothing_stored(media_root)


def test_a_refused_file_does_not_stop_the_good_ones_in_the_same_form(coordinator_client, visit_a, media_root):
    response = coordinator_client.post(
        upload_url(visit_a),
        {"photo_rest": upload("rest.jpg", noise_jpeg(7)), "photo_pucker": upload("pucker.jpg", b"not a photo")},
        follow=True,
    )

    assert reported(response)
    assert "“pucker.jpg” is not a JPEG, PNG, WebP or HEIC photo." in response.content.decode()
    assert list(Photo.objects.values_list("expression", flat=True)) == ["rest"]
    assert len(stored_files(media_root)) == 1


# --- Accepted ----------------------------------------------------------------------------


def heic_bytes(seed):
    # pillow-heif ships libheif with the x265 encoder, so a real HEIC can be written here.
    import pillow_heif

    assert "x265" in str(pillow_heif.libheif_info()["encoders"]), "this pillow-heif wheel cannot encode HEIC"
    return encode(noise_image(seed, (96, 64)), "HEIF", quality=90)


def mpo_bytes(seed):
    # A JPEG carrying a second picture (MPF), as phones write HDR gain maps and depth maps: PIL calls it MPO.
    data = encode(noise_image(seed, (96, 64)), "MPO", save_all=True, append_images=[noise_image(seed + 1, (48, 32))])
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, data[:2]) == ("MPO", b"\xff\xd8")
    return data


@pytest.mark.parametrize(
    "filename, make_data, content_type",
    [
        ("rest.jpg", lambda: noise_jpeg(10, (96, 64)), "image/jpeg"),
        ("rest.png", lambda: encode(noise_image(11, (96, 64)), "PNG"), "image/png"),
        ("rest.webp", lambda: encode(noise_image(12, (96, 64)), "WEBP", quality=90), "image/webp"),
        ("IMG_0001.HEIC", lambda: heic_bytes(13), "image/heif"),
        ("IMG_0002.JPG", lambda: mpo_bytes(14), "image/jpeg"),
    ],
    ids=["jpeg", "png", "webp", "heic", "jpeg-with-second-picture"],
)
def test_supported_formats_are_stored_and_can_be_shown(
    coordinator_client, visit_a, media_root, filename, make_data, content_type
):
    data = make_data()

    response = coordinator_client.post(
        upload_url(visit_a), {"photo_rest": upload(filename, data, "application/octet-stream")}
    )

    assert response.status_code == 302
    assert response["Location"].startswith(f"/patients/{visit_a.patient_id}/?upload=")
    photo = Photo.objects.get()
    assert (photo.expression, photo.content_type, photo.original_filename) == ("rest", content_type, filename)
    assert photo.status == Photo.Status.PENDING
    with photo.original.open("rb") as stored:
        assert stored.read() == data
    as_if_the_worker_finished(photo)
    view = coordinator_client.get(f"/photos/{photo.pk}/view.jpg")
    assert view.status_code == 200
    with Image.open(io.BytesIO(b"".join(view.streaming_content))) as shown:
        assert (shown.format, shown.size) == ("JPEG", (96, 64))


def test_exif_orientation_is_applied_to_the_derived_images(coordinator_client, add_photo):
    # Upright: 160 wide, 100 high, red top-left corner. Stored sideways with Orientation=6,
    # as a phone held upright writes it: the stored pixels are 100 wide and 160 high.
    upright = np.zeros((100, 160, 3), dtype=np.uint8)
    upright[:, :] = (0, 0, 255)
    upright[:40, :60] = (255, 0, 0)
    data = with_exif_orientation(upright, 6, quality=95)
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.size == (100, 160)
    photo = add_photo(data)
    as_if_the_worker_finished(photo)

    for kind in ("view", "thumbnail"):
        response = coordinator_client.get(f"/photos/{photo.pk}/{kind}.jpg")
        assert response.status_code == 200
        with Image.open(io.BytesIO(b"".join(response.streaming_content))) as shown:
            assert shown.size == (160, 100), kind
            assert shown.getexif().get(0x0112) is None, "the orientation is applied, not passed on"
            red, green, blue = shown.convert("RGB").getpixel((10, 10))
            assert red > 200 and blue < 60, f"{kind} is not upright: top-left is {(red, green, blue)}"
