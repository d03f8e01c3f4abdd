"""eFACE, the clinician-graded electronic facial function scale (Banks et al. 2015), item by item.

Fifteen visual-analogue items, each a number. The four static items are placed on 0–200 with
100 balanced (a deviation either way is possible: a brow lower or higher than the normal side),
and count in the totals as 100 − |value − 100|, so 80 and 120 both score 80. Dynamic items run
0 (no movement) to 100 (movement equal to the normal side); synkinesis items 0 (severe) to 100
(none). Each subscore is the mean of its items' scores; the total is the mean of all fifteen.
Every score is 0–100, higher is better. Sources and the caveats on them: docs/grading.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .items import Item, Scale, Value, answered, unanswered

STATIC, DYNAMIC, SYNKINESIS = "static", "dynamic", "synkinesis"
BALANCED = 100.0


def _static(code: str, wording: str, anchors: str) -> Item:
    return Item(code, STATIC, wording, minimum=0, maximum=200, anchors=anchors)


def _dynamic(code: str, wording: str) -> Item:
    return Item(code, DYNAMIC, wording, minimum=0, maximum=100, anchors="0 no movement, 100 equal to the normal side")


def _synkinesis(code: str, wording: str) -> Item:
    return Item(code, SYNKINESIS, wording, minimum=0, maximum=100, anchors="0 severe, 100 none")


STATIC_ITEMS = (
    _static("ef_brow_rest", "Brow at rest", "0 lower, 100 balanced, 200 higher than the normal side"),
    _static("ef_palpebral_fissure_rest", "Palpebral fissure at rest", "0 wide, 100 balanced, 200 narrow"),
    _static(
        "ef_nasolabial_fold_depth_rest",
        "Nasolabial fold depth at rest",
        "0 absent, 100 balanced, 200 deeper than the normal side",
    ),
    _static(
        "ef_oral_commissure_rest", "Oral commissure at rest", "0 lower, 100 balanced, 200 higher than the normal side"
    ),
)
DYNAMIC_ITEMS = (
    _dynamic("ef_brow_elevation", "Brow elevation"),
    _dynamic("ef_gentle_eye_closure", "Gentle eye closure"),
    _dynamic("ef_full_eye_closure", "Full eye closure"),
    _dynamic("ef_oral_commissure_smile", "Oral commissure movement with smile"),
    _dynamic("ef_nasolabial_fold_depth_smile", "Nasolabial fold depth with smile"),
    _dynamic("ef_nasolabial_fold_orientation_smile", "Nasolabial fold orientation with smile"),
    _dynamic("ef_lower_lip_eee", "Lower lip movement (saying 'eee')"),
)
SYNKINESIS_ITEMS = (
    _synkinesis("ef_synkinesis_ocular", "Ocular synkinesis"),
    _synkinesis("ef_synkinesis_midfacial", "Midfacial synkinesis"),
    _synkinesis("ef_synkinesis_mentalis", "Mentalis synkinesis"),
    _synkinesis("ef_synkinesis_platysmal", "Platysmal synkinesis"),
)

EFACE = Scale(
    code="eface",
    name="eFACE",
    citation=(
        "Banks CA, Bhama PK, Park J, Hadlock CR, Hadlock TA. Clinician-graded electronic facial paralysis "
        "assessment: the eFACE. Plast Reconstr Surg. 2015;136(2):223e-230e."
    ),
    domains=((STATIC, "Static"), (DYNAMIC, "Dynamic"), (SYNKINESIS, "Synkinesis")),
    items=STATIC_ITEMS + DYNAMIC_ITEMS + SYNKINESIS_ITEMS,
)


def item_score(item: Item, value: Value) -> float:
    """What one answer counts in the totals: static items folded about 100, the others as given."""
    points = item.points(value)
    return BALANCED - abs(points - BALANCED) if item.domain == STATIC else points


@dataclass(frozen=True)
class EfaceScores:
    """Each score is None until every item it needs is answered; `missing` names those that are not."""

    static: float | None
    dynamic: float | None
    synkinesis: float | None
    total: float | None
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def scores(responses: Mapping[str, object]) -> EfaceScores:
    """The three subscores and the total (means of item scores); raises GradingError for a bad answer."""
    given = answered(EFACE, responses)

    def mean(items: tuple[Item, ...]) -> float | None:
        if unanswered(items, given):
            return None
        return sum(item_score(i, given[i.code]) for i in items) / len(items)

    missing = unanswered(EFACE.items, given)
    return EfaceScores(
        static=mean(STATIC_ITEMS),
        dynamic=mean(DYNAMIC_ITEMS),
        synkinesis=mean(SYNKINESIS_ITEMS),
        total=None if missing else mean(EFACE.items),
        missing=missing,
    )
