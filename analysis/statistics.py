"""The trial statistics: pure functions from plain tables (pandas/numpy) to numbers.

Nothing here imports Django; analysis.summary feeds it the tables that
analysis.selectors builds. Every test and distribution comes from scipy or statsmodels.
Where a number cannot be estimated (an arm with fewer than two patients, zero variance,
no baseline) the result says "not estimable" and why, instead of raising: a trial's
tables must render whatever the data.

Conventions: `a` is the BoNT-A (treated) arm, `b` the control arm; every between-arm
estimate is a minus b. A change is follow-up minus baseline (negative = the deviation
went down).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .mixed_model import mixed_model as mixed_model  # re-exported: the summary calls st.mixed_model

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p: float | None = None
    not_estimable: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def not_estimable(reason: str) -> Estimate:
    return Estimate(not_estimable=reason)


def _clean(values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[~np.isnan(array)]


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _variance_reason(*groups: np.ndarray) -> str | None:
    for group in groups:
        if len(group) < 2:
            return "fewer than two patients in an arm"
    if all(np.ptp(group) == 0 for group in groups):
        return "zero variance: every value is identical"
    return None


# --- Descriptives -----------------------------------------------------------------------------


def describe(values, *, missing: int = 0, not_yet_due: int = 0) -> dict:
    """n, mean, SD, median, quartiles, the t-based 95% CI of the mean, and the missing and not-yet-due counts."""
    x = _clean(values)
    out: dict = {"n": int(len(x)), "missing": int(missing), "not_yet_due": int(not_yet_due)}
    if len(x) == 0:
        return {**out, "mean": None, "sd": None, "median": None, "q1": None, "q3": None, "ci_low": None,
                "ci_high": None, "not_estimable": "no values"}  # fmt: skip
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    out.update(mean=float(x.mean()), median=float(median), q1=float(q1), q3=float(q3))
    if len(x) < 2:
        return {**out, "sd": None, "ci_low": None, "ci_high": None, "not_estimable": "one value: no SD or CI"}
    sd = float(x.std(ddof=1))
    if sd == 0:
        return {**out, "sd": 0.0, "ci_low": out["mean"], "ci_high": out["mean"], "not_estimable": None}
    low, high = stats.t.interval(CONFIDENCE, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    return {**out, "sd": sd, "ci_low": float(low), "ci_high": float(high), "not_estimable": None}


def paired_changes(frame: pd.DataFrame, *, baseline_visit: str, visit: str) -> pd.DataFrame:
    """Per patient: baseline, follow-up and change (follow-up minus baseline) at `visit`.

    `frame` has columns patient, group, visit, value (one value per patient and visit).
    Patients without both values are dropped (no baseline: no change).
    """
    values = frame.dropna(subset=["value"])
    base = values[values["visit"] == baseline_visit].set_index("patient")
    follow = values[values["visit"] == visit].set_index("patient")
    joined = base[["group", "value"]].join(follow[["value"]], how="inner", lsuffix="_baseline", rsuffix="_follow_up")
    joined = joined.rename(columns={"value_baseline": "baseline", "value_follow_up": "follow_up"})
    joined["change"] = joined["follow_up"] - joined["baseline"]
    return joined.reset_index()


def percent_correction(baseline, follow_up) -> dict:
    """Percent correction `(baseline - follow-up) / baseline`, two ways, labelled.

    `mean_of_patient_percentages`: the mean of each patient's own percentage (patients with
    a zero baseline have no percentage and are counted in `zero_baseline`).
    `percent_of_mean_change`: the mean change as a percentage of the mean baseline, the
    figure a reader computes from a paper's table (3.5 mm to 1.5 mm: 57%).
    """
    b, f = np.asarray(baseline, dtype=float), np.asarray(follow_up, dtype=float)
    keep = ~(np.isnan(b) | np.isnan(f))
    b, f = b[keep], f[keep]
    if len(b) == 0:
        return {"mean_of_patient_percentages": None, "percent_of_mean_change": None, "n": 0, "zero_baseline": 0,
                "not_estimable": "no patient with a baseline and a follow-up value"}  # fmt: skip
    positive = b != 0
    per_patient = (b[positive] - f[positive]) / b[positive] * 100
    mean_baseline = b.mean()
    return {
        "mean_of_patient_percentages": float(per_patient.mean()) if len(per_patient) else None,
        "percent_of_mean_change": float((mean_baseline - f.mean()) / mean_baseline * 100) if mean_baseline else None,
        "n": int(len(b)),
        "zero_baseline": int((~positive).sum()),
        "not_estimable": None if len(per_patient) else "every baseline is zero",
    }


# --- Between arms -----------------------------------------------------------------------------


def welch_difference(a, b) -> Estimate:
    """Difference in means (a - b) with the Welch 95% CI and p (scipy.stats.ttest_ind, equal_var=False)."""
    a, b = _clean(a), _clean(b)
    reason = _variance_reason(a, b)
    if reason:
        return not_estimable(reason)
    result = stats.ttest_ind(a, b, equal_var=False)
    ci = result.confidence_interval(CONFIDENCE)
    return Estimate(float(a.mean() - b.mean()), _finite(ci.low), _finite(ci.high), _finite(result.pvalue))


def mann_whitney(a, b) -> Estimate:
    """Two-sided Mann-Whitney U test; the estimate is U of arm a."""
    a, b = _clean(a), _clean(b)
    if len(a) == 0 or len(b) == 0:
        return not_estimable("an arm has no values")
    if np.ptp(np.concatenate([a, b])) == 0:
        return not_estimable("zero variance: every value is identical")
    result = stats.mannwhitneyu(a, b, alternative="two-sided")
    return Estimate(float(result.statistic), p=_finite(result.pvalue))


def hedges_g(a, b) -> Estimate:
    """Hedges' g (a - b over the pooled SD, small-sample corrected) with its normal-approximation 95% CI."""
    a, b = _clean(a), _clean(b)
    reason = _variance_reason(a, b)
    if reason:
        return not_estimable(reason)
    na, nb = len(a), len(b)
    pooled = math.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if pooled == 0:
        return not_estimable("zero variance within both arms")
    correction = 1 - 3 / (4 * (na + nb) - 9)
    g = (a.mean() - b.mean()) / pooled * correction
    se = math.sqrt((na + nb) / (na * nb) + g**2 / (2 * (na + nb)))
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    return Estimate(float(g), float(g - z * se), float(g + z * se))


