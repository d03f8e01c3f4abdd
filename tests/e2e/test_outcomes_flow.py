"""An investigator in a real browser: opens the outcomes page, switches metric and visit, downloads
the XLSX and an SVG figure, and both files open."""

import re
import xml.etree.ElementTree as ET

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.analysis.conftest import trial  # noqa: F401 - the fixture that builds measured patients
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_investigator_switches_outcome_and_downloads(live_server, page, screenshot, investigator, trial, tmp_path):  # noqa: F811
    for base, follow in ((3.5, 1.5), (3.0, 1.0), (4.0, 2.5)):
        trial.measured("bont-a", {"baseline": base, "week-4": base - 0.5, "week-12": follow})
    for base, follow in ((3.0, 2.8), (3.2, 3.3), (3.8, 3.0)):
        trial.measured("control", {"baseline": base, "week-4": base, "week-12": follow})

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(investigator.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Outcomes").click()
    expect(page.get_by_role("heading", name="Per arm and visit")).to_be_visible()
    expect(page.locator("#ancova")).to_contain_text("95% CI")

    page.get_by_label("Metric", exact=True).select_option("commissure_height_signed_mm")
    page.get_by_label("Visit", exact=True).select_option("week-4")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="Between arms at Week 4")).to_be_visible()
    expect(page.locator("#table-source")).to_contain_text("Commissure height, signed")
    screenshot("01-outcomes-week-4")

    with page.expect_download() as xlsx_download:
        page.locator("#download-links").get_by_role("link", name="XLSX").first.click()
    xlsx = tmp_path / xlsx_download.value.suggested_filename
    xlsx_download.value.save_as(xlsx)
    assert xlsx.name.startswith("FACE-1_outcomes_commissure_height_signed_mm_smile_closed_")
    book = load_workbook(xlsx)
    assert "Per arm" in book.sheetnames and "Methods and exclusions" in book.sheetnames

    with page.expect_download() as svg_download:
        page.locator("figure").first.get_by_role("link", name="SVG").click()
    svg = tmp_path / svg_download.value.suggested_filename
    svg_download.value.save_as(svg)
    root = ET.parse(svg).getroot()
    text = ET.tostring(root, encoding="unicode")
    assert root.tag.endswith("svg") and "BoNT-A" in text and "Control" in text


def _fills(svg_text: str) -> dict[str, dict]:
    """Each arm's legend swatch fill and the set of its bars' fills, from the SVG's element ids."""
    fill_of = {}
    for element in ET.fromstring(svg_text).iter():
        path = next((p for p in element.iter() if p.tag.endswith("path")), None)
        if element.get("id") and path is not None:
            match = re.search(r"fill:\s*(#[0-9a-fA-F]{6})", path.get("style", ""))
            fill_of[element.get("id")] = match.group(1).lower() if match else None
    out = {}
    for id_, fill in fill_of.items():
        if id_.startswith("legend-"):
            arm = id_.removeprefix("legend-")
            bars = {f for i, f in fill_of.items() if i.startswith(f"bar-{arm}-")}
            out[arm] = {"swatch": fill, "bars": bars}
    return out


def test_waterfall_legend_colours_match_the_bars(live_server, page, investigator, trial):  # noqa: F811
    for base, follow in ((3.5, 1.5), (3.0, 1.0)):
        trial.measured("bont-a", {"baseline": base, "week-12": follow})
    for base, follow in ((3.0, 2.8), (3.2, 3.3)):
        trial.measured("control", {"baseline": base, "week-12": follow})
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(investigator.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Outcomes").click()
    page.get_by_label("Visit", exact=True).select_option(label="Week 12")
    page.get_by_role("button", name="Show").click()
    source = page.get_by_role("img", name="Change from baseline per patient").get_attribute("src")
    # The figure the browser shows, fetched by the browser (opened as a page of its own, the SVG's inline
    # styles would be refused by the site's Content-Security-Policy), read as SVG.
    fills = _fills(page.evaluate("async (source) => (await fetch(source)).text()", source))
    assert set(fills) == {"bont-a", "control"}
    for arm, seen in fills.items():
        assert seen["bars"] == {seen["swatch"]}, (arm, seen)
    assert fills["bont-a"]["swatch"] != fills["control"]["swatch"]
