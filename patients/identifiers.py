"""The one list of fields that identify a person, and the one rule for showing them.

None of these may leave the system: every export, API serializer and the
anonymized dataset is checked against this list. Pages show them only to users who
may see the patient's identifiers (`Access.shown`, the `{% shown %}` template tag,
`patients.history`); anyone else sees that a value exists (`HIDDEN`), not its text.
Every free-text field of a clinical model is classified here, as identifying or in
`NOT_IDENTIFYING`: tests/patients/test_identifier_classification.py fails on a new
field until it is. tests/patients/test_identifiers_hidden.py walks every page an
investigator can open with a canary string in each listed field, and
tests/api/test_identifier_walk.py every GET path of the API as every role
(the API's serializers: patients/api_shown.py).
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
    ("patients", "scaleassessment"): frozenset({"void_reason"}),
    ("patients", "adverseevent"): frozenset({"term_other", "description", "void_reason"}),
    # Why an item is missing is typed by the coordinator ("the patient's daughter declined for him").
    ("patients", "missingitem"): frozenset({"missing_reason", "void_reason"}),
    # Faces are identifying; so are the landmarks that trace one and the file's fingerprint.
    # failure_reason is the engine's quality message (as PhotoScore.reason): not listed. last_error is
    # a worker's exception text, for data managers only: listed, so that it never leaves.
    ("measurements", "photo"): frozenset({"original", "original_filename", "sha256", "last_error"}),
    ("measurements", "photoscore"): frozenset({"landmarks"}),
    # Secrets, not a patient's words, but listed here because this is the list of values that never
    # leave the system (no export, no API, no anonymized key; `FORBIDDEN_OUTPUT_KEYS`), and `shown`
    # hides them even from roles that see identifiers (`NEVER_SHOWN`). The pseudonym key links every
    # `subject_id` back to its patient, so it identifies as much as a record number; a token's digest
    # is a credential. `NOT_IDENTIFYING` would mean "safe to print", which they are not. Why a key was
    # rotated is free text like a void's reason, and may name the patient whose link leaked.
    ("patients", "apitoken"): frozenset({"digest"}),
    ("patients", "pseudonymkey"): frozenset({"secret", "rotation_reason"}),
}

# Listed fields that no page shows to anyone, whatever the role: secrets, shown once when made.
NEVER_SHOWN: frozenset[tuple[str, str, str]] = frozenset(
    {("patients", "apitoken", "digest"), ("patients", "pseudonymkey", "secret")}
)

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


# Free-text fields judged not to identify anyone: set up by data managers, or written by the system.
NOT_IDENTIFYING: dict[tuple[str, str], frozenset[str]] = {
    ("patients", "study"): frozenset({"code", "title", "randomization_seed", "scales"}),
    # Coded answers (a choice code or a slider's number per item code, patients/grading) and the
    # scores computed from them: values from the scale's definition, never a person's words.
    ("patients", "scaleassessment"): frozenset({"scale", "source", "responses", "scores", "status"}),
    ("patients", "site"): frozenset({"code", "name"}),
    ("patients", "treatmentarm"): frozenset({"code", "name", "description"}),
    ("patients", "scheduledvisit"): frozenset({"code", "name"}),
    ("patients", "eligibilitycriterion"): frozenset({"text"}),  # the study's protocol, not a patient's words
    ("patients", "patient"): frozenset({"study_code"}),  # the pseudonym
    ("patients", "injectionsession"): frozenset({"product_other", "lot_number"}),
    ("measurements", "photo"): frozenset({"content_type", "failure_code", "failure_reason"}),
    ("measurements", "photoscore"): frozenset(
        {"engine_version", "model_version", "status", "reason", "metrics", "scale_note", "quality"}
    ),
    # A study's own outcomes, defined by its data manager like the arms and the schedule.
    ("patients", "studyoutcome"): frozenset({"code", "name", "unit", "description"}),
    # A missing item's key: an expression, a grade's field name or a study outcome's code.
    ("patients", "missingitem"): frozenset({"item_code"}),
    # The client's name says which script holds a token; the token key is the first characters of
    # the token that knox stores in clear to find it (and the admin lists, to tell tokens apart).
    # The rest of the token is what authenticates, and only its digest is kept, under a surrogate
    # primary key so that no admin URL or checkbox prints it. The revocation reason is written by the
    # system (migration 0008), naming roles, never a patient.
    ("patients", "apitoken"): frozenset({"client_name", "token_key", "revocation_reason"}),
    ("patients", "subjectpseudonym"): frozenset({"subject_id"}),  # the exported pseudonym itself
    # The download audit, written by the download views: what was downloaded, as what, and how filtered.
    ("analysis", "analysisdownload"): frozenset({"what", "file_format", "filters", "file_name"}),
    # The file name is the study code and the date, written by the download itself.
    ("patients", "allocationlistdownload"): frozenset({"file_name"}),
}

# What a user who may not see a value is shown in its place: that it exists, not what it says.
HIDDEN = "recorded (hidden from your role)"


def is_identifying(app_label: str, model_name: str, field: str) -> bool:
    return field in IDENTIFYING_FIELDS.get((app_label, model_name), frozenset())


def shown(value, *, app_label: str, model_name: str, field: str, can_see: bool):
    """`value` itself, or for an identifying field the user may not see, HIDDEN (or nothing when empty).
    A secret (`NEVER_SHOWN`) is HIDDEN from everyone."""
    if (app_label, model_name, field) in NEVER_SHOWN:
        can_see = False
    if can_see or not is_identifying(app_label, model_name, field):
        return value
    return HIDDEN if value not in (None, "") else value


# Change reasons the services write themselves, shown to everyone who sees the history.
SYSTEM_REASONS: frozenset[str] = frozenset(
    {
        "Registered",
        "Recorded",
        "Enrolled",
        "Randomized",
        "Completed the study",
        "Study set up",
        "Randomization list generated",
        "Created",
        "Changed",
        "",
    }
)
# Reasons the services write as "<what>: <the identifying field's own text>".
REASON_PREFIXES = ("Withdrawn", "Voided", "Removed", "Arm assigned outside the system")
# "Marked missing: <code>" (patients.services.missing_codes) names the code only, never the typed reason.


def shown_reason(reason: str, *, can_see: bool, about_identifying_field: bool) -> str:
    """A change reason in the audit trail as the user may see it. The reason typed for a change to
    an identifying field is hidden with the field; a withdrawal's, void's or external arm's reason
    *is* that field's text (keeping its first words); other reasons are shown."""
    if can_see or reason in SYSTEM_REASONS:
        return reason
    head, sep, _ = reason.partition(": ")
    if sep and head in REASON_PREFIXES:
        return f"{head}: {HIDDEN}"
    return HIDDEN if about_identifying_field else reason