def ancova(changes: pd.DataFrame) -> Estimate:
    """The primary comparison: OLS `follow_up ~ treated + baseline`; the estimate is the treated coefficient.

    `changes` has columns treated (bool), baseline, follow_up.
    """
    import statsmodels.api as sm

    data = changes.dropna(subset=["baseline", "follow_up"]).copy()
    data["treated"] = data["treated"].astype(int)
    counts = data["treated"].value_counts()
    if counts.get(1, 0) < 2 or counts.get(0, 0) < 2:
        return not_estimable("fewer than two patients in an arm")
    if len(data) <= 3:
        return not_estimable("too few patients for three coefficients")
    if data["follow_up"].nunique() == 1:
        return not_estimable("zero variance: every follow-up value is identical")
    # The design built directly rather than from the formula: the same fit without parsing a formula per visit.
    fit = sm.OLS(data["follow_up"], sm.add_constant(data[["treated", "baseline"]], has_constant="add")).fit()
    if not math.isfinite(fit.bse["treated"]) or fit.bse["treated"] == 0:
        return not_estimable("the arm effect has no standard error (a perfect fit)")
    low, high = fit.conf_int(alpha=1 - CONFIDENCE).loc["treated"]
    return Estimate(float(fit.params["treated"]), float(low), float(high), float(fit.pvalues["treated"]))


