"""The visit-level frame and scale (docs/metrics.md, "A visit-level frame and scale").

The iris sets a photo's origin, axis and millimetre scale. With the eyes shut
it is hidden and the landmark model places it by guesswork: on the test
photos an eye-closure photo's own irises put its commissures 1 mm off, from
a frame turned by about a degree and a scale a few per cent too small. Such a
photo borrows its irises from an open-eye photo of the same visit (the
reference, rest first): the reference's landmarks, in its own facial frame,
are fitted to this photo's by a similarity transform (rotation, uniform
scale, shift) over points that stay put when the eyes close, and the
reference's iris points are carried across by that transform. The frame and
the scale then come from those irises exactly as on an open-eye photo, so
every metric keeps its definition.

Which points: the face outline (MediaPipe's face oval, 36 points). Measured
on the demo's eye-closure photos against their known droop (docs/metrics.md),
the outline put the commissure height within 0.06 mm on average, the outline
above the cheeks 0.11 mm, the nasal bridge with the medial canthi 0.23 mm,
all four canthi 0.42 mm and the medial canthi alone 1.14 mm (the canthi sit
in the closed lids, whose corners the model also guesses).

Pure numpy: the caller (the scoring service) passes in the reference's
landmarks; nothing here knows about visits or databases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .frame import IRIS_DIAMETER_MM, FacialFrame, iris_diameters_px

# MediaPipe's face oval (the silhouette of the mesh), clockwise from the top
# of the forehead (10) over the subject's left side and the chin (152).
STABLE_POINTS = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# The iris centres and rings carried over from the reference.
IRIS_POINTS = (468, 469, 470, 471, 472, 473, 474, 475, 476, 477)
# The two eye-closure photos of the standard set: always framed and scaled
# from the visit's reference.
EYE_CLOSURES: frozenset[str] = frozenset({"gentle_eye_closure", "full_eye_closure"})
# A photo's own irises are not trusted when either eye opens less than this
# fraction of the iris diameter (lid to lid, over the iris centre): the lids
# then cover more than half the iris ring, which the model completes by
# guesswork. An open adult eye measures about 0.75 on the test face.
MIN_IRIS_OPENING_RATIO = 0.5
# ... or when the two iris diameters differ by more than this factor: the
# visible iris is the same size in both eyes, and the model's rings agree
# within about 3 % on open eyes.
MAX_IRIS_RATIO = 1.15
# ... or when an iris is implausibly small or large for the eye holding it:
# the horizontal iris diameter over the distance between that eye's canthi
# (33-133, 263-362) is about 0.45 on the test photos (the mesh places the
# canthi a little inside the visible eye corners).
MIN_IRIS_TO_EYE_WIDTH = 0.3
MAX_IRIS_TO_EYE_WIDTH = 0.6
_CANTHI = ((33, 133), (263, 362))


@dataclass(frozen=True)
class ReferenceGeometry:
    """What a photo needs of its visit's reference: the reference's landmarks
    in its own facial frame (mm), and each eye's largest lid-to-lid opening on
    it (mm, right and left: the ``residual_aperture`` of an open eye), against
    which an eye-closure photo's closure percentage is measured.
    ``label`` names the reference for the result (the service passes the
    photo's id)."""

    points_mm: np.ndarray  # (478, 2)
    aperture_mm: tuple[float, float]
    label: str = ""

    @classmethod
    def from_landmarks(cls, landmarks_px, *, label: str = "") -> ReferenceGeometry:
        """From a scored open-eye photo's landmarks (pixels of that photo)."""
        from .metrics import bilateral_values

        points = np.asarray(landmarks_px, dtype=np.float64)
        if points.shape != (478, 2) or not np.isfinite(points).all():
            raise ValueError("a reference needs 478 finite landmarks")
        frame = FacialFrame.from_landmarks(points)
        mm = frame.to_frame_mm(points)
        right, left = bilateral_values(mm)["residual_aperture"]
        return cls(points_mm=mm, aperture_mm=(right, left), label=label)


def iris_problem(points: np.ndarray, eye_opening: tuple[float, float]) -> str:
    """Why this photo's own irises cannot set its frame, or "" when they can.

    ``eye_opening`` is each eye's opening as a fraction of the iris diameter
    (``gates.eye_opening_ratios``)."""
    if min(eye_opening) < MIN_IRIS_OPENING_RATIO:
        return "an eye is too nearly closed for its iris to be seen"
    right, left = iris_diameters_px(points)
    if min(right, left) <= 0 or max(right, left) / min(right, left) > MAX_IRIS_RATIO:
        return "the two irises differ in size"
    for diameter, (outer, inner) in zip((right, left), _CANTHI):
        width = float(np.linalg.norm(points[outer] - points[inner]))
        if width <= 0 or not MIN_IRIS_TO_EYE_WIDTH <= diameter / width <= MAX_IRIS_TO_EYE_WIDTH:
            return "an iris is implausibly sized for its eye"
    return ""


def similarity_fit(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity (scale, rotation, shift) taking ``source`` to
    ``target`` (Umeyama 1991, without reflection): target ~ s R source + t."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    u, sing, vt = np.linalg.svd(b.T @ a / len(source))
    d = np.diag([1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rotation = u @ d @ vt
    scale = float((sing * np.diag(d)).sum() / ((a**2).sum() / len(source)))
    shift = mu_t - scale * rotation @ mu_s
    return scale, rotation, shift


def with_reference_irises(points: np.ndarray, reference: ReferenceGeometry) -> np.ndarray:
    """This photo's landmarks with the iris points replaced by the reference's,
    carried over by the similarity fit of the stable points."""
    stable = list(STABLE_POINTS)
    scale, rotation, shift = similarity_fit(reference.points_mm[stable], points[stable])
    out = np.array(points, dtype=np.float64, copy=True)
    out[list(IRIS_POINTS)] = scale * reference.points_mm[list(IRIS_POINTS)] @ rotation.T + shift
    return out


__all__ = [
    "EYE_CLOSURES",
    "IRIS_DIAMETER_MM",
    "ReferenceGeometry",
    "iris_problem",
    "similarity_fit",
    "with_reference_irises",
]
