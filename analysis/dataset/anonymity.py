"""k-anonymity of the subjects table: generalise, then suppress, or refuse. Pure: no Django.

k is the size of the smallest group of subjects whose published quasi-identifiers are all
equal, "suppressed" being a value like any other (an outsider who knows a person's facts
finds every record they are consistent with; a suppressed cell matches only other
suppressed cells of the column, which is what the published table shows). Which columns
are quasi-identifiers is said once, beside the subjects table's columns (tables.py).

`release` makes k reach the study's `min_k`:

1. Generalise along a ladder of steps, finest first (tables.py, SUBJECT_LADDER): exact ages
   and months, 5-year ages, 6-month onset bands, 10-year ages with 12-month bands, 20-year
   ages, clinical onset bands, the House-Brackmann stratum band, ages and onset in two bands,
   and last the aetiology as Bell's palsy or not. The first step whose k reaches `min_k`
   is published as it is.
2. Otherwise every step is suppressed (`suppress`): single quasi-identifier values are
   replaced with "suppressed" for as few subjects as the greedy below finds, and the step
   needing the fewest suppressed cells is published (a tie goes to the finer step, the
   earlier one). So a coarser band is taken only when it saves cells, and a finer one is
   never given up for nothing. A step that cannot win (more subjects below min_k than the
   best count so far) is not suppressed at all. A subject is never dropped, so the outcomes and injections
   keyed by its subject_id all stay.
3. A column that may not be suppressed (the arm: without it a subject's outcomes drop out of
   every between-arm comparison) can make `min_k` unreachable; then `KAnonymityUnreachable`
   says what would be needed, and the export is refused.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

SUPPRESSED = "suppressed"

# HIPAA Safe Harbor: ages over 89 are aggregated into one category (the 20-year and two bands
# aggregate more: 80+, 60+).
TOP_CODE_AGE = 90
# Two age bands cut at a fixed age, never the study's median: a median moves as subjects
# enrol, so two exports cut at different ages could be compared to place the subjects
# between the cuts. 60: recovery from facial palsy is reported worse beyond it (Peitersen,
# Acta Otolaryngol 2002), and it is a boundary of the 20-year bands, so every band of the
# ladder is a union of the finer step's bands (two exports at different steps cannot be
# intersected into anything narrower than the finer one).
AGE_SPLIT = 60
AGE_BANDINGS = ("years", "5-year", "10-year", "20-year", "2-band")
# Months since onset: a palsy of ten years or more is rare enough to single a person out.
TOP_CODE_MONTHS = 120
# Clinical bands: the first year (spontaneous recovery still under way), up to three years
# (established palsy), longer. The two bands keep only the first year's cut, so they nest.
ONSET_BANDINGS = ("months", "6-month", "12-month", "clinical", "2-band")
# House-Brackmann: the grade, or the study's randomization stratum band (I-III, IV-VI;
# patients.models.SeverityBand), which the primary analysis adjusts for, so it stays usable.
HOUSE_BRACKMANN_BANDINGS = ("grade", "stratum")
# Aetiology: the recorded cause, or Bell's palsy (idiopathic) against every identified cause,
# the split the facial palsy literature reports recovery by. No finer grouping is defensible.
AETIOLOGY_BANDINGS = ("cause", "bells-or-not")
NOT_BELLS_PALSY = "not_bells_palsy"
HOUSE_BRACKMANN_BANDS = ("1-3", "4-6")


def age_in_years(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _band(value: int, width: int, top: int) -> str:
    if value >= top:
        return f"{top}+"
    if width == 1:
        return str(value)
    low = value - value % width
    return f"{low}-{min(low + width - 1, top - 1)}"


def age_label(age: int, banding: str) -> str:
    if banding == "2-band":
        return f"<{AGE_SPLIT}" if age < AGE_SPLIT else f"{AGE_SPLIT}+"
    if banding == "20-year":
        return _band(age, 20, 80)  # 0-19, 20-39, 40-59, 60-79, 80+
    width = {"years": 1, "5-year": 5, "10-year": 10}[banding]
    return _band(age, width, TOP_CODE_AGE)


def months_label(months: int, banding: str) -> str:
    if banding in ("clinical", "2-band"):
        if months < 12:
            return "<12"
        if banding == "2-band":
            return "12+"
        return "12-35" if months < 36 else "36+"
    width = {"months": 1, "6-month": 6, "12-month": 12}[banding]
    return _band(months, width, TOP_CODE_MONTHS)


def house_brackmann_label(grade: int, banding: str) -> str:
    if banding == "grade":
        return str(grade)
    if banding != "stratum":
        raise ValueError(f"unknown House-Brackmann banding {banding!r}")
    return HOUSE_BRACKMANN_BANDS[grade > 3]


def aetiology_label(aetiology: str, banding: str) -> str:
    if banding == "cause":
        return aetiology
    if banding != "bells-or-not":
        raise ValueError(f"unknown aetiology banding {banding!r}")
    return aetiology if aetiology == "bells_palsy" else NOT_BELLS_PALSY


@dataclass(frozen=True)
class QuasiIdentifier:
    """One quasi-identifier column as the anonymization sees it."""

    name: str
    suppressible: bool = True
    # (raw value, banding) -> published value, for a column the ladder generalises; else str(raw).
    generalise: Callable[[Any, str], str] | None = None


@dataclass(frozen=True)
class Release:
    """What may be published: every subject's quasi-identifier values, and how they were made."""

    columns: tuple[str, ...]
    records: list[tuple[str | None, ...]]  # one per subject, in the order given, values in `columns` order
    banding: dict[str, str]  # generalised column -> banding used
    suppressed: dict[str, int]  # suppressible column -> cells replaced by SUPPRESSED
    k: int | None  # None: no subjects
    min_k: int
    fixed_columns: tuple[str, ...] = field(default=())

    @property
    def suppressed_total(self) -> int:
        return sum(self.suppressed.values())

    @property
    def subjects_suppressed(self) -> int:
        return sum(SUPPRESSED in record for record in self.records)


