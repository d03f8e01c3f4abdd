"""The dataset's tables, in the order of the ZIP, and their data dictionary.

Apart from tables.py because the outcomes table (outcomes.py) is built on tables.py's Table.
"""

from collections.abc import Iterator

from patients.models import Study

from .outcomes import OUTCOMES
from .tables import INJECTIONS, SUBJECTS, Table

TABLES: dict[str, Table] = {OUTCOMES.name: OUTCOMES, SUBJECTS.name: SUBJECTS, INJECTIONS.name: INJECTIONS}


def dictionary_rows(study: Study) -> Iterator[dict[str, str]]:
    for table in TABLES.values():
        for column in table.columns:
            yield {
                "table": table.name,
                "variable": column.name,
                "label": column.label,
                "type": column.type,
                "unit": column.unit,
                "allowed_values": "|".join(column.allowed),
            }
        if table.dictionary_extra is not None:
            for entry in table.dictionary_extra(study):
                yield {"table": table.name, **entry}
