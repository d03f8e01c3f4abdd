"""What never reaches an API client, defined once; docs/api.md gives the reasoning per item.

Built on patients.identifiers (the one list of identifying fields) and widened with what
the anonymized dataset must also withhold: calendar dates, the clinic's study codes, user
names and lot numbers. Every table's columns are checked against it when the table is
defined (tables.Table), and the canary test checks every byte the API sends.
"""

from dataclasses import dataclass

from patients.identifiers import FORBIDDEN_OUTPUT_KEYS, IDENTIFYING_FIELDS


@dataclass(frozen=True)
class Exclusion:
    what: str
    keys: frozenset[str]
    safe_harbor: str


EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion(
        "names, record numbers, contact details",
        IDENTIFYING_FIELDS[("patients", "patientidentifiers")] - {"date_of_birth"},
        "Safe Harbor (A) names, (B) addresses, (D/E/F) phone, fax, e-mail, (H) medical record numbers.",
    ),
    Exclusion(
        "dates of birth and every other calendar date",
        frozenset(
            {
                "date_of_birth",
                "dob",
                "consent_date",
                "enrollment_date",
                "withdrawn_on",
                "date_performed",
                "date",
                "taken_at",
                "created_at",
                "arm_assigned_at",
            }
        ),
        "Safe Harbor (C): all elements of dates except the year. Time is given as days since enrollment "
        "and age in whole years (90+ aggregated).",
    ),
    Exclusion(
        "free text: notes, adverse-event text, reasons, injector names, lot numbers, other-muscle text",
        frozenset().union(*(fields for (app, model), fields in IDENTIFYING_FIELDS.items() if app == "patients"))
        - IDENTIFYING_FIELDS[("patients", "patientidentifiers")]
        | {"lot_number", "product_other"},
        "Free text can carry any identifier (R: any other unique identifying characteristic); "
        "lot numbers and injector names tie a subject to a clinic and a day.",
    ),
    Exclusion(
        "the study codes used in clinic, user names",
        frozenset({"study_code", "site_sequence", "username", "created_by", "arm_assigned_by", "site_code"}),
        "Safe Harbor (R): codes that the clinic can link back to a person; user names identify staff and site.",
    ),
    Exclusion(
        "photos, derived images, landmark coordinates",
        IDENTIFYING_FIELDS.get(("measurements", "photo"), frozenset())
        | IDENTIFYING_FIELDS.get(("measurements", "photoscore"), frozenset())
        | {"image", "photo", "thumbnail", "overlay", "landmarks"},
        "Safe Harbor (Q): full-face photographs and comparable images; landmarks trace the face.",
    ),
)

EXCLUDED_KEYS: frozenset[str] = FORBIDDEN_OUTPUT_KEYS.union(*(e.keys for e in EXCLUSIONS))


def check_columns(table: str, columns: list[str]) -> None:
    """Refuse, at definition time, a table that would send an excluded field to an API client."""
    bad = sorted(set(columns) & EXCLUDED_KEYS)
    if bad:
        raise ValueError(f"Table {table!r} would export excluded fields: {', '.join(bad)}")
