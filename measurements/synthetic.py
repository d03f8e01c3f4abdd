"""Synthetic clinical photos with a known answer: the demo trial and the tests both use these.

Every face starts from ``skimage.data.astronaut()`` (Eileen Collins, a 512x512
frontal portrait that ships inside scikit-image, so nothing is downloaded),
upscaled so that the iris is well above the engine's 12 px minimum. Warps of
known size give a known answer: ``pull_commissure_down`` moves one mouth corner
down the face by a given number of millimetres, converted to pixels with the
same iris-based scale the engine uses, measured on the unwarped photo.
``vary`` then changes what a real camera changes between visits (a small tilt,
distance, exposure, JPEG quality) and leaves the millimetres alone.

Plain numpy/OpenCV, no Django. All image functions take and return (H, W, 3)
uint8 RGB arrays unless they say they return bytes. "Right" and "left" are the
subject's: the subject's right is on the image's left in an unmirrored photo.
scikit-image is a development requirement (``make run`` installs it);
importing this module without it raises ImportError, which callers report.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

# Centre of the astronaut's face (landmark extent) and its width, in pixels of the 512 px original.
FACE_CENTRE_1X = (225.6, 123.8)
FACE_WIDTH_1X = 91.5


@functools.lru_cache(maxsize=8)
def _astronaut(scale: float) -> np.ndarray:
    img = skdata.astronaut()
    if scale != 1:
        interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=interpolation)
    img.setflags(write=False)
    return img


def astronaut_face(scale: float = 3.0) -> np.ndarray:
    """The astronaut portrait upscaled by ``scale`` (bicubic), RGB uint8.

    At scale 3 the image is 1536x1536 and the iris about 25 px across, i.e.
    about 0.47 mm per pixel; at scale 2, 1024x1024 and about 17 px. Returns a
    fresh, writable copy.
    """
    return _astronaut(float(scale)).copy()


def gradient_image(width: int = 800, height: int = 600) -> np.ndarray:
    """A smooth colour gradient: an image with no face at all."""
    x = np.linspace(0, 1, width)[None, :]
    y = np.linspace(0, 1, height)[:, None]
    r = 255 * x * np.ones_like(y)
    g = 255 * y * np.ones_like(x)
    b = 255 * (1 - x) * (1 - y)
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


# --- Where the face is (measured with the engine itself) -------------------------


@dataclass(frozen=True)
class FaceReference:
    """What the engine sees in an unwarped photo, for converting mm to pixels.

    ``landmarks`` are (478, 2) pixel coordinates, ``mm_per_px`` the engine's
    iris-based scale, ``down`` the unit vector (in pixels) pointing down the
    face, perpendicular to the interpupillary line, and ``metrics`` the
    engine's measurements of the unwarped photo (with the subject's right as
    the affected side), so that a generator can aim at a total asymmetry
    rather than at a pull on top of the face's own.
    """

    landmarks: np.ndarray
    mm_per_px: float
    down: np.ndarray
    metrics: dict


_reference_cache: dict[str, FaceReference] = {}


def face_reference(img: np.ndarray) -> FaceReference:
    """Score ``img`` with the engine and keep what the warps need (cached by
    the image's contents, so repeated warps of one photo run the model once)."""
    key = hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest() + str(img.shape)
    cached = _reference_cache.get(key)
    if cached is not None:
        return cached
    from .engine import FacialFrame, score_array

    result = score_array(img, affected_side="right")
    if result.status != "scored":
        raise ValueError(f"reference photo did not score: {result.status}: {result.reason}")
    frame = FacialFrame.from_landmarks(result.landmarks)
    ref = FaceReference(
        landmarks=result.landmarks,
        mm_per_px=float(result.mm_per_px),
        down=frame.y_axis.copy(),
        metrics=dict(result.metrics),
    )
    _reference_cache[key] = ref
    return ref


def natural_commissure_droop_mm(reference: FaceReference, side: str) -> float:
    """How far ``side``'s mouth corner already sits below the other one in the unwarped photo (mm)."""
    right_minus_left = reference.metrics["commissure_height_signed_mm"]  # measured with right affected
    return right_minus_left if side == "right" else -right_minus_left


# --- Warps with a known answer ---------------------------------------------------


def warp_by_displacement(img: np.ndarray, displacement) -> np.ndarray:
    """Move image content by ``displacement(x, y) -> (dx, dy)`` (pixels).

    Content at p moves to q = p + d(p). The output is sampled backwards: for
    each output pixel q, solve p = q - d(p) by fixed-point iteration (converges
    because the fields used here change by well under a pixel per pixel).
    """
    h, w = img.shape[:2]
    qy, qx = np.mgrid[0:h, 0:w].astype(np.float32)
    px, py = qx.copy(), qy.copy()
    for _ in range(8):
        dx, dy = displacement(px, py)
        px, py = qx - dx, qy - dy
    return cv2.remap(
        img,
        px.astype(np.float32),
        py.astype(np.float32),
        cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_REFLECT101,
    )


def pull_commissure_down(
    img: np.ndarray,
    side: str = "right",
    mm: float = 2.0,
    *,
    sigma_mm: float = 15.0,
    reference: FaceReference | None = None,
) -> np.ndarray:
    """Pull the subject's ``side`` mouth corner down the face by ``mm`` (negative: up).

    A smooth Gaussian displacement field (``sigma_mm`` wide) centred on the
    commissure (landmark 61 right, 291 left) moves it by exactly ``mm``,
    perpendicular to the interpupillary line, and drags the neighbouring lip
    and cheek with it; the eyes and the other corner do not move measurably.
    Millimetres are converted with the engine's iris scale measured on the
    unwarped ``img`` (pass ``reference`` to reuse one).
    """
    if side not in ("right", "left"):
        raise ValueError("side must be 'right' or 'left'")
    if mm == 0:
        return img.copy()
    ref = reference or face_reference(img)
    centre = ref.landmarks[61 if side == "right" else 291]
    # Landmarks use the convention "pixel i spans [i, i+1]"; array indices are
    # pixel centres, hence the half-pixel shift.
    cx, cy = centre - 0.5
    shift_px = mm / ref.mm_per_px
    sigma = sigma_mm / ref.mm_per_px
    ux, uy = ref.down
    # Only the region the field reaches is warped: beyond 6 sigma (plus the shift) the
    # displacement is below 1e-7 px, so the rest of the photo is copied as it is. This keeps
    # a warp at a few milliseconds, which the demo trial's thousand photos need.
    reach = 6 * sigma + abs(shift_px)
    h, w = img.shape[:2]
    x0, x1 = max(0, int(cx - reach)), min(w, int(cx + reach) + 1)
    y0, y1 = max(0, int(cy - reach)), min(h, int(cy + reach) + 1)

    def displacement(x, y):
        weight = np.exp(-((x + x0 - cx) ** 2 + (y + y0 - cy) ** 2) / (2 * sigma**2)) * shift_px
        return weight * ux, weight * uy

    out = img.copy()
    # The region is warped with its surroundings as the border, so sampling near its edge is exact.
    margin = int(abs(shift_px)) + 4
    mx0, mx1, my0, my1 = max(0, x0 - margin), min(w, x1 + margin), max(0, y0 - margin), min(h, y1 + margin)
    region = np.ascontiguousarray(img[my0:my1, mx0:mx1])
    dx0, dy0 = x0 - mx0, y0 - my0

    def displacement_in_region(x, y):
        return displacement(x - dx0, y - dy0)

    warped = warp_by_displacement(region, displacement_in_region)
    out[y0:y1, x0:x1] = warped[dy0 : dy0 + (y1 - y0), dx0 : dx0 + (x1 - x0)]
    return out


def close_eyes(img: np.ndarray, *, reference: FaceReference | None = None) -> np.ndarray:
    """Paint both eyes shut: the eye openings are inpainted with the
    surrounding skin and a dark lash line is drawn along each lower lid.
    ``reference`` (of this image, or of an unwarped original whose eyes are
    where this image's are) saves running the model again."""
    from .engine.metrics import LOWER_LID_LEFT, LOWER_LID_RIGHT, UPPER_LID_LEFT, UPPER_LID_RIGHT

    pts = (reference or face_reference(img)).landmarks - 0.5  # to array (pixel-centre) coordinates
    mask = np.zeros(img.shape[:2], np.uint8)
    for upper, lower in ((UPPER_LID_RIGHT, LOWER_LID_RIGHT), (UPPER_LID_LEFT, LOWER_LID_LEFT)):
        outline = np.concatenate([pts[list(upper)], pts[list(lower)][::-1]])
        cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 255)
    mask = cv2.dilate(mask, np.ones((7, 7), np.uint8))
    out = cv2.inpaint(np.ascontiguousarray(img), mask, 9, cv2.INPAINT_TELEA)
    thickness = max(1, round(img.shape[1] / 500))
    for lower in (LOWER_LID_RIGHT, LOWER_LID_LEFT):
        line = np.round(pts[list(lower)] * 4).astype(np.int32)
        cv2.polylines(out, [line], False, (60, 40, 35), thickness, cv2.LINE_AA, shift=2)
    return out


