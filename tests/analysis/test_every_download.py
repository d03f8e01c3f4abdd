"""Every download the outcomes page offers, found by reading the page (never a hand-written list): each
opens, is one table with unique column names (or a ZIP or workbook of such tables), and holds what its
link says."""

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from openpyxl import load_workbook

from analysis.downloads import SHEET_TITLES
from analysis.long_format import COLUMN_NAMES
from analysis.views import FILE_KINDS, PLOT_TITLES

PAGE = "/studies/FACE-1/outcomes/"
FILES = "/studies/FACE-1/outcomes/files/"


class _Links(HTMLParser):
    """Each <a> to an outcome file with its own text and the text of the list item or caption around it."""

    def __init__(self):
        super().__init__()
        self.links: list[dict] = []
        self._open: list[dict] = []  # the enclosing li/figcaption blocks
        self._link: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("li", "figcaption"):
            self._open.append({"text": ""})
        href = dict(attrs).get("href") or ""
        if tag == "a" and href.startswith(FILES):
            self._link = {"href": href, "text": "", "block": self._open[-1] if self._open else {"text": ""}}

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append(self._link)
            self._link = None
        if tag in ("li", "figcaption") and self._open:
            self._open.pop()

    def handle_data(self, data):
        for block in self._open:
            block["text"] += data
        if self._link is not None:
            self._link["text"] += data


def _page_links(client, query) -> list[dict]:
    parser = _Links()
    parser.feed(client.get(PAGE, query).content.decode())
    return parser.links


def _csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode())))


def _unique(header) -> list:
    header = list(header)
    assert len(header) == len(set(header)), f"repeated column names in {header}"
    return header


def _sheets(content: bytes) -> dict[str, list[tuple]]:
    book = load_workbook(io.BytesIO(content))
    sheets = {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    for rows in sheets.values():
        _unique(rows[0])
    return sheets


def _check_tables(what: str, ext: str, content: bytes) -> None:
    if (what, ext) == ("outcomes", "xlsx"):
        sheets = _sheets(content)
        assert list(sheets) == list(SHEET_TITLES.values())
        assert "statistic" in sheets["Comparison"][0] and "arm" in sheets["Per arm"][0]
    elif (what, ext) == ("outcomes", "zip"):
        archive = zipfile.ZipFile(io.BytesIO(content))
        assert sorted(archive.namelist()) == sorted(f"{name}.csv" for name in SHEET_TITLES)
        for name in archive.namelist():
            _unique(_csv(archive.read(name))[0])
    elif (what, ext) == ("per_arm", "csv"):
        header, *rows = _csv(content)
        assert {"visit", "arm", "n", "not_yet_due", "missing"} <= set(_unique(header))
        assert {r[header.index("arm")] for r in rows} == {"BoNT-A", "Control"}
    elif (what, ext) == ("comparison", "csv"):
        header, *rows = _csv(content)
        assert {"visit", "statistic", "estimate", "ci_low", "ci_high", "p"} <= set(_unique(header))
        assert any(r[header.index("statistic")].endswith("(primary)") for r in rows)
        assert not any(r[header.index("statistic")].startswith("Responders a ") for r in rows)
    elif (what, ext) == ("table1", "csv"):
        header, *rows = _csv(content)
        assert _unique(header)[:2] == ["characteristic", "level"]
        assert rows[0][0] == "Patients randomized"
    elif (what, ext) == ("table1", "xlsx"):
        sheets = _sheets(content)
        assert list(sheets) == ["Table 1"], "the Table 1 workbook holds Table 1, not the comparison workbook"
        assert sheets["Table 1"][1][0] == "Patients randomized"
    elif (what, ext) == ("dataset", "csv"):
        assert _unique(_csv(content)[0]) == list(COLUMN_NAMES)
    elif (what, ext) == ("dictionary", "csv"):
        assert _unique(_csv(content)[0])[0] == "variable"
    elif (what, ext) == ("dictionary", "json"):
        assert json.loads(content)[0]["variable"] == "patient"
    else:
        pytest.fail(f"no check for {what}.{ext}: say here what its file must hold")


# What the words around each link (its list item, or its figure's caption) must name, so that a link
# says what its file holds.
LINK_WORDS = {
    "outcomes": "Outcome tables",
    "per_arm": "Per arm",
    "comparison": "comparison",
    "table1": "Table 1",
    "dataset": "dataset",
    "dictionary": "dictionary",
    "means": "per arm across visits",
    "waterfall": "Change from baseline per patient",
    "strip": "Values per arm",
    "scatter": "(Spearman)",
    "consort": "CONSORT flow",
}
# Text each figure's SVG contains.
FIGURE_WORDS = {
    "means": "Visit (days since enrollment",
    "waterfall": "sorted by change",
    "strip": "Arm, at",
    "scatter": "Spearman",
    "consort": "CONSORT flow",
}


@pytest.mark.parametrize("metric", ["commissure_height_deviation_mm", "house_brackmann"])
def test_every_download_on_the_page_opens_with_unique_columns_and_what_its_link_says(
    login, investigator, measured, metric
):
    client = login(investigator)
    query = {"metric": metric, "expression": "smile_closed", "visit": "week-12"}
    links = _page_links(client, query)
    offered = set()
    for link in links:
        what, ext = urlsplit(link["href"]).path.removeprefix(FILES).split(".")
        offered.add((what, ext))
        assert ext.upper() in link["text"].upper(), link
        assert LINK_WORDS[what].lower() in link["block"]["text"].lower(), link
        response = client.get(link["href"])
        assert response.status_code == 200, (link, response.content[:200])
        assert (
            response["Content-Disposition"].startswith("attachment;") and f'.{ext}"' in response["Content-Disposition"]
        ), link
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if ext == "svg":
            root = ET.fromstring(content)
            assert root.tag.endswith("svg") and FIGURE_WORDS[what] in content.decode(), what
        elif ext == "png":
            assert content.startswith(b"\x89PNG")
        else:
            _check_tables(what, ext, content)
    assert set(LINK_WORDS) == set(FILE_KINDS) and set(FIGURE_WORDS) == set(PLOT_TITLES)
    every_kind = {(what, ext) for what, exts in FILE_KINDS.items() for ext in exts}
    assert offered == every_kind, f"files served but not linked: {every_kind - offered}"
