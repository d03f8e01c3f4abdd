"""How values are written for people, in pages, the audit trail and downloads alike."""

from decimal import Decimal


def units_display(value) -> str:
    """8.50 -> "8.5", 10.00 -> "10": units as a clinician writes them."""
    return decimal_display(value)


def decimal_display(value) -> str:
    """Any stored decimal as people write it: 0.0000 -> "0", 100.0000 -> "100" (never "1E+2")."""
    return format(Decimal(value).normalize(), "f")


def plain_decimal(value) -> Decimal:
    """The same number without trailing zeros or an exponent, so that Django's messages, which
    print the limit as it is ("greater than or equal to %(limit_value)s"), read like the help text."""
    return Decimal(decimal_display(value))
