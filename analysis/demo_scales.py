"""The demo's clinician grades, item by item: Sunnybrook and eFACE answers drawn consistently
with a patient's true commissure droop at a visit, with a clinician's noise.

The numbers come from their own keyed stream per patient and visit (`patients.keyed_random`),
not from the demo's main generator, so adding the scales moved none of the demo's earlier draws
(its known answers, tests/analysis). Same seed, same grades.
"""

import hashlib

from patients.grading import eface, sunnybrook
from patients.keyed_random import KeyedRandom

# The droop (mm) at which the demo's clinician sees the face as fully affected: the top of the
# demo's baseline range (analysis/demo_trial.py BASELINE_DROOP_MM).
FULLY_AFFECTED_MM = 8.0
# How often a clinician leaves one eFACE item ungraded (the scale is then incomplete, missing).
UNGRADED_SHARE = 0.03


def scale_stream(seed: int, study_code: str, visit_code: str) -> KeyedRandom:
    key = hashlib.sha256(f"demo-scales:{seed}".encode()).digest()
    return KeyedRandom(key, f"{study_code}:{visit_code}")


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def scale_responses(droop_mm: float, rng: KeyedRandom) -> dict[str, dict]:
    """{scale code: responses} for a face whose affected corner droops `droop_mm`."""
    # How affected the clinician judges the face, 0 normal to 1 fully affected, with their noise.
    severity = _clamp(droop_mm / FULLY_AFFECTED_MM + rng.gauss(0, 0.06), 0.0, 1.0)

    def movement(reach: float) -> int:
        return int(_clamp(round(5 - 4 * reach * severity + rng.gauss(0, 0.4)), 1, 5))

    def synkinesis() -> int:
        return int(_clamp(round(2 * severity + rng.gauss(0, 0.4)), 0, 3))

    sb: dict[str, str | int] = {
        "sb_rest_eye": "narrow" if severity + rng.gauss(0, 0.1) > 0.6 else "normal",
        "sb_rest_cheek": (
            "absent" if (s := severity + rng.gauss(0, 0.1)) > 0.8 else "less_pronounced" if s > 0.3 else "normal"
        ),
        "sb_rest_mouth": "corner_drooped" if droop_mm + rng.gauss(0, 0.5) > 1.5 else "normal",
    }
    # The mouth's expressions follow the droop closely; brow and eye less (the lower face is treated).
    reach = {
        "forehead_wrinkle": 0.6,
        "gentle_eye_closure": 0.5,
        "open_mouth_smile": 1.0,
        "snarl": 0.9,
        "lip_pucker": 0.8,
    }
    for code, _ in sunnybrook.EXPRESSIONS:
        sb[f"sb_movement_{code}"] = movement(reach[code])
    for code, _ in sunnybrook.EXPRESSIONS:
        sb[f"sb_synkinesis_{code}"] = synkinesis()

    # eFACE: how far each item departs from balance (100) when fully affected; static items either way.
    departure = {
        "ef_brow_rest": -20,
        "ef_palpebral_fissure_rest": 15,
        "ef_nasolabial_fold_depth_rest": -50,
        "ef_oral_commissure_rest": -60,
        "ef_brow_elevation": -50,
        "ef_gentle_eye_closure": -30,
        "ef_full_eye_closure": -20,
        "ef_oral_commissure_smile": -80,
        "ef_nasolabial_fold_depth_smile": -70,
        "ef_nasolabial_fold_orientation_smile": -60,
        "ef_lower_lip_eee": -50,
        "ef_synkinesis_ocular": -40,
        "ef_synkinesis_midfacial": -40,
        "ef_synkinesis_mentalis": -30,
        "ef_synkinesis_platysmal": -30,
    }
    ef: dict[str, int | None] = {}
    for item in eface.EFACE.items:
        assert item.minimum is not None and item.maximum is not None
        value = 100 + departure[item.code] * severity + rng.gauss(0, 5)
        ef[item.code] = int(round(_clamp(value, item.minimum, item.maximum)))
    if rng.random() < UNGRADED_SHARE:
        ef[rng.choice([i.code for i in eface.DYNAMIC_ITEMS])] = None
    return {"sunnybrook": sb, "eface": ef}
