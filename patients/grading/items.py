"""What a scale is made of: items with their wording and allowed values, and one validation.

An item is either a choice (a list of coded answers, each worth some points: Sunnybrook) or a
slider (a number between two bounds: eFACE). Responses are a mapping item code → value; an item
that is absent or None is *unanswered*, which makes its domain, and the scale, incomplete. An
incomplete scale has None totals, never a total computed as if the missing items were zero.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

Value = int | float | str


@dataclass(frozen=True)
class Choice:
    """One answer of a choice item: the code stored and exported, its wording, and what it scores."""

    code: int | str
    label: str
    points: int


@dataclass(frozen=True)
class Item:
    code: str
    domain: str
    wording: str
    choices: tuple[Choice, ...] = ()
    # A slider's bounds (inclusive) and what its ends and its balanced point mean.
    minimum: float | None = None
    maximum: float | None = None
    anchors: str = ""

    @property
    def is_choice(self) -> bool:
        return bool(self.choices)

    def choice(self, value: object) -> Choice | None:
        """The choice coded `value`; a code must match in type too, so "3" (text) is not 3, nor True 1."""
        return next((c for c in self.choices if type(value) is type(c.code) and value == c.code), None)

    def problem(self, value: object) -> str | None:
        """Why `value` is not an allowed answer to this item (a message naming the item), or None."""
        if self.is_choice:
            if self.choice(value) is not None:
                return None
            allowed = ", ".join(f"{c.code} ({c.label})" for c in self.choices)
            return f"{self.wording}: {value!r} is not one of the allowed answers: {allowed}."
        assert self.minimum is not None and self.maximum is not None, f"{self.code} has neither choices nor bounds"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"{self.wording}: {value!r} is not a number."
        if not self.minimum <= value <= self.maximum:
            return f"{self.wording}: {value:g} is outside {self.minimum:g} to {self.maximum:g}."
        return None

    def points(self, value: Value) -> float:
        """What a valid answer scores before any scale-level transformation."""
        if self.is_choice:
            choice = self.choice(value)
            assert choice is not None, f"{self.code}: validate before scoring"
            return choice.points
        return float(value)


@dataclass(frozen=True)
class Scale:
    code: str
    name: str
    citation: str
    # (domain code, domain name) in the order the form shows them.
    domains: tuple[tuple[str, str], ...]
    items: tuple[Item, ...] = field(default_factory=tuple)

    def item(self, code: str) -> Item:
        return self._by_code()[code]

    def domain_items(self, domain: str) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.domain == domain)

    def _by_code(self) -> dict[str, Item]:
        return {i.code: i for i in self.items}


class GradingError(ValueError):
    """Responses that cannot be scored; `errors` maps the item code to a message naming the item."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def validate(scale: Scale, responses: Mapping[str, object]) -> dict[str, str]:
    """Every problem in `responses`, item code → message; {} when all given answers are allowed.

    Unanswered items (absent or None) are not errors: the scale is then incomplete, not wrong.
    """
    known = scale._by_code()
    errors: dict[str, str] = {}
    for code, value in responses.items():
        item = known.get(code)
        if item is None:
            errors[code] = f"{code!r} is not an item of the {scale.name}."
        elif value is not None and (message := item.problem(value)) is not None:
            errors[code] = message
    return errors


def answered(scale: Scale, responses: Mapping[str, object]) -> dict[str, Value]:
    """The valid, answered responses; raises GradingError naming every bad item."""
    errors = validate(scale, responses)
    if errors:
        raise GradingError(errors)
    # validate() has just checked every answer given against its item, so each is a Value.
    return {code: cast(Value, value) for code, value in responses.items() if value is not None}


def unanswered(items: tuple[Item, ...], given: Mapping[str, Value]) -> tuple[str, ...]:
    return tuple(i.code for i in items if i.code not in given)
