"""Downloads: the summary and Table 1 as flat tables (CSV, XLSX), the long dataset streamed as CSV.

Pure formatting of analysis.summary's dicts; the XLSX stores full-precision numbers with the
page's number format, so a cell shows exactly the page's digits.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator

from .formatting import DECIMALS, fmt_number
from .table1 import format_cell

PER_ARM_COLUMNS = ["visit", "visit_day", "arm", "n", "missing", "mean", "sd", "ci_low", "ci_high", "median", "q1",
                   "q3", "change_n", "change_mean", "change_sd", "not_estimable"]  # fmt: skip
COMPARISON_COLUMNS = ["visit", "statistic", "estimate", "ci_low", "ci_high", "p", "not_estimable", "method"]


def per_arm_rows(summary: dict) -> list[list]:
    rows = []
    for visit in summary["visits"]:
        for arm in summary["arms"]:
            d = visit["arms"][arm["code"]]
            c = (visit["change"] or {}).get(arm["code"]) or {}
            rows.append([visit["code"], visit["day"], arm["name"], d["n"], d["missing"], d["mean"], d["sd"],
                         d["ci_low"], d["ci_high"], d["median"], d["q1"], d["q3"], c.get("n"), c.get("mean"),
                         c.get("sd"), d.get("not_estimable") or ""])  # fmt: skip
    return rows


def comparison_rows(summary: dict) -> list[list]:
    methods = summary["methods"]
    rows = []
    for visit in summary["visits"]:
        c = visit["comparison"]
        if not c:
            continue
        for key, label in (
            ("ancova", "ANCOVA arm effect (primary)"),
            ("difference_in_change", "Difference in mean change (Welch)"),
            ("hedges_g", "Hedges' g"),
            ("mann_whitney", "Mann-Whitney U"),
        ):
            e = c[key]
            rows.append([visit["code"], label, e["estimate"], e["ci_low"], e["ci_high"], e["p"],
                         e["not_estimable"] or "", methods[key]])  # fmt: skip
        if c.get("responders"):
            r = c["responders"]
            rd = r["risk_difference"]
            rows.append([visit["code"], f"Responders a {r['a']['responders']}/{r['a']['n']}, "
                         f"b {r['b']['responders']}/{r['b']['n']}: risk difference", rd["estimate"], rd["ci_low"],
                         rd["ci_high"], r["fisher_p"], rd["not_estimable"] or "", methods["responders"]])  # fmt: skip
        for arm_key in ("a", "b"):
            p = (c.get("percent_correction") or {}).get(arm_key)
            if p:
                rows.append([visit["code"], f"Percent correction ({arm_key}): mean of patient percentages",
                             p["mean_of_patient_percentages"], None, None, None, p["not_estimable"] or "",
                             methods["percent_correction"]])  # fmt: skip
                rows.append([visit["code"], f"Percent correction ({arm_key}): percent of mean change",
                             p["percent_of_mean_change"], None, None, None, p["not_estimable"] or "",
                             methods["percent_correction"]])  # fmt: skip
    for visit, e in summary["mixed_model"]["estimates"].items():
        rows.append([visit, "Mixed model arm x visit", e["estimate"], e["ci_low"], e["ci_high"], e["p"],
                     e["not_estimable"] or "", methods["mixed_model"]])  # fmt: skip
    return rows


def table_one_rows(table1: dict) -> tuple[list[str], list[list]]:
    header = ["characteristic", "level"] + [a["name"] for a in table1["arms"]] + ["All"]
    rows = []
    for row in table1["rows"]:
        cells = [format_cell(row, row["cells"][a["code"]]) for a in table1["arms"]] + [
            format_cell(row, row["cells"]["all"])
        ]
        rows.append([row["characteristic"], row["level"], *cells])
    return header, rows


def methods_rows(summary: dict) -> list[list]:
    rows = [["Study", summary["study"]], ["Metric", f"{summary['metric']['label']} ({summary['metric']['unit']})"],
            ["Expression", summary["expression"]], ["Site", summary["site"] or "all sites"],
            ["Engine version", summary["engine_version"] or "none"],
            ["Between-arm sign", summary["comparison_sign"] or "not compared"],
            ["Mixed model converged", str(summary["mixed_model"]["converged"])],
            ["Mixed model warning", summary["mixed_model"]["warning"] or ""],
            ["Mixed model between-patient variance", fmt_number(summary["mixed_model"].get("patient_variance"))],
            ["Mixed model residual variance", fmt_number(summary["mixed_model"].get("residual_variance"))]]  # fmt: skip
    rows += [[f"Method: {k}", v] for k, v in summary["methods"].items()]
    rows += [[f"Excluded: {e['label']}", f"{e['rows']} rows, {e['patients']} patients"] for e in summary["exclusions"]]
    rows.append(["Inclusion rules", "docs/analysis.md, 'Which data count'"])
    return rows


def csv_bytes(header: list[str], rows: Iterable[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def summary_csv(summary: dict) -> bytes:
    """Per-arm rows, then comparison rows, in one CSV with a `table` column."""
    header = ["table", *PER_ARM_COLUMNS, *COMPARISON_COLUMNS]
    rows = [["per_arm", *r, *[""] * len(COMPARISON_COLUMNS)] for r in per_arm_rows(summary)]
    rows += [["comparison", *[""] * len(PER_ARM_COLUMNS), *r] for r in comparison_rows(summary)]
    return csv_bytes(header, rows)


def workbook_bytes(summary: dict, table1: dict | None) -> bytes:
    from openpyxl import Workbook

    number_format = "0." + "0" * DECIMALS
    book = Workbook()
    sheets = [("Per arm", PER_ARM_COLUMNS, per_arm_rows(summary)),
              ("Comparison", COMPARISON_COLUMNS, comparison_rows(summary))]  # fmt: skip
    if table1 is not None:
        header, rows = table_one_rows(table1)
        sheets.append(("Table 1", header, rows))
    sheets.append(("Methods and exclusions", ["item", "value"], methods_rows(summary)))
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for row in rows:
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, float):
                    cell.number_format = "0.000" if header[cell.column - 1] == "p" else number_format
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


class _Echo:
    def write(self, value):
        return value


def stream_csv(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV lines one at a time, for a StreamingHttpResponse: memory stays flat whatever the row count."""
    writer = csv.writer(_Echo())
    yield writer.writerow(list(header))
    for row in rows:
        yield writer.writerow(row)


def dictionary_json(entries: list[dict]) -> bytes:
    return json.dumps(entries, indent=2).encode()
