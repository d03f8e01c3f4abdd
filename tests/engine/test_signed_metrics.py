"""Every signed metric has the sign docs/metrics.md promises, whichever side is affected.

On the symmetric test face (10 px to the mm, no roll), the affected side's landmarks are moved by a
known amount, the way that side would look if it were the weaker one; the signed value must come
out with the sign written in EXPECTED_SIGN below (typed out here, never read from the engine), and
with the opposite sign when the other side is named as affected.
"""

import numpy as np
import pytest

from measurements.engine import RATIO_METRIC_NAMES, ReferenceGeometry
from measurements.engine.frame import FacialFrame
from measurements.engine.metrics import (
    BILATERAL_MEASURES,
    LOWER_LID_LEFT,
    LOWER_LID_RIGHT,
    UPPER_LID_LEFT,
    UPPER_LID_RIGHT,
    compute_metrics,
    measure_name,
)
from tests.engine.test_metrics import symmetric_face

PX_PER_MM = 10.0
DOWN = np.array([0.0, 1.0])  # image y grows down the face; the test face has no roll

# The landmarks of each side that a measure looks at (the patient's right, then left; the
# midline points stay where they are), and how the affected side moves: "down" by 2 mm, or
# "outward" (away from the midline) by 2 mm.
MOVES = {
    "commissure_height": ((61,), (291,), "down"),
    "commissure_excursion": ((61,), (291,), "outward"),
    "smile_angle": ((61,), (291,), "down"),
    "lip_aperture": ((95, 88, 178, 87), (317, 402, 318, 324), "down"),  # inner lower lip: the mouth opens
    "upper_lip_height": ((185, 40, 39, 37), (267, 269, 270, 409), "down"),
    "lower_lip_height": ((146, 91, 181, 84), (314, 405, 321, 375), "down"),
    "brow_height": ((70, 63, 105, 66, 107), (300, 293, 334, 296, 336), "down"),
    "palpebral_fissure": ((7, 163, 144, 145, 153, 154, 155), (249, 390, 373, 374, 380, 381, 382), "down"),  # lower lid
    # The lower lid drops: the eye is left more open (closes less).
    "residual_aperture": ((7, 163, 144, 145, 153, 154, 155), (249, 390, 373, 374, 380, 381, 382), "down"),
    "eye_closure": ((7, 163, 144, 145, 153, 154, 155), (249, 390, 373, 374, 380, 381, 382), "down"),
}

# docs/metrics.md, "Signed values": positive means the affected corner is lower, further from the
# lip midpoint, the affected mouth opens wider, its lips lower, its brow lower, its eye open wider.
EXPECTED_SIGN = {
    "commissure_height_signed_mm": +1,
    "commissure_excursion_signed_mm": +1,
    "smile_angle_signed_deg": +1,
    "lip_aperture_signed_mm": +1,
    "upper_lip_height_signed_mm": +1,
    "lower_lip_height_signed_mm": +1,
    "brow_height_signed_mm": +1,
    "palpebral_fissure_signed_mm": +1,
    "residual_aperture_signed_mm": +1,  # affected eye closes less (lagophthalmos)
    "eye_closure_signed_pct": +1,  # affected eye closes less
}
# docs/metrics.md, ratios (affected / unaffected): above 1 when the affected eye opens wider, below 1
# when it closes less.
EXPECTED_RATIO_SIDE = {"palpebral_fissure_ratio": +1, "eye_closure_ratio": -1}


def test_every_bilateral_measure_has_its_expected_sign_written_here():
    assert sorted(MOVES) == sorted(m.base for m in BILATERAL_MEASURES)
    assert sorted(EXPECTED_SIGN) == sorted(measure_name(m, "signed") for m in BILATERAL_MEASURES)
    assert sorted(EXPECTED_RATIO_SIDE) == sorted(RATIO_METRIC_NAMES)


def _moved(points: np.ndarray, measure: str, side: str) -> np.ndarray:
    right, left, how = MOVES[measure]
    indices = list(right if side == "right" else left)
    if how == "down":
        step = DOWN
    else:  # the patient's right is on the image's left
        step = np.array([-1.0, 0.0]) if side == "right" else np.array([1.0, 0.0])
    moved = points.copy()
    moved[indices] += step * 2.0 * PX_PER_MM
    return moved


def _eyes_shut(points: np.ndarray) -> np.ndarray:
    """Each lower lid laid onto its upper lid (the lids meet all along)."""
    shut = points.copy()
    for upper, lower in ((UPPER_LID_RIGHT, LOWER_LID_RIGHT), (UPPER_LID_LEFT, LOWER_LID_LEFT)):
        shut[list(lower)] = points[list(upper)]
    return shut


@pytest.mark.parametrize("affected", ["right", "left"])
@pytest.mark.parametrize("measure", sorted(MOVES))
def test_signed_value_has_the_documented_sign_for_either_affected_side(face_result, measure, affected):
    open_face = symmetric_face(face_result)
    # The face itself, eyes open, as its visit's reference (the closure percentage needs one); the
    # closure measures are tested on the same face with its eyes shut.
    reference = ReferenceGeometry.from_landmarks(open_face)
    face = _eyes_shut(open_face) if measure in ("residual_aperture", "eye_closure") else open_face
    frame = FacialFrame.from_landmarks(face)
    definition = next(m for m in BILATERAL_MEASURES if m.base == measure)
    name = measure_name(definition, "signed")
    moved = _moved(face, measure, affected)

    named_right = compute_metrics(moved, frame, affected_side=affected, reference=reference)
    other = "left" if affected == "right" else "right"
    named_wrong = compute_metrics(moved, frame, affected_side=other, reference=reference)

    assert compute_metrics(face, frame, affected_side=affected, reference=reference)[name] == pytest.approx(
        0.0, abs=1e-9
    )
    assert np.sign(named_right[name]) == EXPECTED_SIGN[name], named_right[name]
    assert np.sign(named_wrong[name]) == -EXPECTED_SIGN[name], named_wrong[name]
    assert abs(named_right[name]) == pytest.approx(named_right[measure_name(definition, "deviation")])
    assert abs(named_right[name]) > 0.1  # a real change, not rounding
    if definition.ratio:
        ratio = measure_name(definition, "ratio")
        assert np.sign(named_right[ratio] - 1.0) == EXPECTED_RATIO_SIDE[ratio], named_right[ratio]
        assert np.sign(named_wrong[ratio] - 1.0) == -EXPECTED_RATIO_SIDE[ratio], named_wrong[ratio]
