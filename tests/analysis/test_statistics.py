"""Each statistic against scipy/statsmodels run independently here, on a small fixed table, and every edge case."""

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep

from analysis import statistics as st

# Commissure height deviation (mm), BoNT-A (a) and control (b), five patients each.
BASE_A = np.array([3.5, 3.0, 4.0, 2.5, 4.5])
FOLLOW_A = np.array([1.5, 1.5, 1.5, 1.5, 1.5])
BASE_B = np.array([3.0, 3.2, 3.8, 2.8, 4.1])
FOLLOW_B = np.array([2.5, 3.2, 2.8, 3.3, 3.9])
CHANGE_A, CHANGE_B = FOLLOW_A - BASE_A, FOLLOW_B - BASE_B


def _changes():
    return pd.DataFrame(
        {
            "treated": [True] * 5 + [False] * 5,
            "baseline": np.concatenate([BASE_A, BASE_B]),
            "follow_up": np.concatenate([FOLLOW_A, FOLLOW_B]),
            "change": np.concatenate([CHANGE_A, CHANGE_B]),
        }
    )


def test_describe_matches_numpy_and_scipy():
    d = st.describe(BASE_A, missing=2)
    assert d["n"] == 5 and d["missing"] == 2
    assert d["mean"] == pytest.approx(3.5) and d["sd"] == pytest.approx(np.std(BASE_A, ddof=1))
    assert (d["q1"], d["median"], d["q3"]) == pytest.approx((3.0, 3.5, 4.0))
    low, high = stats.t.interval(0.95, 4, loc=3.5, scale=stats.sem(BASE_A))
    assert (d["ci_low"], d["ci_high"]) == pytest.approx((low, high))


def test_percent_correction_both_ways_labelled():
    # The published paediatric figure: 3.5 mm to 1.5 mm is 57% of the mean.
    result = st.percent_correction(BASE_A, FOLLOW_A)
    assert result["percent_of_mean_change"] == pytest.approx((3.5 - 1.5) / 3.5 * 100)
    assert result["mean_of_patient_percentages"] == pytest.approx(np.mean((BASE_A - FOLLOW_A) / BASE_A * 100))
    assert result["mean_of_patient_percentages"] != pytest.approx(result["percent_of_mean_change"])


def test_welch_difference_matches_scipy():
    result = st.welch_difference(CHANGE_A, CHANGE_B)
    reference = stats.ttest_ind(CHANGE_A, CHANGE_B, equal_var=False)
    ci = reference.confidence_interval(0.95)
    assert result.estimate == pytest.approx(CHANGE_A.mean() - CHANGE_B.mean())
    assert (result.ci_low, result.ci_high, result.p) == pytest.approx((ci.low, ci.high, reference.pvalue))
    assert result.estimate < 0  # BoNT-A minus control: the treated deviation fell more


def test_mann_whitney_matches_scipy():
    assert st.mann_whitney(CHANGE_A, CHANGE_B).p == pytest.approx(
        stats.mannwhitneyu(CHANGE_A, CHANGE_B, alternative="two-sided").pvalue
    )


def test_hedges_g_matches_its_definition():
    pooled = math.sqrt((4 * np.var(CHANGE_A, ddof=1) + 4 * np.var(CHANGE_B, ddof=1)) / 8)
    g = (CHANGE_A.mean() - CHANGE_B.mean()) / pooled * (1 - 3 / (4 * 10 - 9))
    se = math.sqrt(10 / 25 + g**2 / 20)
    result = st.hedges_g(CHANGE_A, CHANGE_B)
    assert result.estimate == pytest.approx(g)
    assert (result.ci_low, result.ci_high) == pytest.approx((g - 1.959964 * se, g + 1.959964 * se), rel=1e-5)


def test_ancova_matches_statsmodels_ols():
    x = sm.add_constant(np.column_stack([[1] * 5 + [0] * 5, np.concatenate([BASE_A, BASE_B])]))
    fit = sm.OLS(np.concatenate([FOLLOW_A, FOLLOW_B]), x).fit()
    result = st.ancova(_changes())
    assert result.estimate == pytest.approx(fit.params[1])
    assert (result.ci_low, result.ci_high) == pytest.approx(tuple(fit.conf_int()[1]))
    assert result.p == pytest.approx(fit.pvalues[1])


