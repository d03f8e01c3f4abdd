"""Downloads: the summary and Table 1 as tidy tables (CSV, XLSX, a ZIP of CSVs), the long dataset streamed as CSV.

Every file is one table with unique column names (a CSV, or one sheet of an XLSX), or a ZIP of such
tables; tests/analysis/test_downloads.py opens every file the outcomes page links to and checks it.

Pure formatting of analysis.summary's dicts; the XLSX stores full-precision numbers with the
page's number format, so a cell shows exactly the page's digits.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator

from .formatting import DECIMALS, fmt_number
from .table1 import format_cell

PER_ARM_COLUMNS = ["visit_code", "visit", "visit_day", "arm", "n", "not_yet_due", "missing", "mean", "sd",
                   "ci_low", "ci_high", "median", "q1", "q3", "change_n", "change_mean", "change_sd",
                   "not_estimable"]  # fmt: skip
COMPARISON_COLUMNS = ["visit_code", "visit", "statistic", "estimate", "ci_low", "ci_high", "p", "not_estimable",
                      "method"]  # fmt: skip


def per_arm_columns(summary: dict) -> list[str]:
    """The per-arm table's columns: an ordinal grade has a count per grade instead of a mean and SD."""
    if not summary["metric"].get("ordinal"):
        return PER_ARM_COLUMNS
    grades = [f"n_grade_{level['label']}" for level in summary["metric"]["levels"]]
    return ["visit_code", "visit", "visit_day", "arm", "n", "not_yet_due", "missing", "median", "q1", "q3", *grades,
            "change_n", "change_lower", "change_same", "change_higher", "not_estimable"]  # fmt: skip


def per_arm_rows(summary: dict) -> list[list]:
    ordinal = summary["metric"].get("ordinal")
    rows = []
    for visit in summary["visits"]:
        for arm in summary["arms"]:
            d = visit["arms"][arm["code"]]
            c = (visit["change"] or {}).get(arm["code"]) or {}
            start = [visit["code"], visit["name"], visit["day"], arm["name"], d["n"], d["not_yet_due"], d["missing"]]
            if ordinal:
                counts = [d["counts"].get(level["value"], d["counts"].get(str(level["value"]), 0))
                          for level in summary["metric"]["levels"]]  # fmt: skip
                rows.append([*start, d["median"], d["q1"], d["q3"], *counts, c.get("n"), c.get("lower"),
                             c.get("same"), c.get("higher"), d.get("not_estimable") or ""])  # fmt: skip
            else:
                rows.append([*start, d["mean"], d["sd"], d["ci_low"], d["ci_high"], d["median"], d["q1"], d["q3"],
                             c.get("n"), c.get("mean"), c.get("sd"), d.get("not_estimable") or ""])  # fmt: skip
    return rows


def _arm_names(summary: dict) -> dict[str, str]:
    """The statistics' a (BoNT-A) and b (control) as the study's arm names."""
    treated = next((a["name"] for a in summary["arms"] if a["treated"]), "treated arm")
    control = next((a["name"] for a in summary["arms"] if not a["treated"]), "control arm")
    return {"a": treated, "b": control}


def comparison_rows(summary: dict) -> list[list]:
    methods = summary["methods"]
    names = _arm_names(summary)
    rows = []

    def add(visit: dict, statistic: str, e: dict, method: str, p=None) -> None:
        rows.append([visit["code"], visit["name"], statistic, e.get("estimate"), e.get("ci_low"), e.get("ci_high"),
                     e.get("p") if p is None else p, e.get("not_estimable") or "", method])  # fmt: skip

    for visit in summary["visits"]:
        c = visit["comparison"]
        if not c:
            continue
        if summary["metric"].get("ordinal"):
            add(visit, "Proportional-odds common odds ratio (primary)", c["proportional_odds"],
                methods["proportional_odds"])  # fmt: skip
            add(visit, "Mann-Whitney U of follow-up grades", c["mann_whitney"], methods["mann_whitney"])
            for key in ("a", "b"):
                i = c["improved_one_grade"][key]
                add(visit, f"Improved by at least one grade, {names[key]} {i['improved']}/{i['n']}",
                    {"estimate": i["proportion"]}, methods["improved_one_grade"])  # fmt: skip
            continue
        for key, label in (
            ("ancova", "ANCOVA arm effect (primary)"),
            ("difference_in_change", "Difference in mean change (Welch)"),
            ("hedges_g", "Hedges' g"),
            ("mann_whitney", "Mann-Whitney U"),
        ):
            add(visit, label, c[key], methods[key])
        if c.get("responders"):
            r = c["responders"]
            add(visit, f"Responders {names['a']} {r['a']['responders']}/{r['a']['n']}, "
                f"{names['b']} {r['b']['responders']}/{r['b']['n']}: risk difference", r["risk_difference"],
                methods["responders"], p=r["fisher_p"])  # fmt: skip
        for key in ("a", "b"):
            p = (c.get("percent_correction") or {}).get(key)
            if p:
                for measure, label in (("mean_of_patient_percentages", "mean of patient percentages"),
                                       ("percent_of_mean_change", "percent of mean change")):  # fmt: skip
                    estimate = {"estimate": p[measure], "not_estimable": p["not_estimable"]}
                    add(visit, f"Percent correction, {names[key]}: {label}", estimate, methods["percent_correction"])
    visit_by_code = {v["code"]: v for v in summary["visits"]}
    for code, e in summary["mixed_model"]["estimates"].items():
        add(visit_by_code.get(code, {"code": code, "name": code}), "Mixed model arm x visit", e, methods["mixed_model"])
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
            ["Expression", summary["expression_label"] or "none (recorded per visit)"],
            ["Site", summary["site"] or "all sites"],
            ["Engine version", summary["engine_version"] or "none"], ["Counted on", summary["today"]],
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


def outcomes_zip(summary: dict, table1: dict) -> bytes:
    """The outcome tables as a ZIP of tidy CSVs, one table each (per arm, comparison, Table 1, methods),
    the same tables as the workbook's sheets."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, header, rows in outcome_tables(summary, table1):
            archive.writestr(f"{name}.csv", csv_bytes(header, rows))
    return buffer.getvalue()


def outcome_tables(summary: dict, table1: dict | None) -> list[tuple[str, list[str], list[list]]]:
    """(name, header, rows) of every table the outcome files hold, each with unique column names."""
    tables = [("per_arm", per_arm_columns(summary), per_arm_rows(summary)),
              ("comparison", COMPARISON_COLUMNS, comparison_rows(summary))]  # fmt: skip
    if table1 is not None:
        tables.append(("table1", *table_one_rows(table1)))
    tables.append(("methods_and_exclusions", ["item", "value"], methods_rows(summary)))
    return tables


SHEET_TITLES = {
    "per_arm": "Per arm",
    "comparison": "Comparison",
    "table1": "Table 1",
    "methods_and_exclusions": "Methods and exclusions",
}


def workbook_bytes(tables: list[tuple[str, list[str], list[list]]]) -> bytes:
    """An XLSX with one sheet per table (outcome_tables' names), full precision under the page's format."""
    from openpyxl import Workbook

    number_format = "0." + "0" * DECIMALS
    book = Workbook()
    book.remove(book.active)
    for name, header, rows in tables:
        sheet = book.create_sheet(SHEET_TITLES[name])
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