class KAnonymityUnreachable(Exception):
    """No generalisation or suppression reaches min_k: a group of the columns never suppressed is too small."""

    def __init__(self, *, min_k: int, fixed_columns: tuple[str, ...], short_groups: dict[tuple, int], subjects: int):
        self.min_k = min_k
        self.fixed_columns = fixed_columns
        self.short_groups = short_groups
        self.subjects = subjects
        smallest = min(short_groups.values())
        if fixed_columns:
            groups = "; ".join(
                f"{', '.join(f'{c} {v}' for c, v in zip(fixed_columns, values))}: {n} subject{'s' * (n != 1)} "
                f"({min_k - n} more needed)"
                for values, n in sorted(short_groups.items(), key=lambda item: str(item[0]))
            )
            why = (
                f"{' and '.join(fixed_columns)} {'is' if len(fixed_columns) == 1 else 'are'} never suppressed, so "
                f"every {' x '.join(fixed_columns)} group needs at least {min_k} subjects, and {groups}"
            )
        else:
            why = f"the study has {subjects} subjects ({min_k - subjects} more needed)"
        super().__init__(
            f"The anonymized dataset cannot be released with k >= min_k = {min_k}: {why}. It needs those "
            f"subjects, or a study min_k of at most {smallest} (a data manager's setting)."
        )


def smallest_group(keys: Iterable[tuple]) -> int | None:
    """k: the size of the smallest group of identical quasi-identifier tuples (None for no subjects)."""
    counts = Counter(keys)
    return min(counts.values()) if counts else None


def generalised(raw: Sequence[Sequence[Any]], quasi: Sequence[QuasiIdentifier], step: Mapping[str, str]):
    """Every subject's published values at one step of the ladder (None stays None)."""

    def label(q: QuasiIdentifier, value: Any) -> str | None:
        if value is None:
            return None
        return q.generalise(value, step[q.name]) if q.generalise else str(value)

    return [tuple(label(q, value) for q, value in zip(quasi, row)) for row in raw]


