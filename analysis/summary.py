"""The outcome summary of a study: one function behind the page, the downloads and the JSON API.

`outcome_summary` builds the table under the inclusion rules (analysis.selectors), hands
plain tables to the pure statistics (analysis.statistics) and returns a JSON-ready dict.
The page formats that dict and the API returns it as is, so their numbers agree by
construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
from django.utils import timezone

from measurements.models import Expression
from patients.models import HOUSE_BRACKMANN_CHOICES, Study

from . import statistics as st
from .cache import cached, summary_key
from .metrics import HOUSE_BRACKMANN, AnalysisMetric
from .selectors import OutcomeTable, metric_definitions, not_yet_due, outcome_table, study_schedule

METHODS = {
    "descriptives": "Per arm and visit: n, mean, SD, median, quartiles (IQR) and the t-based 95% CI of the mean; "
    "missing = randomized patients of the arm without a counted value.",
    "change": "Change = follow-up minus baseline per patient; only patients with both values.",
    "percent_correction": "Percent correction (deviations) = (baseline - follow-up) / baseline x 100: "
    "'mean of patient percentages' averages each patient's own percentage; 'percent of mean change' "
    "divides the mean change by the mean baseline.",
    "difference_in_change": "Difference in mean change, BoNT-A minus control, with the Welch (unequal variances) "
    "95% CI and two-sided p.",
    "mann_whitney": "Mann-Whitney U test of the change, two-sided.",
    "hedges_g": "Hedges' g of the change (pooled SD, small-sample corrected), BoNT-A minus control, "
    "normal-approximation 95% CI.",
    "ancova": "Primary comparison: ANCOVA (OLS) follow-up ~ arm + baseline; the arm coefficient, BoNT-A minus "
    "control, with its 95% CI and p.",
    "responders": "Responders: the deviation improved by at least the study's responder threshold; Fisher's exact "
    "test, risk difference with the Newcombe 95% CI.",
    "mixed_model": "Linear mixed model (REML): value ~ visit x arm, random intercept per patient; the visit-by-arm "
    "terms are the difference between arms in the change from baseline, with normal-based 95% CI and p. Fitted "
    "by the random intercept's closed-form profile likelihood, which gives statsmodels MixedLM's estimates.",
    "not_yet_due": "Not yet due = randomized patients still in the study whose visit window has not closed and "
    "who have no recorded visit; missing = the other randomized patients of the arm without a counted value "
    "(window closed with nothing recorded, left the study before it, or no value that counts).",
}
ORDINAL_METHODS = {
    "descriptives": "Per arm and visit (an ordinal grade): n, the count at each grade, median and quartiles (IQR); "
    "no mean or SD, since the steps between grades are not equal.",
    "change": "Change = follow-up minus baseline grade per patient: how many moved to a lower grade, stayed, or "
    "moved higher; only patients with both grades.",
    "not_yet_due": METHODS["not_yet_due"],
    "proportional_odds": "Primary comparison: proportional-odds (cumulative logit) model of the follow-up grade on "
    "arm and baseline grade (statsmodels OrderedModel); the common odds ratio of a higher grade, BoNT-A against "
    "control, with its Wald 95% CI and p. Below 1, BoNT-A patients have lower (better) grades.",
    "mann_whitney": "Mann-Whitney U test of the follow-up grades, two-sided.",
    "improved_one_grade": "Patients whose grade fell by at least one grade from baseline, per arm.",
}


class SummaryInputError(ValueError):
    """An unknown metric, expression, visit or site: the message lists the allowed values."""

    def __init__(self, field: str, value, allowed: list[str]):
        self.field, self.allowed = field, allowed
        super().__init__(f"Unknown {field} {value!r}. Allowed: {', '.join(allowed)}.")


@dataclass(frozen=True)
class Choices:
    """The allowed codes of each filter, and the label the app shows for each code."""

    metrics: list[str]
    expressions: list[str]
    sites: list[str]
    visits: list[str]
    definitions: dict[str, AnalysisMetric]
    labels: dict[str, dict[str, str]]  # filter -> {code: label}

    def options(self, field: str) -> list[tuple[str, str]]:
        """(code, label) pairs for a filter's select."""
        return [(code, self.labels[field][code]) for code in getattr(self, field)]


def choices_for(study: Study) -> Choices:
    definitions = metric_definitions(study)
    sites = list(study.sites.order_by("code").values_list("code", "name"))
    visits = list(study.schedule.order_by("day_offset").values_list("code", "name"))
    return Choices(
        metrics=list(definitions),
        expressions=list(Expression.values),
        sites=[code for code, _ in sites],
        visits=[code for code, _ in visits],
        definitions=definitions,
        labels={
            "metrics": {name: f"{m.label} ({m.unit})" for name, m in definitions.items()},
            "expressions": dict(Expression.choices),
            "sites": {code: f"{code} – {name}" for code, name in sites},
            "visits": dict(visits),
        },
    )


def is_visit_level(definition: AnalysisMetric) -> bool:
    """Grades and study-defined outcomes belong to the visit, not to a photo: they need no expression."""
    return definition.source != "photo"


def validate_inputs(
    study: Study, *, metric: str, expression: str | None, site: str | None = None, visit=None
) -> Choices:
    """The choices, once every given filter is known; an expression is required only by a photo metric."""
    choices = choices_for(study)
    for field, value, allowed in (
        ("metric", metric, choices.metrics),
        ("expression", expression, choices.expressions),
        ("site", site, choices.sites),
        ("visit", visit, choices.visits),
    ):
        if value not in (None, "") and value not in allowed:
            raise SummaryInputError(field, value, allowed)
    if not metric:
        raise SummaryInputError("metric", metric, choices.metrics)
    if not expression and not is_visit_level(choices.definitions[metric]):
        raise SummaryInputError("expression", expression, choices.expressions)
    return choices


def values_frame(table: OutcomeTable, metric: str) -> pd.DataFrame:
    """One value per patient and visit: columns patient, group (arm code), treated, visit, value."""
    rows = table.included if table.definitions[metric].source == "photo" else _visit_rows(table)
    frame = pd.DataFrame(
        {
            "patient": rows["patient_id"],
            "group": rows["arm_code"],
            "treated": rows["treated_arm"].astype(bool),
            "visit": rows["visit_code"],
            "value": rows[metric].astype(float),
        }
    )
    return frame.dropna(subset=["value"]).drop_duplicates(["patient", "visit"])


def _visit_rows(table: OutcomeTable) -> pd.DataFrame:
    rows = table.rows[~table.rows["exclusion"].isin(["voided_visit", "after_withdrawal"])]
    return rows.drop_duplicates("visit_id")


def _clean_floats(value):
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, dict):
        return {k: _clean_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean_floats(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _clean_floats(value.item())
    return value


def outcome_summary(
    study: Study, *, metric: str, expression: str | None, site: str | None = None, visit: str | None = None
) -> dict:
    """Descriptives per arm and visit, between-arm comparisons at each follow-up, the mixed model,
    exclusions, the engine version and the methods, for one metric and expression (and, with
    `visit`, only that visit's entry). A grade or study-defined outcome takes no expression (any given
    is ignored). Cached under a key that changes with the data and with the day (analysis.cache):
    which visits are not yet due depends on today's date."""
    choices = validate_inputs(study, metric=metric, expression=expression, site=site, visit=visit)
    if is_visit_level(choices.definitions[metric]):
        expression = None
    today = timezone.localdate()
    key = summary_key(study, metric=metric, expression=expression, site=site, visit=visit, today=today.isoformat())
    return cached(
        key,
        lambda: _compute_summary(study, metric=metric, expression=expression, site=site, visit=visit, today=today),
    )


def grade_levels(metric: str) -> list[tuple[int, str]]:
    """An ordinal outcome's levels and the labels the app writes for them (House-Brackmann: I to VI)."""
    return list(HOUSE_BRACKMANN_CHOICES) if metric == HOUSE_BRACKMANN else []


def _compute_summary(
    study: Study, *, metric: str, expression: str | None, site: str | None, visit: str | None, today
) -> dict:
    wanted = visit
    table = outcome_table(
        study, expressions=[expression] if expression else [], metrics=[metric], site_code=site or None
    )
    definition = table.definitions[metric]
    ordinal = definition.ordinal
    levels = [value for value, _ in grade_levels(metric)]
    frame = values_frame(table, metric)
    schedule = study_schedule(study)
    pending = not_yet_due(table, schedule, today=today)
    arms = list(study.arms.order_by("id").values("code", "name", "receives_injections"))
    treated = [a for a in arms if a["receives_injections"]]
    control = [a for a in arms if not a["receives_injections"]]
    comparable = len(treated) == 1 and len(control) == 1
    baseline = next((v.code for v in schedule if v.day_offset == 0), None)
    randomized = table.patients["arm_code"].value_counts().to_dict() if not table.patients.empty else {}
    arm_of = dict(zip(table.patients["patient_id"], table.patients["arm_code"])) if randomized else {}
    threshold = float(study.responder_threshold_mm) if definition.is_deviation else None

    visits = []
    for scheduled in (v for v in schedule if not wanted or v.code == wanted):
        at_visit = frame[frame["visit"] == scheduled.code]
        arm_entries = {}
        for arm in arms:
            values = at_visit.loc[at_visit["group"] == arm["code"], "value"]
            waiting = sum(1 for pid in pending[scheduled.code] if arm_of.get(pid) == arm["code"])
            missing = int(randomized.get(arm["code"], 0)) - len(values) - waiting
            arm_entries[arm["code"]] = (
                st.describe_ordinal(values, levels=levels, missing=missing, not_yet_due=waiting)
                if ordinal
                else st.describe(values, missing=missing, not_yet_due=waiting)
            )
        entry: dict = {
            "code": scheduled.code,
            "name": scheduled.name,
            "day": scheduled.day_offset,
            "is_baseline": scheduled.code == baseline,
            "arms": arm_entries,
            "change": None,
            "comparison": None,
        }
        if scheduled.code != baseline and baseline is not None:
            changes = st.paired_changes(frame, baseline_visit=baseline, visit=scheduled.code)
            changes["treated"] = changes["group"].map({a["code"]: a["receives_injections"] for a in arms})
            describe_change = st.describe_ordinal_change if ordinal else st.describe
            entry["change"] = {
                arm["code"]: describe_change(changes.loc[changes["group"] == arm["code"], "change"]) for arm in arms
            }
            if not comparable:
                entry["comparison_not_estimable"] = "The comparison needs exactly one BoNT-A and one control arm."
            elif ordinal:
                entry["comparison"] = st.ordinal_comparison(changes)
            else:
                entry["comparison"] = st.compare_at_visit(
                    changes, threshold=threshold, is_deviation=definition.is_deviation
                )
        visits.append(entry)

    if ordinal:
        mixed = {"estimates": {}, "converged": False, "warning": None,
                 "not_estimable": "an ordinal grade has no mean to model; see the proportional-odds model"}  # fmt: skip
    elif comparable and baseline:
        mixed = st.mixed_model(frame, baseline_visit=baseline, visit_order=[v.code for v in schedule])
    else:
        mixed = {"estimates": {}, "converged": False, "warning": None,
                 "not_estimable": "needs one BoNT-A and one control arm and a baseline visit"}  # fmt: skip
    return _clean_floats(
        {
            "study": study.code,
            "metric": {
                "name": metric,
                "label": definition.label,
                "unit": definition.unit,
                "ordinal": ordinal,
                "levels": [{"value": value, "label": label} for value, label in grade_levels(metric)],
            },
            "expression": expression,
            "expression_label": Expression(expression).label if expression else None,
            "site": site or None,
            "engine_version": table.engine_version if expression else None,
            "arms": [{"code": a["code"], "name": a["name"], "treated": a["receives_injections"]} for a in arms],
            "comparison_sign": (f"{treated[0]['name']} minus {control[0]['name']}" if comparable else None),
            "responder_threshold_mm": threshold,
            "today": today.isoformat(),
            "visits": visits,
            "mixed_model": mixed,
            "exclusions": table.exclusions(metric),
            "randomized": {code: int(n) for code, n in randomized.items()},
            "methods": ORDINAL_METHODS if ordinal else METHODS,
        }
    )


def baseline_table(study: Study, *, metric: str, expression: str | None, site: str | None = None) -> dict:
    """Table 1: baseline characteristics per arm, including the baseline value of the chosen metric.

    Age is computed from the date of birth at enrollment and only ever printed as a summary.
    """
    from patients.models import Aetiology, PatientIdentifiers, Sex, Side

    from .table1 import table_one

    choices = validate_inputs(study, metric=metric, expression=expression, site=site)
    if is_visit_level(choices.definitions[metric]):
        expression = None
    table = outcome_table(
        study, expressions=[expression] if expression else [], metrics=[metric], site_code=site or None
    )
    patients = table.patients.copy()
    arms = list(study.arms.order_by("id").values("code", "name"))
    definition = table.definitions[metric]
    if patients.empty:
        return {"arms": arms, "rows": table_one(pd.DataFrame(columns=["arm_code"]), arms=[a["code"] for a in arms])}
    births = dict(
        PatientIdentifiers.objects.filter(patient__in=list(patients["patient_id"])).values_list(
            "patient_id", "date_of_birth"
        )
    )
    enrolled = dict(study.patients.filter(pk__in=list(patients["patient_id"])).values_list("pk", "enrollment_date"))
    patients["age"] = [_age(births.get(pid), enrolled.get(pid)) for pid in patients["patient_id"]]
    frame = values_frame(table, metric)
    schedule_baseline = study.schedule.filter(day_offset=0).values_list("code", flat=True).first()
    base = frame[frame["visit"] == schedule_baseline].set_index("patient")["value"]
    patients["baseline_value"] = patients["patient_id"].map(base)
    labels: dict[tuple[str, object], str] = {
        **{("sex", k): v for k, v in Sex.choices},
        **{("affected_side", k): v for k, v in Side.choices},
        **{("affected_side", ""): "Not recorded"},
        **{("aetiology", k): v for k, v in Aetiology.choices},
        **{("baseline_house_brackmann", grade): label for grade, label in HOUSE_BRACKMANN_CHOICES},
    }
    rows = table_one(patients, arms=[a["code"] for a in arms], labels=labels, ordinal_baseline=definition.ordinal)
    where = f", {Expression(expression).label}" if expression else ""
    for row in rows:
        if row["characteristic"].startswith("Baseline value"):
            row["characteristic"] = f"Baseline {definition.label} ({definition.unit}){where}"
    return _clean_floats({"arms": arms, "rows": rows})


def _age(born, enrolled):
    if not born or not enrolled:
        return None
    return enrolled.year - born.year - ((enrolled.month, enrolled.day) < (born.month, born.day))


def correlation(
    study: Study, *, metric: str, other: str, expression: str, visit: str, site: str | None = None, change=False
) -> dict:
    """Spearman correlation between two outcomes at a visit (or their changes from baseline), with
    the per-patient pairs for the scatter plot."""
    validate_inputs(study, metric=metric, expression=expression, site=site, visit=visit)
    validate_inputs(study, metric=other, expression=expression)
    table = outcome_table(study, expressions=[expression], metrics=list(dict.fromkeys([metric, other])), site_code=site)
    baseline = study.schedule.filter(day_offset=0).values_list("code", flat=True).first()
    series = []
    for name in (metric, other):
        frame = values_frame(table, name)
        if change:
            pairs = st.paired_changes(frame, baseline_visit=baseline or "", visit=visit)
            series.append(pairs.set_index("patient")[["group", "change"]].rename(columns={"change": name}))
        else:
            at = frame[frame["visit"] == visit].set_index("patient")
            series.append(at[["group", "value"]].rename(columns={"value": name}))
    joined = series[0].join(series[1][[other]] if other != metric else series[1].iloc[:, :0], how="inner")
    result = st.spearman(joined[metric], joined[other])
    return {"pairs": joined.reset_index(drop=True), "result": _clean_floats(result)}
