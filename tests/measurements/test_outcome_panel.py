"""The compact outcome panel of the patient page, and past visits' empty photo slots folded away."""

from datetime import timedelta
from xml.etree import ElementTree

import pytest

from measurements import trend
from patients import services as patient_services

from .test_patient_page_photos import photo_section, score


def test_change_and_percent_correction_against_baseline():
    points = trend.against_baseline([("Baseline", 4.0), ("Week 2", None), ("Week 4", 1.0), ("Week 12", 5.0)])
    assert [p.change for p in points] == [None, None, -3.0, 1.0]
    assert [p.percent_correction for p in points] == [None, None, 75.0, -25.0]


def test_no_percent_correction_without_a_baseline_deviation():
    assert trend.percent_correction(0.0, 1.0) is None
    assert trend.percent_correction(None, 1.0) is None


def test_sparkline_is_valid_svg_without_style_attributes_and_breaks_at_gaps():
    points = trend.against_baseline([("Baseline", 4.0), ("Week 2", 3.0), ("Week 4", None), ("Week 12", 1.0)])
    svg = trend.sparkline_svg(points, title="Commissure height deviation, Rest <x>")
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 3
    assert len(root.findall(f"{ns}polyline")) == 1  # the lone last point is not joined across the gap
    assert "style=" not in svg
    assert "Rest &lt;x&gt;" in svg
    assert "Week 4 no score" in root.find(f"{ns}title").text


def _follow_up(patient, by, days):
    return patient_services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=days),
        by=by,
        date_performed=patient.enrollment_date + timedelta(days=days),
    )


@pytest.fixture
def two_visits(patient_a, coordinator_a, visit_a, add_photo):
    week_2 = _follow_up(patient_a, coordinator_a, 14)
    score(add_photo(expression="smile_closed"), deviation=4.0)
    score(add_photo(expression="smile_closed", visit=week_2), deviation=1.0)
    score(add_photo(expression="rest"), deviation=2.0)
    return visit_a, week_2


@pytest.mark.django_db
def test_patient_page_shows_the_outcome_panel(client, coordinator_a, patient_a, two_visits):
    client.force_login(coordinator_a)
    page = client.get(f"/patients/{patient_a.pk}/").content.decode()
    panel = page[page.index('<section id="outcomes"') : page.index("</section>", page.index('<section id="outcomes"'))]
    assert "Closed-lip smile" in panel and "Rest" in panel
    assert "Broad smile" not in panel  # no photo of it at any visit
    assert "-3.0" in panel and "75 %" in panel
    assert panel.count('<svg class="sparkline"') == 2
    assert 'style="' not in panel


@pytest.mark.django_db
def test_no_panel_before_any_photo_is_scored(client, coordinator_a, patient_a, visit_a):
    client.force_login(coordinator_a)
    assert 'id="outcomes"' not in client.get(f"/patients/{patient_a.pk}/").content.decode()


@pytest.mark.django_db
def test_past_visits_fold_their_empty_slots(client, coordinator_a, patient_a, two_visits):
    client.force_login(coordinator_a)
    section = photo_section(client.get(f"/patients/{patient_a.pk}/").content.decode())
    baseline, latest = section.split('aria-label="Photos of Week 2"')
    assert "6 expressions without a photo" in baseline  # 8 slots, 2 photos
    assert '<details class="empty-slots">' in baseline
    assert "without a photo</summary>" not in latest  # the visit being worked on shows every slot
    assert latest.count("No photo") == 7