def responders(change_a, change_b, *, threshold: float) -> dict:
    """Responders: the change improves by at least `threshold` (change <= -threshold).

    Counts per arm, Fisher's exact p, and the risk difference (a - b) with the Newcombe
    95% CI (statsmodels confint_proportions_2indep).
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    a, b = _clean(change_a), _clean(change_b)
    # A tolerance so that an improvement of exactly the threshold, stored in binary, counts.
    ra, rb = int((a <= -threshold + 1e-9).sum()), int((b <= -threshold + 1e-9).sum())
    out = {"threshold": threshold, "a": {"responders": ra, "n": len(a)}, "b": {"responders": rb, "n": len(b)}}
    if len(a) == 0 or len(b) == 0:
        return {**out, "fisher_p": None, "risk_difference": not_estimable("an arm has no patients").to_dict()}
    _, p = stats.fisher_exact([[ra, len(a) - ra], [rb, len(b) - rb]])
    low, high = confint_proportions_2indep(ra, len(a), rb, len(b), method="newcomb", compare="diff")
    difference = Estimate(ra / len(a) - rb / len(b), float(low), float(high))
    return {**out, "fisher_p": float(p), "risk_difference": difference.to_dict()}


def describe_ordinal(values, *, levels, missing: int = 0, not_yet_due: int = 0) -> dict:
    """An ordinal outcome per arm and visit: n, the count at every level, median and quartiles.

    No mean, SD or CI: the distance between grade II and III is not that between V and VI.
    `levels` are the outcome's values in order (House-Brackmann 1-6); the counts are keyed by level.
    """
    x = _clean(values)
    counts = {int(level): int((x == level).sum()) for level in levels}
    out: dict = {"n": int(len(x)), "missing": int(missing), "not_yet_due": int(not_yet_due), "counts": counts}
    if len(x) == 0:
        return {**out, "median": None, "q1": None, "q3": None, "not_estimable": "no values"}
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {**out, "median": float(median), "q1": float(q1), "q3": float(q3), "not_estimable": None}


def describe_ordinal_change(change) -> dict:
    """Grade change from baseline per arm: how many patients moved to a lower grade, stayed or moved higher."""
    x = _clean(change)
    out = {"n": int(len(x)), "lower": int((x < 0).sum()), "same": int((x == 0).sum()), "higher": int((x > 0).sum())}
    if len(x) == 0:
        return {**out, "median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {**out, "median": float(median), "q1": float(q1), "q3": float(q3)}


def proportional_odds(changes: pd.DataFrame) -> Estimate:
    """The ordinal counterpart of the ANCOVA: a proportional-odds (cumulative logit) model of the follow-up
    grade on the arm and the baseline grade (statsmodels OrderedModel). The estimate is the common odds
    ratio, treated against control, of a higher grade at follow-up, with its Wald 95% CI and p: below 1
    the treated arm's grades are lower.

    `changes` has columns treated, baseline, follow_up. The baseline is left out of the model when every
    patient had the same one (it would duplicate the thresholds).
    """
    import warnings

    from statsmodels.miscmodels.ordinal_model import OrderedModel
    from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

    data = changes.dropna(subset=["follow_up"]).copy()
    data["treated"] = data["treated"].astype(int)
    counts = data["treated"].value_counts()
    if counts.get(1, 0) < 2 or counts.get(0, 0) < 2:
        return not_estimable("fewer than two patients in an arm")
    if data["follow_up"].nunique() < 2:
        return not_estimable("every follow-up grade is the same")
    data = data.dropna(subset=["baseline"])
    covariates = ["treated"] + (["baseline"] if data["baseline"].nunique() > 1 else [])
    if len(data) <= len(covariates) + data["follow_up"].nunique() - 1:
        return not_estimable("too few patients for the model's thresholds and coefficients")
    endog = pd.Series(pd.Categorical(data["follow_up"], ordered=True), index=data.index)
    with warnings.catch_warnings():
        for category in (ConvergenceWarning, HessianInversionWarning, RuntimeWarning):
            warnings.simplefilter("error", category)
        try:
            fit = OrderedModel(endog, data[covariates].astype(float), distr="logit").fit(method="bfgs", disp=False)
        except (ConvergenceWarning, HessianInversionWarning, RuntimeWarning, np.linalg.LinAlgError) as warning:
            return not_estimable(f"the proportional-odds model did not fit: {warning}")
    se = float(fit.bse["treated"])
    # Complete separation (every treated grade below every control grade) drives the coefficient
    # towards infinity; the optimizer stops somewhere with a huge standard error.
    if not fit.mle_retvals.get("converged", False) or not math.isfinite(se) or se > 10:
        return not_estimable("the proportional-odds model did not converge (the arms' grades may not overlap)")
    low, high = fit.conf_int(alpha=1 - CONFIDENCE).loc["treated"]
    beta = float(fit.params["treated"])
    return Estimate(math.exp(beta), math.exp(float(low)), math.exp(float(high)), _finite(fit.pvalues["treated"]))


def ordinal_comparison(changes: pd.DataFrame) -> dict:
    """An ordinal outcome (House-Brackmann) between arms at a follow-up visit: the proportional-odds
    model's common odds ratio (the headline), Mann-Whitney on the follow-up grades, and the share of
    patients whose grade fell by at least one.

    `changes` has columns treated, baseline, follow_up (grades 1-6, lower is better).
    """
    a = changes[changes["treated"].astype(bool)]
    b = changes[~changes["treated"].astype(bool)]
    improved = {}
    for key, arm in (("a", a), ("b", b)):
        n = len(arm)
        k = int((arm["baseline"] - arm["follow_up"] >= 1).sum())
        improved[key] = {"improved": k, "n": n, "proportion": k / n if n else None}
    rank = mann_whitney(a["follow_up"], b["follow_up"])
    return {
        "n": {"a": int(len(a)), "b": int(len(b))},
        "proportional_odds": proportional_odds(changes).to_dict(),
        "mann_whitney": rank.to_dict(),
        "mann_whitney_p": rank.p,
        "improved_one_grade": improved,
    }


def spearman(x, y) -> dict:
    """Spearman's rho with p (scipy) and a 95% CI from Fisher's z with the Bonett-Wright variance."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = int(len(x))
    if n < 4:
        return {"n": n, **not_estimable("fewer than four pairs").to_dict()}
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, **not_estimable("zero variance in one of the outcomes").to_dict()}
    result = stats.spearmanr(x, y)
    rho = float(result.statistic)
    if abs(rho) == 1:
        return {"n": n, **Estimate(rho, rho, rho, _finite(result.pvalue)).to_dict()}
    se = math.sqrt((1 + rho**2 / 2) / (n - 3))
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    low, high = np.tanh(np.arctanh(rho) - z * se), np.tanh(np.arctanh(rho) + z * se)
    return {"n": n, **Estimate(rho, float(low), float(high), _finite(result.pvalue)).to_dict()}