def release(
    raw: Sequence[Sequence[Any]],
    quasi: Sequence[QuasiIdentifier],
    ladder: Sequence[Mapping[str, str]],
    min_k: int,
) -> Release:
    """Generalise along `ladder`, then suppress; raise KAnonymityUnreachable if min_k cannot be reached.

    `raw` holds one row per subject, values in `quasi` order (ages and months as integers).
    """
    columns = tuple(q.name for q in quasi)
    fixed = tuple(q.name for q in quasi if not q.suppressible)
    fixed_at = [i for i, q in enumerate(quasi) if not q.suppressible]
    fixed_groups = Counter(tuple(row[i] for i in fixed_at) for row in raw)
    short = {values: n for values, n in fixed_groups.items() if n < min_k}
    if short:
        raise KAnonymityUnreachable(min_k=min_k, fixed_columns=fixed, short_groups=short, subjects=len(raw))
    suppressible = [i for i, q in enumerate(quasi) if q.suppressible]
    zero = {q.name: 0 for q in quasi if q.suppressible}
    steps = [(dict(step), generalised(raw, quasi, step)) for step in ladder]
    if not steps:
        raise ValueError("the generalisation ladder has no step")
    short_of_k = []
    for step, records in steps:
        counts = Counter(records)
        if not counts or min(counts.values()) >= min_k:
            # No cell suppressed: nothing can do better, and this is the finest such step.
            return Release(columns, records, step, zero, smallest_group(records), min_k, fixed)
        short_of_k.append(sum(n for n in counts.values() if n < min_k))

    # Every step needs suppression; publish the one needing the fewest cells, a tie going to the
    # finer (earlier) step. Each subject of a group below min_k loses at least one cell, so a step
    # with more of them than the best count so far cannot win and is not suppressed at all; going
    # from the coarsest step, which usually needs the fewest, skips most of the finer ones (the
    # cost of a large cohort is then about one suppression, not one per step).
    def suppressed_at(step: dict[str, str], records: list[tuple]) -> Release:
        records = suppress(records, suppressible, min_k)
        suppressed = {name: sum(r[i] == SUPPRESSED for r in records) for i, name in enumerate(columns) if name in zero}
        return Release(columns, records, step, suppressed, smallest_group(records), min_k, fixed)

    best = suppressed_at(*steps[-1])
    for (step, records), at_least in reversed(list(zip(steps[:-1], short_of_k[:-1]))):
        if at_least > best.suppressed_total:
            continue
        candidate = suppressed_at(step, records)
        if candidate.suppressed_total <= best.suppressed_total:  # <=: the finer step wins a tie
            best = candidate
    return best


def _masked(record: tuple, column: int) -> tuple:
    return record[:column] + (SUPPRESSED,) + record[column + 1 :]


def suppress(records: list[tuple], suppressible: Sequence[int], min_k: int) -> list[tuple]:
    """Records whose every group has at least min_k members, by replacing values with SUPPRESSED.

    Finding the fewest cells is NP-hard (Meyerson and Williams, 2004); this greedy is sound
    (it always ends with k >= min_k when the columns never suppressed allow it, which
    `release` checks first) and near-linear in the number of subjects:

    1. The violators (subjects in a group smaller than min_k) lose one column at a time, all
       of them the same column, so that they can form groups among themselves: each round
       takes the column after which the fewest violators remain (ties: the column with more
       distinct values among them, then the table's order). Subjects in large enough groups
       are not touched.
    2. Violators left once every suppressible column is gone share only the columns never
       suppressed (the arm). Each such group too small takes members of the same arm, first
       from groups that can spare them (largest spare first), then whole groups (smallest
       first), suppressed the same way.
    3. Restore: for each group with suppressed cells and each such column, the members sharing
       an original value get it back (all of them, or as many as the group can spare) whenever
       the group they join and the group they leave both stay at min_k or more (or empty).
       Repeated until nothing changes, so that no single cell can be given back without
       breaking k (the tests check this on random cohorts).
    """
    current = list(records)
    counts = Counter(current)
    violators = [i for i, r in enumerate(current) if counts[r] < min_k]
    remaining = list(suppressible)

    def move(i: int, to: tuple) -> None:
        counts[current[i]] -= 1
        if not counts[current[i]]:
            del counts[current[i]]
        current[i] = to
        counts[to] += 1

    def left_after(column: int, violators: list[int]) -> tuple[int, int, int]:
        moved = Counter(_masked(current[i], column) for i in violators)
        # A masked tuple can only meet subjects already masked the same way (none but violators).
        still = sum(n for key, n in moved.items() if n + counts[key] < min_k)
        distinct = len({current[i][column] for i in violators})
        return still, -distinct, remaining.index(column)

    while violators and remaining:
        column = min(remaining, key=lambda c: left_after(c, violators))  # noqa: B023 - evaluated here
        remaining.remove(column)
        for i in violators:
            move(i, _masked(current[i], column))
        violators = [i for i in violators if counts[current[i]] < min_k]

    if violators:
        _recruit(current, counts, violators, suppressible, min_k, move)
    return _restore(records, current, suppressible, min_k)


