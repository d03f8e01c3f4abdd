"""Quality gates (docs/metrics.md, "Quality gates").

Each gate looks at the landmarks (or the lack of them) and either passes or
raises ``EngineError`` with a status and one sentence a study coordinator can
act on. A photo that fails is kept and shown, never scored into the outcomes.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import EYES_CLOSED, FACE_TOO_SMALL, HEAD_TURNED, MULTIPLE_FACES, NO_FACE, EngineError
from .frame import IRIS_DIAMETER_MM, FacialFrame, iris_diameters_px
from .metrics import (
    LOWER_LID_LEFT,
    LOWER_LID_RIGHT,
    UPPER_LID_LEFT,
    UPPER_LID_RIGHT,
    y_at_x,
)

EXPRESSIONS: tuple[str, ...] = (
    "rest",
    "brow_raise",
    "gentle_eye_closure",
    "full_eye_closure",
    "smile_closed",
    "smile_open",
    "pucker",
    "lower_lip_depression",
)
EYES_OPEN_REQUIRED: frozenset[str] = frozenset(EXPRESSIONS) - {
    "gentle_eye_closure",
    "full_eye_closure",
}

# Horizontal iris diameter below which the face is too small: at 12 px one
# pixel is already about 1 mm.
MIN_IRIS_DIAMETER_PX = 12.0
# Largest head turn (yaw) accepted.
MAX_YAW_DEG = 10.0
# How far the nose tip stands in front of the outer eye corners, as a fraction
# of half the distance between them. From MediaPipe's canonical face model:
# nose tip (vertex 1) at depth 7.48, outer canthi (33, 263) at depth 3.17 and
# 4.45 either side of the midline: (7.48 - 3.17) / 4.45 = 0.97.
NOSE_DEPTH_RATIO = 0.97
NOSE_TIP = 1
OUTER_CANTHUS_RIGHT = 33
OUTER_CANTHUS_LEFT = 263
# An eye counts as closed when its opening above and below the iris centre is
# under this fraction of the iris diameter (an open adult eye is about 0.8,
# a closed one under 0.1).
MIN_EYE_OPENING_RATIO = 0.2


def check_face_count(faces_found: int) -> None:
    if faces_found == 0:
        raise EngineError(
            NO_FACE,
            "No face was found in the photo; retake it with the patient's face "
            "filling most of the frame, evenly lit and facing the camera.",
        )
    if faces_found > 1:
        raise EngineError(
            MULTIPLE_FACES,
            f"{faces_found} faces were found in the photo; retake it with only the patient in the frame.",
        )


def iris_size_px(points: np.ndarray) -> float:
    return float(np.mean(iris_diameters_px(points)))


def check_face_size(iris_px: float) -> None:
    """``iris_px`` is the horizontal iris diameter in the photo's own pixels."""
    if not math.isfinite(iris_px) or iris_px < MIN_IRIS_DIAMETER_PX:
        shown = 0 if not math.isfinite(iris_px) else round(iris_px)
        raise EngineError(
            FACE_TOO_SMALL,
            f"The face is too small in the photo (iris about {shown} px across, at "
            f"least {MIN_IRIS_DIAMETER_PX:.0f} px needed); retake it closer, with the "
            "face filling most of the frame.",
        )


def yaw_deg(points: np.ndarray, frame: FacialFrame) -> float:
    """Head turn estimated from the nose tip against the outer eye corners.

    Positive when the nose points towards the subject's left (x grows to the
    subject's left in the facial frame), i.e. the head is turned to the left.
    """
    pts = frame.to_frame_mm(points[[NOSE_TIP, OUTER_CANTHUS_RIGHT, OUTER_CANTHUS_LEFT]])
    nose, right, left = pts
    half_width = (left[0] - right[0]) / 2.0
    if half_width <= 0:
        return 90.0
    offset = (nose[0] - (left[0] + right[0]) / 2.0) / half_width
    return float(math.degrees(math.atan(offset / NOSE_DEPTH_RATIO)))


def check_head_pose(yaw: float) -> None:
    if abs(yaw) > MAX_YAW_DEG:
        direction = "left" if yaw > 0 else "right"
        raise EngineError(
            HEAD_TURNED,
            f"Face is turned about {abs(yaw):.0f}° to the patient's {direction}; "
            "retake with the patient looking straight at the camera.",
        )


def eye_opening_ratios(points: np.ndarray, frame: FacialFrame) -> tuple[float, float]:
    """Opening of each eye (right, left) above and below the iris centre,
    as a fraction of the iris diameter."""
    pts = frame.to_frame_mm(points)
    ratios = []
    for centre, upper, lower in (
        (468, UPPER_LID_RIGHT, LOWER_LID_RIGHT),
        (473, UPPER_LID_LEFT, LOWER_LID_LEFT),
    ):
        x = float(pts[centre][0])
        opening = y_at_x(pts[list(lower)], x) - y_at_x(pts[list(upper)], x)
        # In the facial frame the mean iris diameter is IRIS_DIAMETER_MM.
        ratios.append(max(0.0, opening) / IRIS_DIAMETER_MM)
    return ratios[0], ratios[1]


def check_eyes_open(ratios: tuple[float, float], expression: str) -> None:
    """Both eyes closed fails the photo where the expression needs them open.

    One narrowed eye does not: on smiling, the affected eye of a palsy patient
    often narrows (oral-ocular synkinesis), and that is a finding, not a bad
    photo.
    """
    if expression not in EYES_OPEN_REQUIRED:
        return
    if max(ratios) < MIN_EYE_OPENING_RATIO:
        raise EngineError(
            EYES_CLOSED,
            f"The eyes appear closed, but the {expression.replace('_', ' ')} photo "
            "needs them open; retake it with the patient's eyes open.",
        )
