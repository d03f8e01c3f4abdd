"""Resource limits of an upload: pixels, bit depth, palette tricks, and no decoding in a web request.

A 100-megapixel 16-bit PNG is 0.2 MB on disk (PNG compresses a flat image to almost
nothing) but 200 MB as pixels, and several gigabytes once thumbnailed in RGB. It must be
refused from its header, with memory bounded, and the image view must never decode a photo.
"""

import io
import tracemalloc

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image

from measurements import engine, services
from measurements.models import Photo
from measurements.selectors import derived_image_name
from measurements.tasks import score_photo
from tests.imaging import bomb_png_bytes

from .conftest import as_if_the_worker_finished
from .files import encode, noise_image, noise_jpeg, reported, stored_files, upload


@pytest.fixture(scope="module")
def png_100mp_16bit():
    data = bomb_png_bytes(10_000, 10_000, bit_depth=16, colour_type=0)
    assert len(data) < 1024 * 1024, "built small on disk"
    return data


@pytest.fixture
def coordinator_client(client, coordinator_a):
    client.force_login(coordinator_a)
    return client


def upload_url(visit):
    return f"/patients/{visit.patient_id}/visits/{visit.pk}/photos/"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL warns above 89 MP; we refuse
def test_a_100_megapixel_16_bit_png_is_refused_with_bounded_memory(
    coordinator_client, visit_a, media_root, png_100mp_16bit
):
    tracemalloc.start()
    try:
        response = coordinator_client.post(
            upload_url(visit_a), {"photo_rest": upload("scan.png", png_100mp_16bit, "image/png")}, follow=True
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert reported(response)
    page = response.content.decode()
    assert "“scan.png”" in page
    assert "10000 × 10000 pixels (100 megapixels), above the 50-megapixel limit" in page
    assert Photo.objects.count() == 0
    assert stored_files(media_root) == []
    # Decoding it would take 200 MB (and gigabytes as RGB); the header check needs a few.
    assert peak < 25 * 1024 * 1024, f"the refusal used {peak / 1024 / 1024:.0f} MB"


def test_a_photo_at_the_clinical_pixel_ceiling_passes_the_header_check():
    data = bomb_png_bytes(7_000, 7_000, bit_depth=8, colour_type=2)  # 49 MP, 8-bit RGB

    info = services.photo_inspect(data, filename="camera.png")

    assert (info.width, info.height) == (7_000, 7_000)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: bomb_png_bytes(200, 100, bit_depth=16, colour_type=0), "is a 16-bit image (I;16)"),
        # PIL opens a 16-bit RGB PNG as mode RGB: only its raw mode gives it away.
        (lambda: bomb_png_bytes(200, 100, bit_depth=16, colour_type=2), "is a 16-bit image (RGB)"),
        # 32-bit and float images come only in formats refused anyway (TIFF).
        (lambda: encode(Image.new("F", (200, 100)), "TIFF"), "upload a JPEG, PNG, WebP or HEIC"),
        (lambda: encode(noise_image(3, (200, 100)).convert("P"), "PNG"), "palette (indexed-colour) image"),
        (lambda: encode(Image.new("1", (200, 100)), "PNG"), "palette (indexed-colour) image"),
    ],
    ids=["16-bit-grey", "16-bit-rgb", "float-tiff", "palette", "1-bit"],
)
def test_16_bit_32_bit_and_palette_images_are_refused_at_upload_with_what_to_do(
    coordinator_client, visit_a, media_root, make, expected
):
    response = coordinator_client.post(
        upload_url(visit_a), {"photo_rest": upload("odd.png", make(), "image/png")}, follow=True
    )

    assert reported(response)
    page = response.content.decode()
    assert "“odd.png”" in page
    assert expected in page
    assert Photo.objects.count() == 0
    assert stored_files(media_root) == []


def test_unsupported_mode_refusal_has_its_own_code():
    with pytest.raises(ValidationError) as refused:
        services.photo_inspect(bomb_png_bytes(20, 10, bit_depth=16), filename="x.png")
    assert refused.value.code == "unsupported_mode"
    assert "8-bit JPEG" in refused.value.messages[0]


def test_8_bit_greyscale_and_transparent_photos_are_accepted():
    for image in (noise_image(4, (80, 60)).convert("L"), noise_image(5, (80, 60)).convert("RGBA")):
        assert services.photo_inspect(encode(image, "PNG"), filename="ok.png").content_type == "image/png"


def test_the_image_view_never_decodes_a_photo_and_says_when_an_image_is_not_ready(
    coordinator_client, add_photo, monkeypatch
):
    photo = add_photo(noise_jpeg(7, (120, 90)))  # pending: the worker has not made its images yet
    monkeypatch.setattr(engine, "decode_image", lambda *a, **k: pytest.fail("a web request decoded a photo"))

    for kind in ("thumbnail", "view"):
        response = coordinator_client.get(f"/photos/{photo.pk}/{kind}.jpg")
        assert response.status_code == 404
        assert "not ready yet" in response.content.decode()
        assert response["Cache-Control"] == "no-store"


def test_the_worker_builds_the_derived_images_and_the_view_serves_them(coordinator_client, add_photo, monkeypatch):
    photo = add_photo(noise_jpeg(8, (400, 300)))
    names = as_if_the_worker_finished(photo)
    assert [n.split("/")[1] for n in names] == ["view", "thumbnail"]  # no face: no overlay

    monkeypatch.setattr(engine, "decode_image", lambda *a, **k: pytest.fail("a web request decoded a photo"))
    thumbnail = coordinator_client.get(f"/photos/{photo.pk}/thumbnail.jpg")
    view = coordinator_client.get(f"/photos/{photo.pk}/view.jpg")

    assert thumbnail.status_code == view.status_code == 200
    assert thumbnail["Cache-Control"] == view["Cache-Control"] == "no-store"
    with Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))) as small:
        assert small.size == (320, 240)


def test_the_scoring_task_makes_the_images(add_photo):
    photo = add_photo(noise_jpeg(9, (200, 150)))

    score_photo.apply(args=[photo.pk])

    photo.refresh_from_db()
    assert photo.status == Photo.Status.FAILED  # noise has no face
    assert default_storage.exists(derived_image_name(photo, "view"))
    assert default_storage.exists(derived_image_name(photo, "thumbnail"))


def test_derive_images_command_makes_what_older_photos_lack(add_photo):
    photo = add_photo(noise_jpeg(10, (200, 150)))
    Photo.objects.filter(pk=photo.pk).update(status=Photo.Status.FAILED, failure_reason="No face found.")
    out = io.StringIO()

    call_command("derive_images", stdout=out)

    assert default_storage.exists(derived_image_name(photo, "thumbnail"))
    assert "Derived images present for 1 of 1 scored photos." in out.getvalue()


def test_an_undecodable_photo_says_there_will_be_no_image(coordinator_client, add_photo):
    photo = add_photo(noise_jpeg(11))
    Photo.objects.filter(pk=photo.pk).update(
        status=Photo.Status.FAILED, failure_code="unreadable", failure_reason="The image file is damaged."
    )

    response = coordinator_client.get(f"/photos/{photo.pk}/view.jpg")

    assert response.status_code == 404
    assert "could not be decoded" in response.content.decode()
