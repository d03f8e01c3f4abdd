"""Investigator pages: the study outcomes page. Thin: the numbers come from analysis.summary."""

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from measurements.selectors import scoring_progress
from patients import services
from patients.harms import harms_table
from patients.selectors import access_for, require_role

from . import downloads, plots
from . import statistics as st
from .consort import consort_counts
from .head_pose import yaw_by_arm
from .long_format import COLUMN_NAMES, data_dictionary, study_rows
from .metrics import ANALYSIS_METRICS_BY_NAME, HOUSE_BRACKMANN
from .models import AnalysisDownload
from .plots import PLOTS
from .selectors import metric_definitions, outcome_table, studies_for_analysis, study_for_analysis
from .summary import (
    SummaryInputError,
    baseline_table,
    choices_for,
    correlation,
    grade_levels,
    is_visit_level,
    outcome_summary,
    validate_inputs,
    values_frame,
)

DEFAULT_METRIC = "commissure_height_deviation_mm"
DEFAULT_EXPRESSION = "smile_closed"


@login_required
def analysis_home(request):
    access = require_role(request.user)
    studies = list(studies_for_analysis(access))
    if len(studies) == 1:
        return redirect("study_outcomes", study_code=studies[0].code)
    return render(request, "analysis/home.html", {"studies": studies})


def outcome_filters(request, study) -> dict:
    """The page's and the downloads' choice of metric, expression, visit and site, with defaults."""
    choices = choices_for(study)
    follow_ups = choices.visits[1:] or choices.visits
    return {
        "metric": request.GET.get("metric") or DEFAULT_METRIC,
        "expression": request.GET.get("expression") or DEFAULT_EXPRESSION,
        "visit": request.GET.get("visit") or (follow_ups[-1] if follow_ups else None),
        "site": request.GET.get("site") or None,
    }


@login_required
def study_outcomes(request, study_code):
    access = access_for(request.user)
    study = study_for_analysis(access, study_code)
    filters = outcome_filters(request, study)
    choices = choices_for(study)
    context = {
        "study": study,
        "filters": filters,
        "choices": choices,
        "options": {field: choices.options(field) for field in ("metrics", "expressions", "visits", "sites")},
        # While photos wait to be scored (the demo's first minutes under make run), the page says so.
        "scoring": next(iter(scoring_progress(access, study=study)), None),
    }
    try:
        summary = outcome_summary(
            study, metric=filters["metric"], expression=filters["expression"], site=filters["site"]
        )
        if filters["visit"] not in [v["code"] for v in summary["visits"]]:
            raise SummaryInputError("visit", filters["visit"], choices.visits)
    except SummaryInputError as error:
        context["error"] = str(error)
        return render(request, "analysis/outcomes.html", context, status=400)
    visits = {v["code"]: v for v in summary["visits"]}
    selected = visits[filters["visit"]]
    table1 = baseline_table(study, metric=filters["metric"], expression=filters["expression"], site=filters["site"])
    header, rows = downloads.table_one_rows(table1)
    flow = _consort(study, filters["site"], selected)
    query = urlencode({k: v for k, v in filters.items() if v})
    harms = harms_table(study)
    # The photos' head turn per arm, for the photo outcome shown (grades have no photo).
    if summary["expression"]:
        context["yaw"] = yaw_by_arm(
            study, expression=summary["expression"], visit=filters["visit"], site=filters["site"]
        )
    context.update(
        summary=summary,
        selected=selected,
        table1_header=header,
        table1_rows=rows,
        consort=flow,
        harms=harms,
        harms_rows=[{"label": row.label, "cells": row.cells(harms.arms)} for row in harms.terms],
        query=query,
        plots=[(name, plot_title(name, summary)) for name in PLOTS],
        downloads=download_links(study, query),
    )
    return render(request, "analysis/outcomes.html", context)


def _consort(study, site, selected: dict) -> dict:
    """The CONSORT counts at the chosen visit: analysed and not yet due from the summary, so the boxes add up."""
    analysed = {code: d["n"] for code, d in selected["arms"].items()}
    waiting = {code: d["not_yet_due"] for code, d in selected["arms"].items()}
    return consort_counts(study, site_code=site, analysed=analysed, not_yet_due=waiting)


