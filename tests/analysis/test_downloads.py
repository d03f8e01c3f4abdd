"""Downloads of the outcome pages: files that open, names that say what they are, and an audit row each."""

import csv
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from openpyxl import load_workbook

from analysis.formatting import fmt_number
from analysis.long_format import COLUMN_NAMES
from analysis.models import AnalysisDownload

BASE = "/studies/FACE-1/outcomes/files/"
QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed", "visit": "week-12"}
NAME = re.compile(r'attachment; filename="FACE-1_[a-z0-9]+(_[a-z_]+)?_\d{4}-\d{2}-\d{2}\.[a-z]+"')


def _get(client, path, **extra):
    response = client.get(BASE + path, {**QUERY, **extra})
    assert response.status_code == 200, response.content[:300]
    return response


def test_xlsx_opens_and_shows_the_page_digits(login, investigator, measured):
    client = login(investigator)
    response = _get(client, "outcomes.xlsx")
    assert NAME.match(response["Content-Disposition"])
    assert "FACE-1_outcomes_commissure_height_deviation_mm_smile_closed_" in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Per arm", "Comparison", "Table 1", "Methods and exclusions"]
    summary = client.get("/api/v1/studies/FACE-1/summary/", QUERY).json()
    week12 = next(v for v in summary["visits"] if v["code"] == "week-12")
    header, *rows = book["Per arm"].iter_rows(values_only=True)
    per_arm = {(r[header.index("visit_code")], r[header.index("arm")]): r for r in rows}
    mean_cell = per_arm[("week-12", "BoNT-A")][header.index("mean")]
    # Excel keeps 15 significant digits; the digits shown are the page's.
    assert mean_cell == pytest.approx(week12["arms"]["bont-a"]["mean"], rel=1e-12)
    page = client.get("/studies/FACE-1/outcomes/", QUERY).content.decode()
    assert fmt_number(mean_cell) in page
    header, *rows = book["Comparison"].iter_rows(values_only=True)
    ancova = next(r for r in rows if r[0] == "week-12" and r[header.index("statistic")].startswith("ANCOVA"))
    estimate = ancova[header.index("estimate")]
    assert fmt_number(estimate) == fmt_number(week12["comparison"]["ancova"]["estimate"])
    assert fmt_number(estimate) in page
    methods = dict(book["Methods and exclusions"].iter_rows(min_row=2, values_only=True))
    assert methods["Engine version"] == summary["engine_version"]
    audit = AnalysisDownload.objects.get()
    assert (audit.user, audit.what, audit.file_format) == (investigator, "outcomes", "xlsx")
    assert audit.filters["metric"] == QUERY["metric"] and audit.filters["visit"] == "week-12"


@pytest.mark.parametrize("path", ["per_arm.csv", "comparison.csv", "table1.csv", "table1.xlsx", "dictionary.csv"])
def test_tables_download_and_are_audited(login, investigator, measured, path):
    response = _get(login(investigator), path)
    assert NAME.match(response["Content-Disposition"])
    assert AnalysisDownload.objects.filter(what=path.split(".")[0]).count() == 1


@pytest.mark.parametrize("plot", ["means", "waterfall", "strip", "scatter", "consort"])
def test_every_plot_as_svg_and_png(login, investigator, measured, plot):
    client = login(investigator)
    svg = _get(client, f"{plot}.svg", download="1")
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    text = svg.content.decode()
    if plot != "consort":
        assert "BoNT-A" in text and "Control" in text
    png = _get(client, f"{plot}.png", download="1")
    assert png.content.startswith(b"\x89PNG")
    assert AnalysisDownload.objects.filter(what=plot).count() == 2


def test_inline_plot_on_the_page_is_not_a_download(login, investigator, measured):
    _get(login(investigator), "means.svg")
    assert not AnalysisDownload.objects.exists()


def test_long_dataset_streams_csv_with_the_shared_columns(login, investigator, measured):
    response = _get(login(investigator), "dataset.csv")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == list(COLUMN_NAMES)
    assert {r[0] for r in rows[1:]} == {"LON-001", "LON-002", "LON-003", "LON-004", "LON-005", "LON-006"}
    assert "FACE-1_dataset_" in response["Content-Disposition"]


def test_dictionary_json(login, investigator, study):
    entries = json.loads(_get(login(investigator), "dictionary.json").content)
    assert entries[0]["variable"] == "patient"


def test_coordinator_cannot_download(login, coordinator_a, measured):
    assert login(coordinator_a).get(BASE + "outcomes.xlsx", QUERY).status_code == 403
    assert not AnalysisDownload.objects.exists()


def test_unknown_file_and_bad_filter(login, investigator, study):
    client = login(investigator)
    assert client.get(BASE + "outcomes.pdf").status_code == 404
    assert client.get(BASE + "outcomes.csv").status_code == 404, "two tables side by side are no longer offered"
    response = client.get(BASE + "comparison.csv", {**QUERY, "metric": "nose"})
    assert response.status_code == 400 and b"commissure_height_deviation_mm" in response.content
    assert not AnalysisDownload.objects.exists()


def test_waterfall_legend_swatch_has_its_arms_bar_colour(login, investigator, measured):
    svg = ET.fromstring(_get(login(investigator), "waterfall.svg").content)
    fills = _fills_by_id(svg)
    for arm in ("bont-a", "control"):
        bars = {fill for id_, fill in fills.items() if id_.startswith(f"bar-{arm}-")}
        assert len(bars) == 1, bars
        assert fills[f"legend-{arm}"] == bars.pop()
    assert fills["legend-bont-a"] != fills["legend-control"]


def _fills_by_id(svg) -> dict[str, str]:
    """The fill of the first path inside every element with an id (matplotlib's gid)."""
    out = {}
    for element in svg.iter():
        path = next((p for p in element.iter() if p.tag.endswith("path")), None)
        if element.get("id") and path is not None:
            match = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", path.get("style", ""))
            if match:
                out[element.get("id")] = match.group(1).lower()
    return out
