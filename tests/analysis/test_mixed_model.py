"""analysis.mixed_model against statsmodels' MixedLM, fitted here on the same data.

MixedLM stops its optimizer at a gradient tolerance, so the two agree to about 1e-5
(relative, or absolute for numbers near zero); the likelihood check shows which side the
difference is on: MixedLM's own REML likelihood is never higher at its answer than at ours.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.regression.mixed_linear_model import MixedLMParams

from analysis.mixed_model import BOUNDARY_WARNING, mixed_model

VISITS = ["baseline", "week-4", "week-12", "week-24"]


def _trial(patients: int, seed: int, *, visits=VISITS[:3], drop=0.0, between_sd=1.0, effect=0.7) -> pd.DataFrame:
    """A trial with an arm effect growing with each visit; `drop` is the share of follow-ups missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(patients):
        level, treated = rng.normal(0, between_sd), i % 2
        for j, visit in enumerate(visits):
            if j and rng.random() < drop:
                continue
            value = 3 + level - treated * j * effect + rng.normal(0, 0.5)
            rows.append({"patient": f"P{i:03d}", "treated": bool(treated), "visit": visit, "value": value})
    return pd.DataFrame(rows)


def _mixedlm(frame: pd.DataFrame, visits: list[str]):
    data = frame.assign(treated=frame["treated"].astype(int))
    data["visit"] = pd.Categorical(data["visit"], categories=visits)
    model = sm.MixedLM.from_formula("value ~ C(visit) * treated", data, groups=data["patient"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model, model.fit(reml=True)


@pytest.mark.parametrize(
    ("patients", "seed", "visits", "drop", "between_sd"),
    [
        (10, 1, VISITS[:3], 0.0, 1.0),  # balanced, small
        (12, 2, VISITS[:3], 0.3, 1.0),  # a third of the follow-ups missing: unbalanced groups
        (40, 3, VISITS, 0.2, 0.3),  # four visits, little between-patient variation
        (200, 4, VISITS, 0.1, 2.0),  # larger, between-patient variation dominant
    ],
)
def test_estimates_intervals_and_p_match_mixedlm(patients, seed, visits, drop, between_sd):
    frame = _trial(patients, seed, visits=visits, drop=drop, between_sd=between_sd)
    ours = mixed_model(frame, baseline_visit="baseline", visit_order=visits[1:])
    model, fit = _mixedlm(frame, visits)
    confidence = fit.conf_int()
    assert ours["converged"] is True and ours["warning"] is None
    assert list(ours["estimates"]) == visits[1:]
    for visit in visits[1:]:
        term = f"C(visit)[T.{visit}]:treated"
        got = ours["estimates"][visit]
        assert got["estimate"] == pytest.approx(fit.params[term], rel=1e-4, abs=1e-4)
        assert (got["ci_low"], got["ci_high"]) == pytest.approx(tuple(confidence.loc[term]), rel=1e-4, abs=1e-4)
        assert got["p"] == pytest.approx(fit.pvalues[term], rel=1e-3, abs=1e-12)
    assert ours["residual_variance"] == pytest.approx(fit.scale, rel=1e-4)
    assert ours["patient_variance"] == pytest.approx(float(fit.cov_re.iloc[0, 0]), rel=1e-3, abs=1e-6)
    assert (ours["n_patients"], ours["n_observations"]) == (patients, len(frame))

    # MixedLM's own REML likelihood, at our variance ratio (fixed effects profiled), is at least its optimum.
    gamma = ours["patient_variance"] / ours["residual_variance"]
    at_ours = model.loglike(MixedLMParams.from_components(np.zeros(model.k_fe), cov_re=np.array([[gamma]])))
    assert at_ours >= fit.llf - 1e-8


def test_a_mirror_image_arm_effect_changes_only_the_sign():
    frame = _trial(30, 5)
    flipped = frame.assign(treated=~frame["treated"])
    a = mixed_model(frame, baseline_visit="baseline")["estimates"]["week-12"]
    b = mixed_model(flipped, baseline_visit="baseline")["estimates"]["week-12"]
    assert b["estimate"] == pytest.approx(-a["estimate"]) and b["p"] == pytest.approx(a["p"])


def test_no_between_patient_variation_is_reported_on_the_boundary():
    frame = _trial(30, 6, between_sd=0.0)
    result = mixed_model(frame, baseline_visit="baseline")
    _, fit = _mixedlm(frame, VISITS[:3])
    assert result["converged"] is False and result["warning"] == BOUNDARY_WARNING
    # On the boundary the model is ordinary least squares; the estimates still stand beside the warning.
    assert result["estimates"]["week-12"]["estimate"] == pytest.approx(
        fit.params["C(visit)[T.week-12]:treated"], rel=1e-4
    )


def test_a_visit_seen_in_one_arm_only_has_no_visit_by_arm_term():
    frame = _trial(20, 7)
    frame = frame[~((frame["visit"] == "week-12") & ~frame["treated"])]
    result = mixed_model(frame, baseline_visit="baseline")
    assert result["estimates"]["week-12"] == {
        "estimate": None,
        "ci_low": None,
        "ci_high": None,
        "p": None,
        "not_estimable": "no values of both arms at this visit",
    }
    assert result["estimates"]["week-4"]["estimate"] is not None and result["not_estimable"] is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f[f["treated"]], "fewer than two patients in an arm"),
        (lambda f: f[f["visit"] != "baseline"], "no baseline values"),
        (lambda f: f[f["visit"] == "baseline"], "only one visit has values"),
        (lambda f: f.assign(value=2.0), "zero variance: every value is identical"),
    ],
)
def test_what_cannot_be_estimated_says_why(change, reason):
    result = mixed_model(change(_trial(10, 8)), baseline_visit="baseline")
    assert result["not_estimable"] == reason and result["estimates"] == {}