def compare_at_visit(changes: pd.DataFrame, *, threshold: float | None, is_deviation: bool) -> dict:
    """Everything between arms at one follow-up visit, from per-patient baseline/follow-up/change rows.

    `changes` has columns treated, baseline, follow_up, change (analysis.statistics.paired_changes
    plus the arm). Responders only for deviations, where a fall is an improvement.
    """
    a = changes[changes["treated"].astype(bool)]
    b = changes[~changes["treated"].astype(bool)]
    welch = welch_difference(a["change"], b["change"])
    rank = mann_whitney(a["change"], b["change"])
    out = {
        "n": {"a": int(len(a)), "b": int(len(b))},
        "difference_in_change": welch.to_dict(),
        "welch_p": welch.p,
        "mann_whitney_p": rank.p,
        "mann_whitney": rank.to_dict(),
        "hedges_g": hedges_g(a["change"], b["change"]).to_dict(),
        "ancova": ancova(changes).to_dict(),
        "percent_correction": {
            "a": percent_correction(a["baseline"], a["follow_up"]) if is_deviation else None,
            "b": percent_correction(b["baseline"], b["follow_up"]) if is_deviation else None,
        },
    }
    out["responders"] = (
        responders(a["change"], b["change"], threshold=threshold) if is_deviation and threshold else None
    )
    return out
