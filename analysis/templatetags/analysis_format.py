"""How the outcome pages print numbers: the same rounding as the XLSX and CSV downloads."""

from django import template

from analysis.formatting import fmt_number, fmt_p, fmt_p_clause

register = template.Library()
register.filter("num", fmt_number)
register.filter("pval", fmt_p)
register.filter("p_is", fmt_p_clause)


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