# --- Simple geometric and photometric changes ----------------------------------


def rotate(img: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the image centre by ``degrees`` (positive = counter-
    clockwise as seen), same size, bicubic, borders filled by reflection."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)


# The ring of fixed points that holds the hair and the background while the face turns in
# `turn_in_depth`, as a multiple of the mesh's hull about its centroid.
TURN_RING = 1.4


def turn_in_depth(img: np.ndarray, degrees: float) -> np.ndarray:
    """The face turned about the photo's vertical axis by ``degrees``, positive to the
    subject's left (the nose moves towards the image's right), rendered from its face mesh.

    The engine's landmarks of the photo give each mesh point x, y and the model's relative
    depth; the points are turned in 3D about the mesh's centroid and projected straight onto the
    photo (orthographic, as a distant camera), and each mesh triangle carries its pixels to where
    its corners went (an affine warp per triangle). A ring of fixed points at ``TURN_RING`` times
    the mesh's hull holds the hair and the background, the band between stretching smoothly.
    Nothing hides anything else, so the result is honest up to about 15-20 degrees; the turn is
    exact for the mesh as the model sees it, which is what a pose estimate from that model can
    be checked against."""
    from scipy.spatial import ConvexHull, Delaunay

    from .engine.landmarks import locate_landmarks
    from .engine.pairs import N_MESH

    located = locate_landmarks(img)
    if located.faces_found != 1 or located.depth is None:
        raise ValueError("turn_in_depth needs a photo with one face")
    points, depth = located.points[:N_MESH], located.depth[:N_MESH]
    centre = points.mean(axis=0)
    hull = points[ConvexHull(points).vertices]
    anchors = np.vstack([points, centre + (hull - centre) * TURN_RING])
    turned = anchors.copy()
    angle = np.radians(degrees)
    # Nearer the camera is smaller depth: a turn to the subject's left brings the near points right.
    turned[:N_MESH, 0] = centre[0] + (points[:, 0] - centre[0]) * np.cos(angle) - (depth - depth.mean()) * np.sin(angle)
    out = img.copy()
    h, w = img.shape[:2]
    for simplex in Delaunay(anchors).simplices:
        source, target = anchors[simplex].astype(np.float32), turned[simplex]
        x0, y0 = np.maximum(np.floor(target.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(target.max(axis=0)).astype(int) + 1, [w, h])
        if x1 <= x0 or y1 <= y0:
            continue
        local = (target - [x0, y0]).astype(np.float32)
        matrix = cv2.getAffineTransform(local, source)
        patch = cv2.warpAffine(
            img,
            matrix,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(inside, np.round(local * 16).astype(np.int32), 1, shift=4)
        region = out[y0:y1, x0:x1]
        region[inside.astype(bool)] = patch[inside.astype(bool)]
    return out


def mirror(img: np.ndarray) -> np.ndarray:
    """Flip left to right (the subject's right becomes the image's right)."""
    return np.ascontiguousarray(img[:, ::-1])


def vary(img: np.ndarray, *, degrees: float = 0.0, scale: float = 1.0, brightness: float = 1.0) -> np.ndarray:
    """What changes between two photos of the same face: a small head tilt (``degrees``),
    the camera's distance (``scale``, the output keeps the input's size) and the exposure
    (``brightness``, a gain). None of these changes a distance in millimetres on the face."""
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, scale)
    out = cv2.warpAffine(img, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101)
    if brightness != 1.0:
        out = np.clip(out.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    return out


# --- File encodings ---------------------------------------------------------------


def to_jpeg_bytes(img: np.ndarray, quality: int = 90) -> bytes:
    """JPEG file bytes (RGB or greyscale array)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()
