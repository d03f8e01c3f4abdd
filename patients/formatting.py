"""How values are written for people, in pages, the audit trail and downloads alike."""

from decimal import Decimal


def units_display(value) -> str:
    """8.50 -> "8.5", 10.00 -> "10": units as a clinician writes them."""
    return format(Decimal(value).normalize(), "f")