def download_links(study, query: str) -> list[dict]:
    """Every table download the page offers: what the link says and the file it gives (figures are
    linked under each figure). Each file is one tidy table or a ZIP of them (analysis.downloads)."""

    def url(what, ext, filtered=True):
        base = reverse("outcome_file", args=[study.code, what, ext])
        return f"{base}?{query}" if filtered and query else base

    return [
        {"label": "Outcome tables", "note": "per arm, comparison, Table 1, methods and exclusions",
         "files": [("XLSX, one sheet each", url("outcomes", "xlsx")), ("ZIP of CSVs", url("outcomes", "zip"))]},
        {"label": "Per arm and visit", "note": "", "files": [("CSV", url("per_arm", "csv"))]},
        {"label": "Between-arm comparison", "note": "", "files": [("CSV", url("comparison", "csv"))]},
        {"label": "Table 1", "note": "baseline characteristics",
         "files": [("XLSX", url("table1", "xlsx")), ("CSV", url("table1", "csv"))]},
        {"label": "Long-format dataset", "note": "every metric and expression",
         "files": [("CSV", url("dataset", "csv", filtered=False))]},
        {"label": "Data dictionary", "note": "of the dataset",
         "files": [("CSV", url("dictionary", "csv", filtered=False)),
                   ("JSON", url("dictionary", "json", filtered=False))]},
    ]  # fmt: skip


def plot_title(name: str, summary: dict) -> str:
    """A figure's caption on the page; a grade has its median figure and is plotted against the primary outcome."""
    if name == "means" and summary["metric"].get("ordinal"):
        return "Median and IQR per arm across visits"
    if name == "scatter" and summary["metric"]["name"] == HOUSE_BRACKMANN:
        return f"Against the {ANALYSIS_METRICS_BY_NAME[DEFAULT_METRIC].label.lower()} (Spearman)"
    return PLOT_TITLES[name]


PLOT_TITLES = {
    "means": "Mean and 95% CI per arm across visits",
    "waterfall": "Change from baseline per patient",
    "strip": "Values per arm at the visit",
    "scatter": "Against the House-Brackmann grade (Spearman)",
    "consort": "CONSORT flow",
}


FILE_KINDS = {
    "outcomes": ("xlsx", "zip"),
    "per_arm": ("csv",),
    "comparison": ("csv",),
    "table1": ("csv", "xlsx"),
    "dataset": ("csv",),
    "dictionary": ("csv", "json"),
    **{plot: ("svg", "png") for plot in PLOTS},
}


def file_name(study, what: str, filters: dict, ext: str, *, visit_level: bool = False) -> str:
    """STUDY_what_metric_expression_YYYY-MM-DD.ext (the dataset and dictionary hold every metric; a grade
    or study-defined outcome has no expression)."""
    today = timezone.localdate().isoformat()
    if what in ("dataset", "dictionary"):
        return f"{study.code}_{what}_{today}.{ext}"
    if visit_level:
        return f"{study.code}_{what}_{filters['metric']}_{today}.{ext}"
    return f"{study.code}_{what}_{filters['metric']}_{filters['expression']}_{today}.{ext}"


@login_required
def outcome_file(request, study_code, what, ext):
    """Every download of the outcome pages; plots shown on the page are the same files, inline.

    A download (anything but an inline plot) is recorded in the audit trail first."""
    study = study_for_analysis(access_for(request.user), study_code)
    if ext not in FILE_KINDS.get(what, ()):
        raise Http404("No such file.")
    filters = outcome_filters(request, study)
    inline = what in PLOTS and "download" not in request.GET
    try:
        choices = validate_inputs(study, **{k: filters[k] for k in ("metric", "expression", "site", "visit")})
        if what == "dataset":
            response = _dataset_response(study)
        else:
            response = HttpResponse(_file_bytes(study, what, ext, filters, request), content_type=CONTENT_TYPES[ext])
    except SummaryInputError as error:
        return HttpResponseBadRequest(str(error))
    name = file_name(study, what, filters, ext, visit_level=is_visit_level(choices.definitions[filters["metric"]]))
    if not inline:
        AnalysisDownload.objects.create(
            user=request.user, study=study, what=what, file_format=ext, filters=filters, file_name=name
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "svg": "image/svg+xml",
    "png": "image/png",
}


def _dataset_response(study):
    codes = dict(study.patients.values_list("pk", "study_code"))
    rows = study_rows(study, patient_key=codes.__getitem__)
    return StreamingHttpResponse(downloads.stream_csv(COLUMN_NAMES, rows), content_type=CONTENT_TYPES["csv"])


