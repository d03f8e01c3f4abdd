"""The one list of fields that identify a person.

None of these may leave the system: every export, API serializer and the
anonymized dataset is to be checked against this list in a test as it is built.
Add a field here the moment it is added to a model.
"""

# (app_label, model_name) -> field names that identify a patient, hold free text
# that may identify them, or hold their face.
IDENTIFYING_FIELDS: dict[tuple[str, str], frozenset[str]] = {
    ("patients", "patientidentifiers"): frozenset(
        {"full_name", "date_of_birth", "medical_record_number", "phone", "email", "address"}
    ),
    ("patients", "patient"): frozenset({"withdrawal_reason", "arm_assignment_reason"}),
    ("patients", "visit"): frozenset({"adverse_events", "notes", "protocol_deviation_reason", "void_reason"}),
    ("patients", "injectionsession"): frozenset({"notes", "void_reason", "injector"}),
    ("patients", "injectionpoint"): frozenset({"muscle_other", "void_reason"}),
    ("patients", "adverseevent"): frozenset({"term_other", "description", "void_reason"}),
    # Faces are identifying; so are the landmarks that trace one and the file's fingerprint.
    ("measurements", "photo"): frozenset({"original", "original_filename", "sha256", "failure_reason"}),
    ("measurements", "photoscore"): frozenset({"landmarks"}),
}

# Field names that must never appear as a key in anonymized output, whatever model they came from.
FORBIDDEN_OUTPUT_KEYS: frozenset[str] = frozenset().union(*IDENTIFYING_FIELDS.values()) | {
    "name",
    "dob",
    "mrn",
    "image",
    "photo",
    "file",
    "original",
    "thumbnail",
    "overlay",
}


def register(app_label: str, model_name: str, fields: set[str]) -> None:
    """Let another app (measurements: photos) add its identifying fields to the list."""
    key = (app_label, model_name)
    IDENTIFYING_FIELDS[key] = IDENTIFYING_FIELDS.get(key, frozenset()) | frozenset(fields)
