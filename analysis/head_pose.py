"""The head pose of the photos that count, per arm: an investigator's check that pose does not differ
between arms (docs/metrics.md, "Head pose"; docs/analysis.md, "Where the numbers appear").

The rows are the outcome table's included rows (analysis.selectors: one definition of which photos
count), at one visit and expression; the pose is the score's own, not an outcome.
"""

from __future__ import annotations

import numpy as np

from patients.models import Study

from .cache import cached, summary_key
from .selectors import outcome_table


def yaw_by_arm(study: Study, *, expression: str, visit: str, site: str | None = None) -> list[dict]:
    """Per arm (in the study's order): photos counted, photos with a pose, median yaw, its IQR and
    the largest |yaw|, in degrees (None where no photo has a pose). Cached like the summary."""
    key = summary_key(study, table="yaw_by_arm", expression=expression, visit=visit, site=site)
    return cached(key, lambda: _yaw_by_arm(study, expression=expression, visit=visit, site=site))


def _yaw_by_arm(study: Study, *, expression: str, visit: str, site: str | None) -> list[dict]:
    table = outcome_table(study, expressions=[expression], metrics=[], site_code=site or None)
    rows = table.included
    rows = rows[rows["visit_code"] == visit]
    out = []
    for arm in study.arms.order_by("id").values("code", "name"):
        at_arm = rows[rows["arm_code"] == arm["code"]]
        yaw = at_arm["yaw_deg"].astype(float).to_numpy()
        yaw = yaw[np.isfinite(yaw)]
        entry: dict = {"code": arm["code"], "name": arm["name"], "photos": len(at_arm), "n": len(yaw)}
        if len(yaw):
            q1, median, q3 = (float(v) for v in np.percentile(yaw, [25, 50, 75]))
            entry.update(median=median, q1=q1, q3=q3, max_abs=float(np.abs(yaw).max()))
        else:
            entry.update(median=None, q1=None, q3=None, max_abs=None)
        out.append(entry)
    return out
