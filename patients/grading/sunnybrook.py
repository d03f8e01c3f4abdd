"""The Sunnybrook facial grading system (Ross, Fradet & Nedzelski 1996), item by item.

Resting symmetry is scored against the normal side, its sum × 5; voluntary movement on five
standard expressions, 1–5 each, sum × 4; synkinesis on the same five, 0–3 each, sum × 1.
Composite = movement − rest − synkinesis, from −15 (no movement, worst rest and synkinesis) to
100 (normal). The composite is reported as computed and never clamped: a negative composite is
a real, valid grade.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .items import Choice, Item, Scale, answered, unanswered

REST, MOVEMENT, SYNKINESIS = "rest", "movement", "synkinesis"
REST_WEIGHT, MOVEMENT_WEIGHT, SYNKINESIS_WEIGHT = 5, 4, 1
COMPOSITE_MIN, COMPOSITE_MAX = -15, 100

# (code, wording) of the five standard expressions, in the published order.
EXPRESSIONS: tuple[tuple[str, str], ...] = (
    ("forehead_wrinkle", "Forehead wrinkle (brow lift)"),
    ("gentle_eye_closure", "Gentle eye closure"),
    ("open_mouth_smile", "Open-mouth smile"),
    ("snarl", "Snarl"),
    ("lip_pucker", "Lip pucker"),
)

MOVEMENT_CHOICES = (
    Choice(1, "unable to initiate movement", 1),
    Choice(2, "initiates slight movement", 2),
    Choice(3, "initiated movement with mild excursion", 3),
    Choice(4, "movement almost complete", 4),
    Choice(5, "movement complete", 5),
)
SYNKINESIS_CHOICES = (
    Choice(0, "none", 0),
    Choice(1, "mild (slight synkinesis)", 1),
    Choice(2, "moderate (obvious but not disfiguring synkinesis)", 2),
    Choice(3, "severe (disfiguring synkinesis, gross mass movement of several muscles)", 3),
)

# Resting items are nominal (three ways of being abnormal score the same point), so their codes
# are words, not the points: "narrow" and "wide" must stay distinguishable in the record.
REST_ITEMS = (
    Item(
        "sb_rest_eye",
        REST,
        "Resting symmetry: eye (palpebral fissure)",
        (
            Choice("normal", "normal", 0),
            Choice("narrow", "narrow", 1),
            Choice("wide", "wide", 1),
            Choice("eyelid_surgery", "eyelid surgery", 1),
        ),
    ),
    Item(
        "sb_rest_cheek",
        REST,
        "Resting symmetry: cheek (nasolabial fold)",
        (
            Choice("normal", "normal", 0),
            Choice("absent", "absent", 2),
            Choice("less_pronounced", "less pronounced", 1),
            Choice("more_pronounced", "more pronounced", 1),
        ),
    ),
    Item(
        "sb_rest_mouth",
        REST,
        "Resting symmetry: mouth",
        (
            Choice("normal", "normal", 0),
            Choice("corner_drooped", "corner drooped", 1),
            Choice("corner_pulled_up_out", "corner pulled up or out", 1),
        ),
    ),
)
MOVEMENT_ITEMS = tuple(
    Item(f"sb_movement_{code}", MOVEMENT, f"Voluntary movement: {wording}", MOVEMENT_CHOICES)
    for code, wording in EXPRESSIONS
)
SYNKINESIS_ITEMS = tuple(
    Item(f"sb_synkinesis_{code}", SYNKINESIS, f"Synkinesis: {wording}", SYNKINESIS_CHOICES)
    for code, wording in EXPRESSIONS
)

SUNNYBROOK = Scale(
    code="sunnybrook",
    name="Sunnybrook facial grading system",
    citation=(
        "Ross BG, Fradet G, Nedzelski JM. Development of a sensitive clinical facial grading system. "
        "Otolaryngol Head Neck Surg. 1996;114(3):380-386."
    ),
    domains=(
        (REST, "Resting symmetry"),
        (MOVEMENT, "Symmetry of voluntary movement"),
        (SYNKINESIS, "Synkinesis"),
    ),
    items=REST_ITEMS + MOVEMENT_ITEMS + SYNKINESIS_ITEMS,
)


@dataclass(frozen=True)
class SunnybrookScores:
    """Each score is None until every item it needs is answered; `missing` names those that are not."""

    rest: int | None
    movement: int | None
    synkinesis: int | None
    composite: int | None
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing


def scores(responses: Mapping[str, object]) -> SunnybrookScores:
    """The three weighted subscores and the composite; raises GradingError for a bad answer."""
    given = answered(SUNNYBROOK, responses)

    def weighted(items: tuple[Item, ...], weight: int) -> int | None:
        if unanswered(items, given):
            return None
        return weight * sum(int(i.points(given[i.code])) for i in items)

    rest = weighted(REST_ITEMS, REST_WEIGHT)
    movement = weighted(MOVEMENT_ITEMS, MOVEMENT_WEIGHT)
    synkinesis = weighted(SYNKINESIS_ITEMS, SYNKINESIS_WEIGHT)
    composite = None
    if rest is not None and movement is not None and synkinesis is not None:
        composite = movement - rest - synkinesis
    return SunnybrookScores(rest, movement, synkinesis, composite, unanswered(SUNNYBROOK.items, given))
