"""Generated test photos with known answers (no Django, no network).

Every photo starts from ``skimage.data.astronaut()`` (Eileen Collins, a
512x512 frontal portrait that ships inside scikit-image), upscaled so that the
iris is well above the engine's 12 px minimum (about 8 px at scale 1, 25 px at
the default scale 3). Warps of known size give scoring tests a known answer:
``pull_commissure_down`` moves one mouth corner down by a given number of
millimetres, converted to pixels with the same iris-based scale the engine
uses, measured on the unwarped photo.

Other helpers produce the awkward inputs the quality gates must catch (two
faces, a tiny face, a turned head, no face, broken files) and file encodings
(JPEG, CMYK, greyscale, 16-bit PNG, EXIF-rotated, decompression bomb).

All image functions take and return (H, W, 3) uint8 RGB numpy arrays unless
they say they return bytes. "Right" and "left" are the subject's: the subject's
right is on the image's left in an unmirrored photo.

Used by tests/engine, the integration tests and scripts/bench.py.
"""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

# The photo synthesis that the demo trial also uses lives in the project (measurements/synthetic.py);
# this module adds the awkward inputs and encodings that only the tests need, and re-exports the rest.
from measurements.synthetic import (
    FACE_CENTRE_1X,
    FACE_WIDTH_1X,
    FaceReference,
    astronaut_face,
    close_eyes,
    face_reference,
    gradient_image,
    mirror,
    pull_commissure_down,
    rotate,
    to_jpeg_bytes,
    turn_in_depth,
    warp_by_displacement,
)

__all__ = [
    "FaceReference",
    "astronaut_face",
    "bomb_png_bytes",
    "close_eyes",
    "cmyk_jpeg_bytes",
    "face_reference",
    "gradient_image",
    "greyscale",
    "halve",
    "jpeg_roundtrip",
    "large_photo_jpeg",
    "mirror",
    "no_face_image",
    "png16_bytes",
    "pull_commissure_down",
    "rotate",
    "tiny_face",
    "to_jpeg_bytes",
    "to_png_bytes",
    "truncated_jpeg_bytes",
    "turn_in_depth",
    "turned_face",
    "two_faces_side_by_side",
    "with_exif_orientation",
]


def no_face_image() -> np.ndarray:
    """``skimage.data.coffee()``: a real photo (a cup of coffee), no face."""
    return skdata.coffee().copy()


def turned_face(img: np.ndarray, degrees: float = 25.0) -> np.ndarray:
    """Imitate a head turned by about ``degrees`` to the subject's left.

    A flat photo cannot be turned in depth, so this shifts the central strip of
    the face (nose, mouth, chin) sideways relative to the eye corners by the
    amount a real turn would (nose tip about 0.97 half-eye-widths in front of
    the outer eye corners, MediaPipe's canonical face), with a smooth Gaussian
    displacement that leaves the eye corners and the face outline in place.
    The engine's head-turn gate measures exactly this nose-to-eye-corner
    offset.
    """
    ref = face_reference(img)
    pts = ref.landmarks
    right_corner, left_corner, nose = pts[33], pts[263], pts[1]
    half_width = float(np.linalg.norm(left_corner - right_corner)) / 2
    axis = (left_corner - right_corner) / (2 * half_width)
    shift_px = 0.97 * np.tan(np.radians(degrees)) * half_width
    cx = float(nose[0]) - 0.5
    sigma = 0.45 * half_width  # ~0 at the eye corners, smooth across the nose

    def displacement(x, y):
        weight = np.exp(-((x - cx) ** 2) / (2 * sigma**2)) * shift_px
        return weight * axis[0], weight * axis[1]

    return warp_by_displacement(img, displacement)


# --- Simple geometric and photometric changes ----------------------------------


def halve(img: np.ndarray) -> np.ndarray:
    """Half the width and height (area averaging)."""
    h, w = img.shape[:2]
    return cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def greyscale(img: np.ndarray) -> np.ndarray:
    """Luminance only, as an (H, W) uint8 array."""
    return np.asarray(Image.fromarray(img).convert("L"))


def jpeg_roundtrip(img: np.ndarray, quality: int = 70) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again."""
    return np.asarray(Image.open(io.BytesIO(to_jpeg_bytes(img, quality))).convert("RGB"))


# --- Awkward scenes ---------------------------------------------------------------


def two_faces_side_by_side(scale: float = 1.5) -> np.ndarray:
    """Two copies of the astronaut's head and shoulders next to each other."""
    img = astronaut_face(scale)
    h, w = img.shape[:2]
    # The face sits around x = 0.43 w; keep a band of 0.6 w around it.
    x0 = int(0.13 * w)
    band = img[:, x0 : x0 + int(0.6 * w)]
    return np.ascontiguousarray(np.concatenate([band, band], axis=1))