def test_responders_fisher_and_risk_difference():
    result = st.responders(CHANGE_A, CHANGE_B, threshold=1.0)
    ra, rb = int((CHANGE_A <= -1).sum()), int((CHANGE_B <= -1).sum())
    assert (result["a"]["responders"], result["b"]["responders"]) == (ra, rb) == (5, 1)
    assert result["fisher_p"] == pytest.approx(stats.fisher_exact([[ra, 5 - ra], [rb, 5 - rb]])[1])
    low, high = confint_proportions_2indep(ra, 5, rb, 5, method="newcomb", compare="diff")
    rd = result["risk_difference"]
    assert (rd["estimate"], rd["ci_low"], rd["ci_high"]) == pytest.approx((0.8, low, high))


def test_ordinal_house_brackmann():
    grades = pd.DataFrame(
        {"treated": [1, 1, 1, 0, 0, 0], "baseline": [4, 3, 5, 4, 3, 5], "follow_up": [2, 3, 3, 4, 3, 4]}
    )
    result = st.ordinal_comparison(grades)
    assert result["improved_one_grade"]["a"] == {"improved": 2, "n": 3, "proportion": pytest.approx(2 / 3)}
    assert result["improved_one_grade"]["b"]["improved"] == 1
    assert result["mann_whitney"]["p"] == pytest.approx(
        stats.mannwhitneyu([2, 3, 3], [4, 3, 4], alternative="two-sided").pvalue
    )


def test_spearman_matches_scipy_with_fisher_z_interval():
    x, y = BASE_A.tolist() + BASE_B.tolist(), CHANGE_A.tolist() + CHANGE_B.tolist()
    result = st.spearman(x, y)
    reference = stats.spearmanr(x, y)
    assert (result["estimate"], result["p"], result["n"]) == pytest.approx((reference.statistic, reference.pvalue, 10))
    z, se = np.arctanh(reference.statistic), math.sqrt((1 + reference.statistic**2 / 2) / 7)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(
        (np.tanh(z - 1.959964 * se), np.tanh(z + 1.959964 * se)), rel=1e-5
    )


def _long(values_by_patient):
    rows = []
    for patient, (treated, values) in enumerate(values_by_patient):
        for visit, value in zip(("baseline", "week-4", "week-12"), values, strict=False):
            rows.append({"patient": patient, "treated": treated, "visit": visit, "value": value})
    return pd.DataFrame(rows)


# The mixed model against MixedLM: tests/analysis/test_mixed_model.py.


def test_mixed_model_non_convergence_is_reported_with_the_warning():
    # No variation between patients: the random-intercept variance sits on the boundary.
    frame = _long([(i < 3, [3.0 + (0.1 if i == 0 else 0), 1.0 + (i % 2) * 0.5]) for i in range(6)])
    result = st.mixed_model(frame, baseline_visit="baseline")
    assert result["converged"] is False
    assert "boundary" in result["warning"] or "singular" in result["warning"]
    assert result["estimates"]["week-4"]["estimate"] is not None


@pytest.mark.parametrize(
    ("a", "b", "reason"),
    [
        ([], [1.0, 2.0], "fewer than two patients"),
        ([1.0], [2.0], "fewer than two patients"),
        ([1.0, 1.0], [1.0, 1.0], "zero variance"),
    ],
)
def test_between_arm_statistics_are_not_estimable_instead_of_raising(a, b, reason):
    for result in (st.welch_difference(a, b), st.hedges_g(a, b)):
        assert result.estimate is None and reason in result.not_estimable


def test_edge_cases_never_raise():
    assert st.describe([])["not_estimable"] == "no values"
    assert st.describe([2.0])["sd"] is None
    assert st.describe([2.0, 2.0])["sd"] == 0.0
    assert st.mann_whitney([], [1.0]).not_estimable
    assert st.mann_whitney([1.0, 1.0], [1.0]).not_estimable.startswith("zero variance")
    one_each = _changes().iloc[[0, 5]]
    assert "fewer than two" in st.ancova(one_each).not_estimable
    same = _changes().assign(follow_up=1.0)
    assert "zero variance" in st.ancova(same).not_estimable
    assert st.responders([], [-2.0], threshold=1.0)["risk_difference"]["not_estimable"]
    assert st.spearman([1, 2], [3, 4])["not_estimable"] == "fewer than four pairs"
    assert st.percent_correction([], [])["not_estimable"]
    assert st.percent_correction([0.0, 0.0], [1.0, 1.0])["not_estimable"] == "every baseline is zero"
    no_baseline = _long([(i < 3, [None, 1.0 + i]) for i in range(6)]).dropna()
    assert st.mixed_model(no_baseline, baseline_visit="baseline")["not_estimable"] == "no baseline values"
    empty_arm = _long([(True, [3.0, 1.0 + i]) for i in range(4)])
    assert "fewer than two" in st.mixed_model(empty_arm, baseline_visit="baseline")["not_estimable"]
    compared = st.compare_at_visit(_changes().iloc[:5], threshold=1.0, is_deviation=True)
    assert compared["ancova"]["not_estimable"] and compared["difference_in_change"]["not_estimable"]


