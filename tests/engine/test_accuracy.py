"""Accuracy: a commissure pulled down by a known amount is measured as such.

The astronaut's mouth corner is moved down the face by 0-6 mm with a smooth
warp (tests/imaging.py, converted to pixels with the engine's own iris scale
on the unwarped photo); the measured change must follow the induced one with
slope 0.9-1.1 and R^2 >= 0.98.
"""

import numpy as np
import pytest

from .conftest import PULLS_MM


def regression(induced, measured):
    x = np.asarray(induced, dtype=float)
    y = np.asarray(measured, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    fitted = slope * x + intercept
    r2 = 1.0 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return slope, intercept, r2


def test_commissure_height_deviation_follows_induced_droop(pulled_lower_side):
    base = pulled_lower_side[0].metrics["commissure_height_deviation_mm"]
    change = [pulled_lower_side[mm].metrics["commissure_height_deviation_mm"] - base for mm in PULLS_MM]
    slope, intercept, r2 = regression(PULLS_MM, change)
    print(f"deviation: slope {slope:.3f}, intercept {intercept:.3f} mm, R2 {r2:.4f}")
    assert 0.9 <= slope <= 1.1
    assert r2 >= 0.98
    assert abs(intercept) < 0.3


def test_signed_height_follows_droop_on_either_side(pulled_lower_side, pulled_higher_side):
    for series in (pulled_lower_side, pulled_higher_side):
        signed = [series[mm].metrics["commissure_height_signed_mm"] for mm in PULLS_MM]
        slope, _, r2 = regression(PULLS_MM, np.array(signed) - signed[0])
        print(f"signed ({series[0].affected_side}): slope {slope:.3f}, R2 {r2:.4f}")
        assert 0.9 <= slope <= 1.1
        assert r2 >= 0.98


def test_pull_moves_only_the_pulled_side(pulled_lower_side, lower_corner_side):
    other = "left" if lower_corner_side == "right" else "right"
    before, after = pulled_lower_side[0].metrics, pulled_lower_side[6].metrics

    def gap(m):
        return m[f"commissure_height_{lower_corner_side}_mm"] - m[f"commissure_height_{other}_mm"]

    assert gap(after) - gap(before) == pytest.approx(6.0, abs=0.6)
    # Absolute heights also carry the iris scale's own jitter (about 1 %, i.e.
    # 0.5 mm of a 53 mm height), and the landmark model couples the corners a
    # little, so the other corner is only expected to stay within 1 mm.
    assert after[f"commissure_height_{other}_mm"] == pytest.approx(before[f"commissure_height_{other}_mm"], abs=1.0)
    # The eyes do not move; the scale only by the iris estimate's jitter.
    assert after["interpupillary_distance_mm"] == pytest.approx(before["interpupillary_distance_mm"], rel=0.02)
    assert after["brow_height_deviation_mm"] == pytest.approx(before["brow_height_deviation_mm"], abs=0.3)
    # Asymmetry grows with the droop.
    assert after["asymmetry_index"] > before["asymmetry_index"]
