"""Clinician-graded facial scales, item by item: definitions as data and the published formulas.

Pure: nothing here imports Django (tests/patients/test_grading.py checks it), so the forms, the
services, the outcome tables and the ODM export can all read the same items and totals. Each
scale's formulas and sources are in docs/grading.md.

- `sunnybrook`: Sunnybrook facial grading system (Ross et al. 1996), composite −15 to 100.
- `eface`: eFACE (Banks et al. 2015), static, dynamic and synkinesis subscores and the total, 0–100.
- `house_brackmann`: House–Brackmann grades I–VI with their descriptions (House & Brackmann 1985).
"""

from . import eface, house_brackmann, sunnybrook
from .items import Choice, GradingError, Item, Scale, validate

SCALES: dict[str, Scale] = {s.code: s for s in (sunnybrook.SUNNYBROOK, eface.EFACE)}

__all__ = [
    "SCALES",
    "Choice",
    "GradingError",
    "Item",
    "Scale",
    "eface",
    "house_brackmann",
    "sunnybrook",
    "validate",
]
