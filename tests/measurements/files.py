"""Small encoded files for photo tests that need no face (faces come from tests.imaging)."""

import io
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def noise_image(seed: int = 0, size: tuple[int, int] = (64, 48)) -> Image.Image:
    """An RGB image unique to `seed` (so its bytes never collide with another test photo's)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    if fmt == "HEIF":
        from pillow_heif import register_heif_opener

        register_heif_opener()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def noise_jpeg(seed: int = 0, size: tuple[int, int] = (64, 48), **params) -> bytes:
    return encode(noise_image(seed, size), "JPEG", **params)


def jpeg_with_gps(seed: int = 0, size: tuple[int, int] = (96, 64)) -> bytes:
    """A JPEG whose EXIF carries a GPS position (51°30'N) and a camera make, as a phone writes it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[GPS_IFD] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}
    data = encode(noise_image(seed, size), "JPEG", exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as check:  # the fixture itself must carry what we test for
        assert check.getexif().get_ifd(GPS_IFD), "test photo lost its GPS block"
    return data


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def has_exif(data: bytes) -> bool:
    """True when a JPEG carries any EXIF: parsed tags, or an APP1 Exif segment in the raw bytes."""
    with Image.open(io.BytesIO(data)) as image:
        if image.getexif() or "exif" in image.info:
            return True
    return b"Exif\x00\x00" in data


def reported(response) -> str:
    """The page an upload redirected to (POST/redirect/GET), landing at its report; followed with follow=True."""
    assert response.status_code == 200, response.status_code
    assert response.redirect_chain, "the upload must answer with a redirect, so that a reload never resubmits"
    location, status = response.redirect_chain[-1]
    assert status == 302 and location.endswith("#upload-report"), location
    return response.content.decode()
