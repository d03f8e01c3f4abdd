"""Templates ask the models what a record's state means instead of spelling its stored values."""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template

from patients.models import InjectionPoint, InjectionSession, Muscle, Product

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
# A stored choice value compared in a template, e.g. {% if session.status == 'voided' %}.
STORED_VALUE_COMPARISON = re.compile(
    r"\.(status|state|action|product|muscle|side|arm_assignment|randomization)\s*(==|!=)\s*['\"]"
)


def test_no_template_compares_a_stored_value_with_a_string():
    offending = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if STORED_VALUE_COMPARISON.search(line)
    ]
    assert offending == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("8.50"), "8.5"), (Decimal("10.00"), "10"), (Decimal("0.25"), "0.25"), ("12.0", "12"), (None, "")],
)
def test_units_filter_writes_units_as_a_clinician_does(value, shown):
    rendered = Template("{% load trial_format %}{{ value|units }}").render(Context({"value": value}))
    assert rendered == shown


def test_a_product_or_muscle_outside_the_list_is_shown_by_its_typed_name():
    listed = InjectionSession(product=Product.ONABOTULINUMTOXIN_A)
    other = InjectionSession(product=Product.OTHER, product_other="Letibotulinumtoxin A")
    assert (listed.product_name, other.product_name) == ("onabotulinumtoxinA (Botox)", "Letibotulinumtoxin A")
    point = InjectionPoint(muscle=Muscle.OTHER, muscle_other="Platysma band")
    assert point.muscle_name == "Platysma band"
    assert InjectionPoint(muscle=Muscle.MENTALIS).muscle_name == "Mentalis"