def tiny_face(face_width_px: int = 40) -> np.ndarray:
    """The whole astronaut portrait shrunk until her face is ``face_width_px``
    wide (iris about 3 px): found by the model, but too small to measure."""
    return astronaut_face(face_width_px / FACE_WIDTH_1X)


def large_photo_jpeg(
    width: int = 4032,
    height: int = 3024,
    *,
    face_width_fraction: float = 0.3,
    quality: int = 92,
    variant: int = 0,
) -> bytes:
    """A phone-sized JPEG (default 12 MP, 4032x3024) of the astronaut.

    The portrait is upscaled until her face is ``face_width_fraction`` of the
    photo's width (0.3, a head-and-shoulders clinical photo, gives an iris of
    about 110 px) and cropped around the face, on a smooth background where
    the upscaled portrait does not reach. For benchmarks and worker tests.

    ``variant`` 0 is the face centred and unwarped. Any other value gives a
    reproducibly different photo (so that files differ, e.g. for
    de-duplication): the face moved by up to 8 % of the frame and one mouth
    corner pulled down by 0-3 mm (side and amount drawn from ``variant``).
    """
    cx, cy = FACE_CENTRE_1X
    shift = np.zeros(2)
    if variant:
        rng = np.random.default_rng(variant)
        shift = rng.uniform(-0.08, 0.08, size=2) * (width, height)
        # Warp at scale 2 (iris ~17 px, enough for the engine's reference),
        # then map that into the canvas.
        src_scale = 2.0
        src = astronaut_face(src_scale)
        src = pull_commissure_down(src, side=("right", "left")[int(rng.integers(2))], mm=float(rng.uniform(0, 3)))
    else:
        src_scale = 1.0
        src = skdata.astronaut()
    scale = face_width_fraction * width / FACE_WIDTH_1X / src_scale
    # Map canvas pixels straight to the source, so that only the canvas is
    # ever allocated, never the whole upscaled portrait.
    tx = width / 2 + shift[0] - cx * src_scale * scale
    ty = height / 2 + shift[1] - cy * src_scale * scale
    matrix = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
    background = cv2.resize(gradient_image(64, 48), (width, height), interpolation=cv2.INTER_LINEAR)
    canvas = cv2.warpAffine(
        src, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_TRANSPARENT, dst=background
    )
    return to_jpeg_bytes(canvas, quality)


# --- File encodings ---------------------------------------------------------------


def to_png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def cmyk_jpeg_bytes(img: np.ndarray, quality: int = 92) -> bytes:
    """A CMYK JPEG, as print workflows (and some scanners) write them."""
    buf = io.BytesIO()
    Image.fromarray(img).convert("CMYK").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def png16_bytes(img: np.ndarray, *, colour: bool = True) -> bytes:
    """A 16-bit PNG (48-bit RGB, or 16-bit greyscale with ``colour=False``)."""
    if colour:
        wide = img.astype(np.uint16) * 257
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(wide, cv2.COLOR_RGB2BGR))
        assert ok
        return encoded.tobytes()
    wide = greyscale(img).astype(np.uint16) * 257
    ok, encoded = cv2.imencode(".png", wide)
    assert ok
    return encoded.tobytes()


def with_exif_orientation(img: np.ndarray, orientation: int = 6, quality: int = 90) -> bytes:
    """JPEG bytes stored sideways with an EXIF Orientation tag that turns them
    upright again, the way phones save portrait photos. Orientation 6 means
    "rotate 90° clockwise to display"; the stored pixels are therefore the
    upright photo turned 90° counter-clockwise. Only 1, 3, 6 and 8 supported."""
    stored = {
        1: img,
        3: np.rot90(img, 2),
        6: np.rot90(img, 1),  # counter-clockwise
        8: np.rot90(img, -1),
    }[orientation]
    image = Image.fromarray(np.ascontiguousarray(stored))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def truncated_jpeg_bytes(img: np.ndarray, keep: float = 0.5) -> bytes:
    """A JPEG cut off after ``keep`` of its bytes, like an interrupted upload."""
    full = to_jpeg_bytes(img)
    return full[: int(len(full) * keep)]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def bomb_png_bytes(width: int = 30000, height: int = 30000, *, bit_depth: int = 1, colour_type: int = 0) -> bytes:
    """A complete, valid black PNG of ``width`` x ``height`` pixels (1-bit greyscale unless told).

    ``colour_type`` 0 is greyscale, 2 RGB (with ``bit_depth`` 8 or 16).

    Written by hand, row by row through zlib, so making it takes a fraction
    of a second and a few hundred kilobytes; decoding it in full would take
    ~110 MB as 1-bit and 2.7 GB as RGB, which the engine must refuse.
    """
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    channels = 3 if colour_type == 2 else 1
    row = b"\x00" * (1 + (width * channels * bit_depth + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    parts = []
    block = row * 256
    full_blocks, rest = divmod(height, 256)
    for _ in range(full_blocks):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(row * rest))
    parts.append(compressor.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )
