"""Table 1 (baseline characteristics per arm): a pure function from a per-patient table to rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTINUOUS = (
    ("age", "Age at enrollment (years)"),
    ("months_since_onset", "Months since onset"),
    ("baseline_value", "Baseline value of the chosen metric"),
)
CATEGORICAL = (
    ("sex", "Sex"),
    ("affected_side", "Affected side"),
    ("aetiology", "Aetiology"),
    ("baseline_house_brackmann", "Baseline House-Brackmann grade"),
)


def _continuous(values: pd.Series) -> dict:
    x = values.dropna().astype(float)
    if x.empty:
        return {"n": 0, "mean": None, "sd": None, "median": None, "q1": None, "q3": None}
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return {
        "n": int(len(x)),
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if len(x) > 1 else None,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
    }


def table_one(
    patients: pd.DataFrame, *, arms: list[str], labels: dict | None = None, ordinal_baseline: bool = False
) -> list[dict]:
    """Rows of Table 1: per characteristic (and level), one cell per arm code plus "all".

    `patients` has one row per randomized patient with arm_code and the CONTINUOUS and
    CATEGORICAL columns; `labels` maps a (column, value) to a display label. With
    `ordinal_baseline` the chosen metric is a grade: its baseline is printed as median [IQR], no mean.
    """
    labels = labels or {}
    groups = {arm: patients[patients["arm_code"] == arm] for arm in arms}
    groups["all"] = patients
    rows: list[dict] = [
        {"characteristic": "Patients randomized", "level": "", "kind": "count",
         "cells": {k: {"n": int(len(g))} for k, g in groups.items()}}
    ]  # fmt: skip
    for column, label in CONTINUOUS:
        if column not in patients:
            continue
        rows.append(
            {
                "characteristic": label,
                "level": "",
                "kind": "ordinal" if ordinal_baseline and column == "baseline_value" else "continuous",
                "cells": {k: _continuous(g[column]) for k, g in groups.items()},
            }
        )
    for column, label in CATEGORICAL:
        if column not in patients:
            continue
        levels = sorted(patients[column].dropna().unique(), key=str)
        for level in levels:
            cells = {}
            for k, g in groups.items():
                n = int((g[column] == level).sum())
                cells[k] = {"n": n, "percent": 100 * n / len(g) if len(g) else None}
            rows.append(
                {
                    "characteristic": label,
                    "level": labels.get((column, level), str(level)),
                    "kind": "categorical",
                    "cells": cells,
                }
            )
    return rows


def format_cell(row: dict, cell: dict) -> str:
    """The printed form of a Table 1 cell: mean (SD); median [IQR], median [IQR] alone for a grade, or n (%)."""
    from .formatting import fmt_number

    if row["kind"] == "count":
        return str(cell["n"])
    if row["kind"] == "categorical":
        return f"{cell['n']} ({fmt_number(cell['percent'], 1)}%)" if cell["percent"] is not None else "0"
    if cell["n"] == 0:
        return "–"
    if row["kind"] == "ordinal":  # a grade: no mean of grades
        return f"{fmt_number(cell['median'], 1)} [{fmt_number(cell['q1'], 1)}–{fmt_number(cell['q3'], 1)}]"
    return (
        f"{fmt_number(cell['mean'], 1)} ({fmt_number(cell['sd'], 1)}); "
        f"{fmt_number(cell['median'], 1)} [{fmt_number(cell['q1'], 1)}–{fmt_number(cell['q3'], 1)}]"
    )
