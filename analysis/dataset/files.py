"""CSV streams and the ZIP bundle: the dataset as files a statistician keeps."""

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from operator import itemgetter

from django.utils import timezone

from analysis.selectors import analysis_engine_version
from measurements.engine import ENGINE_VERSION
from patients.models import Study

from .registry import DICTIONARY_FIELDS, TABLES, dictionary_rows
from .tables import ExportContext, Table, rows


def csv_lines(header: list[str], records: Iterable[dict]) -> Iterator[str]:
    """One CSV line at a time, so a response streams in constant memory."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writeheader()
    yield flush()
    for record in records:
        writer.writerow(record)
        yield flush()


# A response (or ZIP member) gets text in pieces of about this size: one piece per line would
# cost a generator step, an encode and a socket write per row, the bulk of the time of a
# large table (docs/benchmarks.md, "dataset").
CHUNK_CHARS = 64 * 1024
BATCH_ROWS = 500


def csv_chunks(header: list[str], tuples: Iterable[tuple]) -> Iterator[str]:
    """CSV text in pieces of about CHUNK_CHARS, whatever the number of rows (constant memory)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    batch: list[tuple] = []
    for row in tuples:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            writer.writerows(batch)
            batch.clear()
            if buffer.tell() >= CHUNK_CHARS:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate(0)
    writer.writerows(batch)
    yield buffer.getvalue()


def table_csv(table: Table, study: Study, filters: dict, ctx: ExportContext) -> Iterator[str]:
    if table.stream is not None:
        return csv_chunks(table.column_names, ctx.publish_tuples(table, table.stream(study, filters, ctx)))
    ordered = itemgetter(*table.column_names)
    return csv_chunks(table.column_names, map(ordered, rows(table, study, filters, ctx)))


def readme(ctx: ExportContext, filters: dict) -> str:
    exported = timezone.now().date().isoformat()
    lines = [
        f"Anonymized dataset of study {ctx.study.code}",
        "",
        f"Exported on {exported}. Scoring engine version {ENGINE_VERSION}; the outcome values are those of "
        f"engine version {analysis_engine_version(ctx.study) or '(none: no photo scored yet)'}, the newest that "
        "scored photos of this study.",
        "",
        "Tables (one CSV each; columns described in data_dictionary.csv / .json):",
    ]
    for table in TABLES.values():
        lines += [f"- {table.name}.csv: {table.description}", f"  Inclusion: {table.inclusion}"]
    if filters:
        lines += ["", "Filters applied: " + ", ".join(f"{k}={v}" for k, v in sorted(filters.items()))]
    lines += [
        "",
        "Anonymity (data_dictionary.csv gives each quasi-identifier's banding and suppressed cells):",
        *(f"- {line}" for line in ctx.statement),
        "- subject_id is a keyed hash of an internal id: stable across exports of this study until the study's "
        "key is rotated, unrelated to any code used in the clinic.",
        "- Time is given as days since enrollment; no calendar date, name, record number, free text, "
        "photo or landmark is included (docs/api.md lists what is withheld and why).",
    ]
    return "\n".join(lines) + "\n"


def bundle(study: Study, filters: dict, ctx: ExportContext):
    """A ZIP of every table's CSV, the data dictionary (CSV and JSON) and a README, in a temporary file.

    Written to disk, not memory, so a large study costs no more RAM than a small one.
    """
    spool = tempfile.TemporaryFile()
    with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES.values():
            with archive.open(f"{table.name}.csv", "w") as member:
                for line in table_csv(table, study, filters, ctx):
                    member.write(line.encode())
        dictionary = list(dictionary_rows(study, ctx))
        archive.writestr("data_dictionary.csv", "".join(csv_lines(DICTIONARY_FIELDS, dictionary)))
        archive.writestr("data_dictionary.json", json.dumps(dictionary, indent=2))
        archive.writestr("README.txt", readme(ctx, filters))
    spool.seek(0)
    return spool
