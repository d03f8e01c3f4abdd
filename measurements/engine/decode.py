"""Turning uploaded bytes into an 8-bit RGB array, or a clear refusal.

Phones send JPEG (often 12 MP, rotated through EXIF), HEIC from iPhones, and
the occasional PNG export. Decoding a 4032x3024 JPEG in full takes longer than
scoring it, so JPEGs are decoded at a reduced size straight from the DCT
coefficients (``Image.draft``), and every other format is shrunk after
decoding. Anything that is not a readable, reasonably sized image becomes an
``EngineError`` with status ``unreadable``; nothing here may crash the caller.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import UNREADABLE, EngineError

# Larger than any photo a phone or clinical camera produces (a 108 MP phone
# photo is 12000x9000); a file that claims more is a decompression bomb or a
# mistake. PIL refuses anything above 179 M pixels on its own as well.
DEFAULT_MAX_PIXELS = 120_000_000
# Long side the photo is decoded at for analysis (JPEGs land between 3/4 of
# this and this, straight from the DCT). A phone photo framed head and
# shoulders still has an iris of 25-30 px at this size, which is what the
# model's crops use anyway; the engine decodes again at a larger size when the
# face turns out to be smaller (see ``score_image_bytes``).
DEFAULT_TARGET_LONG_SIDE = 1024

_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if _heif_registered:
        return
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover - pillow-heif is a hard requirement
        pass
    _heif_registered = True


@dataclass(frozen=True)
class DecodedImage:
    """A photo ready for analysis.

    ``rgb`` is an (H, W, 3) uint8 array, upright (EXIF orientation applied).
    ``original_size`` is (width, height) of the upright photo at full
    resolution; ``scale_factor`` is ``rgb`` width / original width (1.0 when
    the photo was not shrunk). ``format`` is the file format PIL recognised.
    """

    rgb: np.ndarray
    original_size: tuple[int, int]
    scale_factor: float
    format: str = ""

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Per-axis scale from original pixels to ``rgb`` pixels."""
        h, w = self.rgb.shape[:2]
        return w / self.original_size[0], h / self.original_size[1]


def _unreadable(reason: str) -> EngineError:
    return EngineError(UNREADABLE, reason)


def _to_rgb8(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB, flattening transparency onto white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale the actual range down to 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr8 = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max() <= 1.0 else 255.0
        arr8 = np.clip(arr * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # P, L, 1, CMYK, YCbCr, LAB, HSV, RGBX, ... all have a direct conversion.
    return img.convert("RGB")


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    target_long_side: int | None = DEFAULT_TARGET_LONG_SIDE,
) -> DecodedImage:
    """Decode an uploaded photo to an upright 8-bit RGB array.

    ``target_long_side`` caps the long side of the returned array (``None``
    keeps full resolution). Raises ``EngineError`` with status ``unreadable``
    for empty, non-image, truncated or oversized files.
    """
    if not data:
        raise _unreadable("The file is empty (0 bytes); upload the photo again.")
    _register_heif()
    try:
        # Image.open reads only the header. PIL raises DecompressionBombError
        # on its own above 2 x Image.MAX_IMAGE_PIXELS (179 M pixels by default),
        # before any pixel memory is allocated; max_pixels is our own limit.
        img: Image.Image = Image.open(io.BytesIO(data))
        fmt = img.format or ""
        width, height = img.size
        if width <= 0 or height <= 0:
            raise _unreadable("The image has no pixels; upload the photo again.")
        if width * height > max_pixels:
            raise _unreadable(
                f"The image claims to be {width}x{height} pixels, far more "
                "than any camera takes; it looks damaged or is not a photo. "
                "Upload the original photo from the camera."
            )
        orientation = img.getexif().get(0x0112, 1)
        swapped = orientation in (5, 6, 7, 8)
        upright_size = (height, width) if swapped else (width, height)
        if target_long_side and fmt == "JPEG":
            long_side = max(width, height)
            if long_side > target_long_side:
                # draft() picks the strongest DCT reduction (1/2, 1/4, 1/8) that
                # keeps the image at least the requested size. Asking for 3/4 of
                # the target lets a 4032 px photo decode at 1/2 (2016 px)
                # instead of in full and then be resized.
                ratio = 0.75 * target_long_side / long_side
                img.draft("RGB", (max(1, round(width * ratio)), max(1, round(height * ratio))))
        img.load()
        img = ImageOps.exif_transpose(img) if orientation != 1 else img
        img = _to_rgb8(img)
        if target_long_side and max(img.size) > target_long_side:
            ratio = target_long_side / max(img.size)
            new_size = (
                max(1, round(img.size[0] * ratio)),
                max(1, round(img.size[1] * ratio)),
            )
            img = img.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        rgb = np.asarray(img, dtype=np.uint8)
    except EngineError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _unreadable(
            "The image is too large to open safely (it claims an enormous pixel "
            "count); upload the original photo from the camera."
        ) from None
    except UnidentifiedImageError:
        raise _unreadable(
            "The file is not an image we can read (JPEG, PNG or HEIC expected); check that the right file was uploaded."
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc).lower()
        if "truncated" in message or "premature" in message or isinstance(exc, EOFError):
            raise _unreadable(
                "The image file is incomplete (truncated); the upload was probably interrupted. Upload the photo again."
            ) from None
        raise _unreadable("The image file is damaged and cannot be decoded; upload the photo again.") from None
    except MemoryError:
        raise _unreadable("The image is too large to open; upload the original photo from the camera.") from None
    except Exception:  # noqa: BLE001 - a broken file must never crash scoring
        raise _unreadable("The image file could not be decoded; upload the photo again.") from None

    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise _unreadable("The image could not be converted to colour; upload it again.")
    rgb = np.ascontiguousarray(rgb)
    return DecodedImage(
        rgb=rgb,
        original_size=upright_size,
        scale_factor=rgb.shape[1] / upright_size[0],
        format=fmt,
    )
