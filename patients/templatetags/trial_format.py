"""Filters that write the trial's values the way the people reading them write them."""

from django import template

from patients.formatting import units_display

register = template.Library()


@register.filter
def units(value) -> str:
    """`{{ point.units|units }}`: 8.50 -> "8.5", 10.00 -> "10"; empty for a missing value."""
    if value is None or value == "":
        return ""
    return units_display(value)