def _recruit(current, counts, violators, suppressible, min_k, move) -> None:
    """Step 2 of `suppress`: fill each fully suppressed group below min_k from its own arm."""

    def full(record: tuple) -> tuple:
        for column in suppressible:
            record = _masked(record, column)
        return record

    short = sorted({current[i] for i in violators if counts[current[i]] < min_k}, key=str)
    for target in short:
        need = min_k - counts[target]
        if need <= 0:
            continue
        others: dict[tuple, list[int]] = defaultdict(list)
        for i, record in enumerate(current):
            if record != target and full(record) == target:
                others[record].append(i)
        spare = sorted(
            ((key, members) for key, members in others.items() if len(members) > min_k),
            key=lambda item: (-len(item[1]), str(item[0])),
        )
        for _, members in spare:
            take = members[: min(need, len(members) - min_k)]
            for i in take:
                move(i, target)
            need -= len(take)
            if need <= 0:
                break
        whole = sorted(
            ((key, [i for i in members if current[i] != target]) for key, members in others.items()),
            key=lambda item: (len(item[1]), str(item[0])),
        )
        for _, members in whole:
            if need <= 0:
                break
            if not members:
                continue
            for i in members:
                move(i, target)
            need -= len(members)


def _restore(original: list[tuple], current: list[tuple], suppressible: Sequence[int], min_k: int) -> list[tuple]:
    """Step 3 of `suppress`: give back every value that k allows."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, record in enumerate(current):
        groups[record].append(i)
    changed = True
    while changed:
        changed = False
        for key in sorted((key for key in groups if SUPPRESSED in key), key=str):
            for column in suppressible:
                members = groups.get(key)
                if not members:
                    break
                if key[column] != SUPPRESSED:
                    continue
                by_value: dict[Any, list[int]] = defaultdict(list)
                for i in members:
                    by_value[original[i][column]].append(i)
                for value, who in sorted(by_value.items(), key=lambda item: (-len(item[1]), str(item[0]))):
                    target = key[:column] + (value,) + key[column + 1 :]
                    size = len(groups[key])
                    if size - len(who) in range(1, min_k):
                        # The group left behind would be too small: give back as many as it can spare.
                        who = who[: max(size - min_k, 0)]
                    if who and len(groups.get(target, ())) + len(who) >= min_k:
                        for i in who:
                            current[i] = target
                        groups[target] = groups.get(target, []) + who
                        moved = set(who)
                        groups[key] = [i for i in groups[key] if i not in moved]
                        changed = True
                if not groups[key]:
                    del groups[key]
                    break
    return current


def statement(rel: Release) -> list[str]:
    """What the README says about the quasi-identifiers it exports."""
    if rel.k is None:
        return ["The dataset has no subjects."]
    bandings = ", ".join(f"{column} in {banding}" for column, banding in rel.banding.items())
    lines = [
        f"Quasi-identifiers (the subject's facts an outsider could know): {', '.join(rel.columns)}.",
        f"Smallest group of subjects sharing all of them: k = {rel.k} (study minimum min_k = {rel.min_k}).",
        f"Generalisation: {bandings}. Ages of {TOP_CODE_AGE} and over are {TOP_CODE_AGE}+ (80+ in 20-year "
        f"bands, <{AGE_SPLIT} or {AGE_SPLIT}+ in two), months since onset of {TOP_CODE_MONTHS} and over "
        f"{TOP_CODE_MONTHS}+; "
        "baseline_house_brackmann in stratum bands is 1-3 or 4-6, aetiology in bells-or-not is bells_palsy "
        f"or {NOT_BELLS_PALSY}.",
    ]
    if rel.suppressed_total:
        cells = ", ".join(f"{column} {n}" for column, n in rel.suppressed.items() if n)
        lines.append(
            f"Suppressed: {rel.suppressed_total} cells of {rel.subjects_suppressed} subjects were replaced by "
            f'"{SUPPRESSED}" ({cells}), because no step of generalisation alone reached min_k; the step '
            "published is the one that needed the fewest suppressed cells. No subject and no outcome was dropped."
        )
    else:
        lines.append("Suppressed: none.")
    if rel.fixed_columns:
        lines.append(f"Never suppressed: {', '.join(rel.fixed_columns)} (the comparison between arms needs it).")
    return lines
