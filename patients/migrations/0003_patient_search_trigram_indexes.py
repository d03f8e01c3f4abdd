"""Trigram indexes for the patient search (patients.selectors.patient_search), PostgreSQL only.

Why trigrams: a coordinator types part of a name ("smith" for "Anna Smith-Jones"), a record
number or its last digits, or part of a study code. Django's `icontains` becomes
`UPPER(col::text) LIKE UPPER('%word%')`; a B-tree index serves only a prefix, a GIN index of
trigrams over `UPPER(col)` serves any substring of 3 or more characters, so the search stays an
index lookup at 10,000 patients and beyond (tests/patients/test_search.py checks the plan).

SQLite (the demo) has no pg_trgm: there the search is a scan of a small table, and these
operations do nothing. The extension is "trusted" from PostgreSQL 13, so the application's own
database owner can create it.

`fastupdate = off`: GIN's default pending list is scanned row by row until the next vacuum, so
after a bulk import the planner would rightly prefer a scan; patients are registered one at a
time, so writing each into the index at once costs nothing noticeable.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = (
    ("patient_identifiers_name_trgm", "patients_patientidentifiers", "full_name"),
    ("patient_identifiers_mrn_trgm", "patients_patientidentifiers", "medical_record_number"),
    ("patient_study_code_trgm", "patients_patient", "study_code"),
)


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops) WITH (fastupdate = off)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_injection_point_void"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
