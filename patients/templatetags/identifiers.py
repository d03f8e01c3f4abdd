"""`{% shown record "field" access %}`: a field of a patient's record as the user may see it.

The one way templates print a field that `patients/identifiers.py` may list: an identifying
field of a patient whose identifiers the user may not see prints that a value exists, not its text.
"""

from django import template

register = template.Library()


@register.simple_tag
def shown(record, field: str, access):
    return access.shown(record, field)
