"""The exclusion list: built on patients.identifiers, enforced on every table's columns."""

import pytest

from analysis.dataset.exclusions import EXCLUDED_KEYS, check_columns
from analysis.dataset.registry import TABLES
from patients.identifiers import IDENTIFYING_FIELDS


def test_every_identifying_field_is_excluded():
    for fields in IDENTIFYING_FIELDS.values():
        assert fields <= EXCLUDED_KEYS


def test_dates_codes_and_lot_numbers_are_excluded():
    assert {"date_of_birth", "enrollment_date", "date_performed", "study_code", "username", "lot_number"} <= (
        EXCLUDED_KEYS
    )


def test_a_table_with_an_excluded_column_is_refused():
    with pytest.raises(ValueError, match="lot_number"):
        check_columns("injections", ["subject_id", "lot_number"])


def test_no_exported_table_has_an_excluded_column():
    for table in TABLES.values():
        assert not set(table.column_names) & EXCLUDED_KEYS
        assert all(column.type != "date" for column in table.columns)