def test_paired_changes_drop_patients_without_a_baseline():
    frame = pd.DataFrame(
        {
            "patient": [1, 1, 2],
            "group": ["a", "a", "a"],
            "visit": ["baseline", "week-12", "week-12"],
            "value": [3.5, 1.5, 2.0],
        }
    )
    changes = st.paired_changes(frame, baseline_visit="baseline", visit="week-12")
    assert changes.to_dict("records") == [
        {"patient": 1, "group": "a", "baseline": 3.5, "follow_up": 1.5, "change": -2.0}
    ]


def test_statistics_import_nothing_from_django():
    import subprocess
    import sys

    code = "import sys, analysis.statistics; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": "."}, check=False).returncode == 0


# Grades at baseline and follow-up for a proportional-odds model with overlapping arms.
ORDINAL = pd.DataFrame(
    {
        "treated": [1] * 8 + [0] * 8,
        "baseline": [4, 3, 5, 4, 3, 4, 5, 2, 4, 3, 5, 4, 3, 4, 5, 2],
        "follow_up": [2, 3, 3, 2, 2, 4, 4, 2, 4, 3, 4, 3, 3, 5, 5, 2],
    }
)


def test_proportional_odds_is_statsmodels_ordered_model():
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    result = st.proportional_odds(ORDINAL)
    endog = pd.Series(pd.Categorical(ORDINAL["follow_up"], ordered=True))
    fit = OrderedModel(endog, ORDINAL[["treated", "baseline"]].astype(float), distr="logit").fit(
        method="bfgs", disp=False
    )
    low, high = fit.conf_int(alpha=0.05).loc["treated"]
    assert result.not_estimable is None
    assert (result.estimate, result.ci_low, result.ci_high, result.p) == pytest.approx(
        (math.exp(fit.params["treated"]), math.exp(low), math.exp(high), fit.pvalues["treated"]), rel=1e-4
    )
    assert result.estimate < 1, "the treated arm's grades are lower here"


def test_proportional_odds_without_overlap_is_not_estimable():
    separated = pd.DataFrame({"treated": [1, 1, 1, 0, 0, 0], "baseline": [4] * 6, "follow_up": [2, 2, 3, 4, 4, 5]})
    assert "did not converge" in st.proportional_odds(separated).not_estimable
    one_grade = separated.assign(follow_up=3)
    assert st.proportional_odds(one_grade).not_estimable == "every follow-up grade is the same"


def test_ordinal_descriptives_count_each_grade_without_a_mean():
    result = st.describe_ordinal([2, 3, 3, 4, float("nan")], levels=range(1, 7), missing=1, not_yet_due=2)
    assert result["counts"] == {1: 0, 2: 1, 3: 2, 4: 1, 5: 0, 6: 0}
    assert (result["n"], result["median"], result["missing"], result["not_yet_due"]) == (4, 3.0, 1, 2)
    assert "mean" not in result and "sd" not in result
    change = st.describe_ordinal_change([-2, 0, 0, 1])
    assert (change["lower"], change["same"], change["higher"]) == (1, 2, 1)


def test_ordinal_comparison_headline_is_the_common_odds_ratio():
    result = st.ordinal_comparison(ORDINAL)
    assert result["proportional_odds"] == st.proportional_odds(ORDINAL).to_dict()
    a, b = ORDINAL[ORDINAL["treated"] == 1], ORDINAL[ORDINAL["treated"] == 0]
    assert result["mann_whitney_p"] == pytest.approx(
        stats.mannwhitneyu(a["follow_up"], b["follow_up"], alternative="two-sided").pvalue
    )
