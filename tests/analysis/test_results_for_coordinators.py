"""Coordinators see a study's outcome results only once it is closed (its database locked) and a
data manager has opened them; before, between-arm results would bias the people who collect data."""

import pytest
from django.utils.html import escape

from analysis.selectors import COORDINATOR_REFUSAL
from patients import services

PAGE = "/studies/FACE-1/outcomes/"
API = "/api/v1/studies/FACE-1/summary/"
QUERY = {"metric": "commissure_height_deviation_mm", "expression": "smile_closed", "visit": "week-12"}
DOWNLOADS = ["/studies/FACE-1/outcomes/files/comparison.csv", "/studies/FACE-1/outcomes/files/means.svg"]


def _set_results_open(study, by, value: bool):
    # What the admin's form does: an audited save with a reason.
    study.refresh_from_db()
    study.results_open_to_coordinators = value
    services.common.save_audited(study, by=by, reason="Results for the sites")


def _close(study, by):
    services.study_close(study=study, by=by, reason="Database lock")


def _status(client, url) -> int:
    return client.get(url, QUERY).status_code


def test_a_running_study_s_results_are_closed_to_coordinators_even_when_opened(
    login, study, coordinator_a, data_manager, measured
):
    _set_results_open(study, data_manager, True)  # takes effect only once closed
    client = login(coordinator_a)
    response = client.get(PAGE, QUERY)
    assert response.status_code == 403
    assert escape(COORDINATOR_REFUSAL) in response.content.decode()
    assert "only once the study is closed" in COORDINATOR_REFUSAL and "a data manager allows it" in COORDINATOR_REFUSAL
    assert all(_status(client, url) == 403 for url in DOWNLOADS)
    assert 'href="/outcomes/"' not in client.get("/").content.decode()
    api = client.get(API, QUERY)
    assert api.status_code == 403 and api.json()["error"]["message"] == COORDINATOR_REFUSAL


def test_a_closed_study_s_results_stay_closed_to_coordinators_without_the_setting(
    login, study, coordinator_a, data_manager, measured
):
    _close(study, data_manager)
    client = login(coordinator_a)
    assert _status(client, PAGE) == 403
    assert _status(client, API) == 403
    assert all(_status(client, url) == 403 for url in DOWNLOADS)
    assert 'href="/outcomes/"' not in client.get("/").content.decode()


def test_a_closed_study_with_results_opened_shows_them_to_its_coordinators(
    login, study, coordinator_a, coordinator_b, data_manager, measured
):
    _close(study, data_manager)
    _set_results_open(study, data_manager, True)
    for coordinator in (coordinator_a, coordinator_b):
        client = login(coordinator)
        page = client.get(PAGE, QUERY)
        assert page.status_code == 200
        assert "Between arms at Week 12" in page.content.decode()
        assert "Import study-defined outcome values" not in page.content.decode()
        assert all(_status(client, url) == 200 for url in DOWNLOADS)
        home = client.get("/")
        assert 'href="/outcomes/"' in home.content.decode()
        assert client.get("/outcomes/").url == PAGE
        # The JSON follows the page's rule, with the page's numbers.
        assert client.get(API, QUERY).status_code == 200
    # Reopened, the study's results close to its coordinators again, whatever the setting.
    services.study_reopen(study=study, by=data_manager, reason="A late correction")
    assert _status(login(coordinator_a), PAGE) == 403
    assert _status(login(coordinator_a), API) == 403


def test_another_study_s_coordinator_is_told_nothing(login, study, data_manager, measured):
    from tests.conftest import _persona

    other = services.study_set_up(code="OTHER-1", title="Another study", sites=[("OXF", "Oxford")])
    outsider_coordinator = _persona(other, "coord_oxf", "coordinator", "OXF")
    _close(study, data_manager)
    _set_results_open(study, data_manager, True)
    assert _status(login(outsider_coordinator), PAGE) == 404


@pytest.mark.parametrize("closed", [False, True])
def test_investigators_and_data_managers_are_unchanged(login, study, investigator, data_manager, measured, closed):
    if closed:
        _close(study, data_manager)
    for user in (investigator, data_manager):
        client = login(user)
        assert _status(client, PAGE) == 200
        assert _status(client, API) == 200
        assert all(_status(client, url) == 200 for url in DOWNLOADS)
