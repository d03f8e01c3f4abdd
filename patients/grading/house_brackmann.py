"""House–Brackmann facial nerve grading (House & Brackmann 1985): grades I–VI as data.

The grade is one overall judgement, not a sum of items, so there is nothing to compute; the
descriptions are here so that the form shows them beside the choice and the export can name them.
"""

from __future__ import annotations

from dataclasses import dataclass

CITATION = "House JW, Brackmann DE. Facial nerve grading system. Otolaryngol Head Neck Surg. 1985;93(2):146-147."


@dataclass(frozen=True)
class Grade:
    value: int
    numeral: str
    name: str
    gross: str
    at_rest: str
    motion: str

    @property
    def description(self) -> str:
        parts = [self.gross]
        if self.at_rest:
            parts.append(f"At rest: {self.at_rest}")
        if self.motion:
            parts.append(f"Motion: {self.motion}")
        return " ".join(parts)


GRADES: tuple[Grade, ...] = (
    Grade(1, "I", "Normal", "Normal facial function in all areas.", "", ""),
    Grade(
        2,
        "II",
        "Mild dysfunction",
        "Slight weakness noticeable on close inspection; may have very slight synkinesis.",
        "normal symmetry and tone.",
        "forehead moderate to good function; eye complete closure with minimum effort; mouth slight asymmetry.",
    ),
    Grade(
        3,
        "III",
        "Moderate dysfunction",
        "Obvious but not disfiguring difference between the two sides; noticeable but not severe synkinesis, "
        "contracture and/or hemifacial spasm.",
        "normal symmetry and tone.",
        "forehead slight to moderate movement; eye complete closure with effort; mouth slightly weak with "
        "maximum effort.",
    ),
    Grade(
        4,
        "IV",
        "Moderately severe dysfunction",
        "Obvious weakness and/or disfiguring asymmetry.",
        "normal symmetry and tone.",
        "forehead none; eye incomplete closure; mouth asymmetric with maximum effort.",
    ),
    Grade(
        5,
        "V",
        "Severe dysfunction",
        "Only barely perceptible motion.",
        "asymmetry.",
        "forehead none; eye incomplete closure; mouth slight movement.",
    ),
    Grade(6, "VI", "Total paralysis", "No movement.", "", ""),
)
GRADES_BY_VALUE: dict[int, Grade] = {g.value: g for g in GRADES}
MIN_GRADE, MAX_GRADE = 1, 6


def choices() -> list[tuple[int, str]]:
    """(value, numeral) pairs, the stored value and what a form or table shows."""
    return [(g.value, g.numeral) for g in GRADES]


def problem(value: object) -> str | None:
    """Why `value` is not a House–Brackmann grade, naming the scale, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in GRADES_BY_VALUE:
        return f"House-Brackmann grade: {value!r} is not a grade from 1 (I) to 6 (VI)."
    return None