def _file_bytes(study, what, ext, filters, request) -> bytes:
    metric, expression, site, visit = filters["metric"], filters["expression"], filters["site"], filters["visit"]
    if what == "dictionary":
        entries = data_dictionary(metric_definitions(study).values())
        if ext == "json":
            return downloads.dictionary_json(entries)
        return downloads.csv_bytes(list(entries[0]), [list(e.values()) for e in entries])
    if what == "table1":
        table1 = baseline_table(study, metric=metric, expression=expression, site=site)
        header, rows = downloads.table_one_rows(table1)
        if ext == "csv":
            return downloads.csv_bytes(header, rows)
        return downloads.workbook_bytes([("table1", header, rows)])
    summary = outcome_summary(study, metric=metric, expression=expression, site=site)
    if what == "per_arm":
        return downloads.csv_bytes(downloads.per_arm_columns(summary), downloads.per_arm_rows(summary))
    if what == "comparison":
        return downloads.csv_bytes(downloads.COMPARISON_COLUMNS, downloads.comparison_rows(summary))
    if what == "outcomes":
        table1 = baseline_table(study, metric=metric, expression=expression, site=site)
        if ext == "zip":
            return downloads.outcomes_zip(summary, table1)
        return downloads.workbook_bytes(downloads.outcome_tables(summary, table1))
    selected = next(v for v in summary["visits"] if v["code"] == visit)
    if what == "means":
        return plots.means_plot(summary, ext)
    if what == "consort":
        return plots.consort_plot(_consort(study, site, selected), selected["name"], ext)
    table = outcome_table(
        study, expressions=[summary["expression"]] if summary["expression"] else [], metrics=[metric], site_code=site
    )
    frame = values_frame(table, metric)
    if what == "strip":
        return plots.strip_plot(summary, frame[frame["visit"] == visit], selected["name"], ext)
    if what == "waterfall":
        baseline = summary["visits"][0]["code"]
        changes = st.paired_changes(frame, baseline_visit=baseline, visit=visit)
        return plots.waterfall_plot(summary, changes, selected["name"], ext)
    # scatter: the chosen metric against a second outcome (default the House-Brackmann grade; for the
    # grade itself, the primary photo outcome)
    other = request.GET.get("other") or (DEFAULT_METRIC if metric == HOUSE_BRACKMANN else HOUSE_BRACKMANN)
    change = request.GET.get("change") == "1"
    result = correlation(study, metric=metric, other=other, expression=expression, visit=visit, site=site,
                         change=change)  # fmt: skip
    pairs = result["pairs"]
    definitions = metric_definitions(study)
    x_def, y_def = definitions[metric], definitions[other]
    prefix = "Change in " if change else ""
    return plots.scatter_plot(
        pairs[metric], pairs[other], pairs["group"],
        x_label=f"{prefix}{x_def.label} ({x_def.unit})", y_label=f"{prefix}{y_def.label} ({y_def.unit})",
        title=f"{study.code}, {selected['name']}", arms=summary["arms"], correlation=result["result"], fmt=ext,
        x_levels=_levels(x_def, metric), y_levels=_levels(y_def, other), whole_steps=change,
    )  # fmt: skip


def _levels(definition, name: str) -> list[dict] | None:
    """An ordinal outcome's grades for a figure's axis (None for a measurement)."""
    if not definition.ordinal:
        return None
    return [{"value": value, "label": label} for value, label in grade_levels(name)]


MAX_IMPORT_BYTES = 2_000_000


def _parse_outcome_csv(text: str) -> tuple[list[dict], str | None]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in services.OUTCOME_IMPORT_COLUMNS if c not in header]
    if missing:
        expected = ", ".join(services.OUTCOME_IMPORT_COLUMNS)
        return [], f"The first line must name the columns {expected}; missing: {', '.join(missing)}."
    return [{(k or "").strip(): v for k, v in row.items()} for row in reader], None


@login_required
def outcome_import(request, study_code):
    """Data managers import study-defined outcome values: a dry run lists every refused row,
    and nothing is written unless every row passes."""
    access = access_for(request.user)
    study = study_for_analysis(access, study_code)
    if study.pk not in access.data_manager_study_ids:
        raise PermissionDenied("Only data managers import outcome values.")
    context = {"study": study, "outcomes": study.outcomes.all(), "columns": services.OUTCOME_IMPORT_COLUMNS}
    if request.method != "POST":
        return render(request, "analysis/outcome_import.html", context)
    if "csv_text" in request.POST:
        text = request.POST["csv_text"]
    else:
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = "Choose a CSV file."
            return render(request, "analysis/outcome_import.html", context, status=400)
        if upload.size > MAX_IMPORT_BYTES:
            context["error"] = f"The file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB; split it."
            return render(request, "analysis/outcome_import.html", context, status=400)
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            context["error"] = "The file is not UTF-8 text; save it as CSV (UTF-8)."
            return render(request, "analysis/outcome_import.html", context, status=400)
    rows, error = _parse_outcome_csv(text)
    if error or not rows:
        context["error"] = error or "The file has no rows."
        return render(request, "analysis/outcome_import.html", context, status=400)
    confirm = request.POST.get("action") == "import"
    refused = services.outcome_values_import(study=study, rows=rows, by=request.user, dry_run=not confirm)
    if confirm and not refused:
        messages.success(request, f"{len(rows)} outcome value(s) imported into {study.code}.")
        return redirect("study_outcomes", study_code=study.code)
    context.update(refused=refused, rows=len(rows), csv_text=text, checked=True)
    return render(request, "analysis/outcome_import.html", context, status=400 if refused else 200)
