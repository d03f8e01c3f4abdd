"""The eye measures' ratios (affected / unaffected) in the analysis: one rule with the engine's
(docs/metrics.md, "Left/right ratios"; docs/analysis.md, "Orientation to the affected side")."""

import numpy as np
import pytest

from analysis.metrics import ANALYSIS_METRICS_BY_NAME, oriented_values
from measurements.engine import RATIO_METRIC_NAMES


def test_every_engine_ratio_is_an_analysis_metric_that_needs_the_side():
    for name in RATIO_METRIC_NAMES:
        metric = ANALYSIS_METRICS_BY_NAME[name]
        assert metric.needs_side and metric.unit == "ratio" and metric.orientation[3] == "ratio"
    assert ANALYSIS_METRICS_BY_NAME["eye_closure_affected_pct"].orientation[:2] == (
        "eye_closure_right_pct",
        "eye_closure_left_pct",
    )


def test_ratio_is_affected_over_unaffected_and_missing_over_a_closed_unaffected_eye():
    values = {
        "palpebral_fissure_right_mm": np.array([8.0, 4.0, 9.0, 9.0]),
        "palpebral_fissure_left_mm": np.array([4.0, 0.2, 0.3, 9.0]),
    }
    sides = np.array(["right", "left", "right", None], dtype=object)
    ratio = oriented_values(ANALYSIS_METRICS_BY_NAME["palpebral_fissure_ratio"], values.__getitem__, sides)
    assert ratio[:2] == pytest.approx([2.0, 0.05])
    assert np.isnan(ratio[2])  # the unaffected eye is closed: nothing to divide by
    assert np.isnan(ratio[3])  # no affected side on record
