"""k-anonymity over the quasi-identifiers (age, sex, site, aetiology) and the age banding
that raises it. Pure: plain values in, plain values out; no Django.

A statistician needs age; a small cohort's exact ages, with sex, site and aetiology,
can single a person out. So the export reports k (the size of the smallest group of
subjects sharing all four) and, when k is below the study's `min_k`, coarsens age
to 5-year, then 10-year groups until k reaches it.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import date

# HIPAA Safe Harbor: ages over 89 are aggregated into one category.
TOP_CODE_AGE = 90
BANDINGS = ("years", "5-year", "10-year")


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def age_label(age: int, banding: str) -> str:
    if age >= TOP_CODE_AGE:
        return f"{TOP_CODE_AGE}+"
    if banding == "years":
        return str(age)
    width = 5 if banding == "5-year" else 10
    low = age - age % width
    return f"{low}-{min(low + width - 1, TOP_CODE_AGE - 1)}"


def smallest_group(keys: Iterable[tuple]) -> int | None:
    """k: the size of the smallest group of identical quasi-identifier tuples (None for no subjects)."""
    counts = Counter(keys)
    return min(counts.values()) if counts else None


def choose_banding(subjects: list[tuple[int, str, str, str]], min_k: int) -> tuple[str, int | None]:
    """The finest age banding whose k reaches min_k (the coarsest if none does), and its k.

    `subjects` holds (age, sex, site, aetiology) per subject.
    """
    k = None
    for banding in BANDINGS:
        k = smallest_group((age_label(age, banding), sex, site, aet) for age, sex, site, aet in subjects)
        if k is None or k >= min_k:
            return banding, k
    return BANDINGS[-1], k


def banding_statement(banding: str, k: int | None, min_k: int) -> str:
    """What the README says about the ages it exports."""
    if k is None:
        return "The dataset has no subjects."
    coded = f"Ages of {TOP_CODE_AGE} and over are reported as {TOP_CODE_AGE}+."
    if banding == "years":
        return f"Ages are in whole years at enrollment. {coded} Smallest group k = {k} (study minimum {min_k})."
    reached = "reaching" if k >= min_k else "still below"
    return (
        f"Ages are banded into {banding} groups because exact ages left a group of fewer than {min_k} "
        f"subjects; the smallest group is now k = {k}, {reached} the study minimum of {min_k}. {coded}"
    )
