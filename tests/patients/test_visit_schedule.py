"""Visit windows: what the form states, which visits may be recorded, and what counts as missed."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from patients import schedule, services
from patients.schedule import Window
from tests.conftest import make_patient

TODAY = date(2026, 6, 15)
WINDOW = Window(earliest=date(2026, 6, 10), target=date(2026, 6, 14), latest=date(2026, 6, 20))


@pytest.mark.parametrize(
    ("today", "state"),
    [
        (date(2026, 6, 9), schedule.UPCOMING),
        (date(2026, 6, 10), schedule.DUE),
        (date(2026, 6, 14), schedule.DUE),
        (date(2026, 6, 15), schedule.OVERDUE),
        (date(2026, 6, 20), schedule.OVERDUE),
        (date(2026, 6, 21), schedule.MISSED),
    ],
)
def test_state_follows_the_window(today, state):
    assert schedule.visit_state(window=WINDOW, recorded=False, today=today) == state


def test_recorded_closed_and_not_enrolled_states():
    assert schedule.visit_state(window=WINDOW, recorded=True, today=TODAY) == schedule.DONE
    assert schedule.visit_state(window=None, recorded=False, today=TODAY) == schedule.NOT_ENROLLED
    assert schedule.visit_state(window=WINDOW, recorded=False, today=TODAY, patient_closed=True) == schedule.CLOSED


def test_only_recordable_visits_are_offered():
    ok = dict(is_baseline=False, baseline_recorded=True, randomized=True, accepts_data=True)
    assert schedule.may_record(schedule.OVERDUE, **ok)
    assert schedule.may_record(schedule.MISSED, **ok)  # late, with a deviation reason
    assert not schedule.may_record(schedule.UPCOMING, **ok)
    assert not schedule.may_record(schedule.DUE, **{**ok, "baseline_recorded": False})
    assert schedule.may_record(schedule.DUE, **{**ok, "is_baseline": True, "baseline_recorded": False})
    assert not schedule.may_record(schedule.DUE, **{**ok, "randomized": False})
    assert not schedule.may_record(schedule.DUE, **{**ok, "accepts_data": False})


def test_window_text():
    assert schedule.window_text(WINDOW) == "Target date 2026-06-14; window 2026-06-10 to 2026-06-20."
    one_day = Window(TODAY, TODAY, TODAY)
    assert schedule.window_text(one_day) == "Target date 2026-06-15; the window is that day only."


# --- Pages -----------------------------------------------------------------------------------------


@pytest.fixture
def randomized(site_a, coordinator_a, bont_arm, data_manager):
    """Enrolled 20 days ago, in the BoNT-A arm: baseline window closed, week 2 overdue (target day 14, +3)."""
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=16)
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    return patient


def _record_baseline(patient, by):
    return services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=0),
        by=by,
        date_performed=patient.enrollment_date,
    )


@pytest.mark.django_db
def test_visit_form_states_the_window_of_the_linked_visit_without_javascript(login, coordinator_a, randomized):
    _record_baseline(randomized, coordinator_a)  # week 2 is offered once the baseline is recorded
    week_2 = randomized.study.schedule.get(day_offset=14)
    target = randomized.enrollment_date + timedelta(days=14)
    page = login(coordinator_a).get(f"/patients/{randomized.pk}/visits/new/?scheduled={week_2.pk}").content.decode()
    assert f"Target date {target:%Y-%m-%d}; window {target - timedelta(days=3):%Y-%m-%d}" in page
    assert f'data-target="{target:%Y-%m-%d}"' in page  # every option carries its window for the script
    assert "js/visit-window.js" in page


@pytest.mark.django_db
def test_visit_form_asks_to_choose_when_no_visit_is_linked(login, coordinator_a, randomized):
    page = login(coordinator_a).get(f"/patients/{randomized.pk}/visits/new/").content.decode()
    assert "Choose a visit to see its target date and window." in page


@pytest.mark.django_db
def test_out_of_window_date_is_refused_with_the_window_beside_the_visit(login, coordinator_a, randomized):
    _record_baseline(randomized, coordinator_a)
    week_2 = randomized.study.schedule.get(day_offset=14)
    early = randomized.enrollment_date + timedelta(days=2)
    response = login(coordinator_a).post(
        f"/patients/{randomized.pk}/visits/new/",
        {"scheduled_visit": week_2.pk, "date_performed": early.isoformat()},
    )
    page = response.content.decode()
    assert "To record it anyway, give a protocol-deviation reason." in page
    # The service's error says it; the page's own warning does not repeat it (issue 21, item 11).
    assert f"{early:%Y-%m-%d} is outside this visit&#x27;s window" not in page


@pytest.mark.django_db
def test_edit_form_states_the_window_by_the_date(login, coordinator_a, randomized):
    visit = _record_baseline(randomized, coordinator_a)
    page = login(coordinator_a).get(f"/patients/{randomized.pk}/visits/{visit.pk}/edit/").content.decode()
    assert f"Target date {randomized.enrollment_date:%Y-%m-%d}" in page


def _record_links(client, patient):
    response = client.get(f"/patients/{patient.pk}/")
    return {row.scheduled.code: row.can_record for row in response.context["timeline"]}, response.content.decode()


@pytest.mark.django_db
def test_follow_ups_offered_only_after_the_baseline(login, coordinator_a, randomized):
    client = login(coordinator_a)
    links, page = _record_links(client, randomized)
    assert links["baseline"] and not links["week-2"]
    assert "Record late" in page  # the baseline's window has closed
    _record_baseline(randomized, coordinator_a)
    links, _ = _record_links(client, randomized)
    assert links["week-2"] and not links["week-4"]  # week 4 not open yet


@pytest.mark.django_db
def test_nothing_offered_for_a_never_randomized_patient(login, coordinator_a, patient_a):
    links, page = _record_links(login(coordinator_a), patient_a)
    assert not any(links.values())
    assert f"/patients/{patient_a.pk}/visits/new/" not in page


@pytest.mark.django_db
def test_missed_window_leaves_the_overdue_list_and_is_counted(login, coordinator_a, randomized):
    board = login(coordinator_a).get("/").context["dashboard"]
    assert [(d.patient, d.scheduled.code) for d in board.missed] == [(randomized, "baseline")]
    assert board.overdue == []  # week 2 waits for the baseline
    _record_baseline(randomized, coordinator_a)
    board = login(coordinator_a).get("/").context["dashboard"]
    assert [(d.patient, d.scheduled.code) for d in board.overdue] == [(randomized, "week-2")]
    assert board.missed == []
    timeline = {
        r.scheduled.code: r.state for r in login(coordinator_a).get(f"/patients/{randomized.pk}/").context["timeline"]
    }
    assert timeline["week-2"] == schedule.OVERDUE


@pytest.mark.django_db
def test_never_randomized_patients_stay_off_the_overdue_list(login, coordinator_a, site_a):
    make_patient(site_a, coordinator_a, enrolled_days_ago=200)
    board = login(coordinator_a).get("/").context["dashboard"]
    assert board.overdue == [] and board.due == [] and board.missed == []


@pytest.mark.django_db
def test_a_missed_visit_shows_as_missed_on_the_timeline(login, coordinator_a, randomized):
    timeline = login(coordinator_a).get(f"/patients/{randomized.pk}/").context["timeline"]
    baseline = timeline[0]
    assert baseline.state == schedule.MISSED and baseline.state_label == "Missed"
    assert timezone.localdate() > baseline.latest


@pytest.mark.django_db
def test_study_missed_visits_for_the_outcome_tables(study, randomized, coordinator_a, site_a):
    from patients.selectors import study_missed_visits

    make_patient(site_a, coordinator_a, enrolled_days_ago=200)  # never randomized: not followed up
    assert [(d.patient, d.scheduled.code) for d in study_missed_visits(study)] == [(randomized, "baseline")]
    _record_baseline(randomized, coordinator_a)
    later = timezone.localdate() + timedelta(days=30)  # week 2 (day 14 + 3) and week 4 (day 28 + 7) closed by then
    codes = [d.scheduled.code for d in study_missed_visits(study, today=later)]
    assert codes == ["week-2", "week-4"]
    services.patient_complete(patient=randomized, by=coordinator_a)
    assert [d.scheduled.code for d in study_missed_visits(study, today=later)] == ["week-2", "week-4"]
