"""The dataset's tables, in the order of the ZIP, and their data dictionary.

Apart from tables.py because the outcomes table (outcomes.py) is built on tables.py's Table.
"""

from collections.abc import Iterator

from patients.models import Study

from .outcomes import OUTCOMES
from .tables import INJECTIONS, SUBJECTS, ExportContext, Role, Table

TABLES: dict[str, Table] = {OUTCOMES.name: OUTCOMES, SUBJECTS.name: SUBJECTS, INJECTIONS.name: INJECTIONS}


def check_subject_level_columns(tables: dict[str, Table]) -> None:
    """A quasi-identifier outside the subjects table is one of the subject's, published as subjects.csv has it.

    So that a join of any table to subjects (or a table read alone) shows no value the subjects
    table suppressed or banded: ExportContext.publish copies the subject's published value in.
    """
    subject_columns = {c.name: c for c in SUBJECTS.quasi_identifiers}
    for table in tables.values():
        if table is SUBJECTS or not table.quasi_identifiers:
            continue
        if "subject_id" not in table.column_names:
            raise ValueError(f"Table {table.name!r} carries quasi-identifiers but no subject_id to publish them by")
        for column in table.quasi_identifiers:
            own = subject_columns.get(column.name)
            if own is None or own.suppressible != column.suppressible or own.type != column.type:
                raise ValueError(
                    f"Table {table.name!r}: quasi-identifier {column.name!r} must be a column of the subjects "
                    "table, of the same type and suppressibility"
                )
            if not (own.suppressible or own.generalise) and own.type != "string":
                raise ValueError(f"{column.name!r} is published as recorded, so it must be a string column")


check_subject_level_columns(TABLES)

DICTIONARY_FIELDS = [
    "table",
    "variable",
    "label",
    "type",
    "unit",
    "allowed_values",
    "role",
    "banding",
    "suppressed_cells",
    "k",
    "min_k",
]


def dictionary_rows(study: Study, ctx: ExportContext) -> Iterator[dict[str, str]]:
    """Every variable of every table: what it is, and for a quasi-identifier how this export published it."""
    rel = ctx.release
    for table in TABLES.values():
        for column in table.columns:
            quasi = column.role is Role.QUASI_IDENTIFIER
            yield {
                "table": table.name,
                "variable": column.name,
                "label": column.label,
                "type": column.type,
                "unit": column.unit,
                "allowed_values": "|".join(column.values_allowed),
                "role": column.role.value,
                "banding": rel.banding.get(column.name, ""),
                "suppressed_cells": str(rel.suppressed.get(column.name, 0)) if quasi else "",
                "k": "" if not quasi or rel.k is None else str(rel.k),
                "min_k": str(rel.min_k) if quasi else "",
            }
        if table.dictionary_extra is not None:
            for entry in table.dictionary_extra(study):
                yield {**dict.fromkeys(DICTIONARY_FIELDS, ""), "table": table.name, **entry}
