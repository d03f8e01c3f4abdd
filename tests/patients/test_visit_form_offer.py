"""The record-visit form offers only the visits that can be recorded now, states the window once,
and writes a study outcome's range in one number format (issue 21, item 11)."""

import re
from datetime import timedelta

import pytest

from patients import services
from patients.models import StudyOutcome
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def randomized(site_a, coordinator_a, bont_arm, data_manager):
    """Enrolled 16 days ago: baseline recorded, week 2 open, week 4 and week 12 not yet open."""
    patient = make_patient(site_a, coordinator_a, enrolled_days_ago=16)
    services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Test set-up")
    patient.refresh_from_db()
    services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=0),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
    )
    return patient


def _offered(page: str) -> list[str]:
    select = re.search(r'<select name="scheduled_visit".*?</select>', page, re.S).group(0)
    return [label for value, label in re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', select) if value]


def test_only_visits_that_can_be_recorded_now_are_offered(login, coordinator_a, randomized):
    page = login(coordinator_a).get(f"/patients/{randomized.pk}/visits/new/").content.decode()
    assert _offered(page) == ["Week 2"]  # not the baseline (done), not weeks 4 and 12 (not open)


@pytest.mark.parametrize(
    "code, reason",
    [
        ("baseline", "Baseline was already recorded on"),
        ("week-4", "The window of Week 4 opens on"),
    ],
)
def test_a_visit_not_offered_is_refused_with_its_reason(login, coordinator_a, randomized, code, reason):
    scheduled = randomized.study.schedule.get(code=code)
    response = login(coordinator_a).post(
        f"/patients/{randomized.pk}/visits/new/",
        {
            "scheduled_visit": scheduled.pk,
            "date_performed": randomized.enrollment_date.isoformat(),
            "protocol_deviation_reason": "Came early",
        },
    )
    assert response.status_code == 200
    assert reason in " ".join(response.context["form"].errors["scheduled_visit"])
    assert randomized.visits.count() == 1


def test_the_timeline_link_to_a_visit_not_offered_says_why(login, coordinator_a, randomized):
    week_4 = randomized.study.schedule.get(code="week-4")
    page = login(coordinator_a).get(f"/patients/{randomized.pk}/visits/new/?scheduled={week_4.pk}").content.decode()
    assert "The window of Week 4 opens on" in page


def test_the_out_of_window_message_is_shown_once(login, coordinator_a, randomized):
    week_2 = randomized.study.schedule.get(code="week-2")
    early = randomized.enrollment_date + timedelta(days=2)
    client = login(coordinator_a)
    refused = client.post(
        f"/patients/{randomized.pk}/visits/new/", {"scheduled_visit": week_2.pk, "date_performed": early.isoformat()}
    ).content.decode()
    assert refused.count("window (") + refused.count("Outside the window") == 1
    # With a reason the date is allowed, but another field is wrong: the warning stands alone.
    warned = client.post(
        f"/patients/{randomized.pk}/visits/new/",
        {"scheduled_visit": week_2.pk, "date_performed": early.isoformat(), "protocol_deviation_reason": "Ill",
         "sunnybrook_composite": "140"},
    ).content.decode()  # fmt: skip
    assert warned.count("is outside this visit&#x27;s window") == 1
    assert 'id="id_date_performed_warning"' in warned


def test_a_study_outcomes_range_reads_the_same_in_help_and_error(login, coordinator_a, randomized, study):
    StudyOutcome.objects.create(study=study, code="face", name="FaCE", unit="points", min_value=0, max_value=100)
    week_2 = randomized.study.schedule.get(code="week-2")
    response = login(coordinator_a).post(
        f"/patients/{randomized.pk}/visits/new/",
        {"scheduled_visit": week_2.pk, "date_performed": (randomized.enrollment_date + timedelta(days=14)).isoformat(),
         "outcome_face": "-1"},
    )  # fmt: skip
    field = response.context["form"]["outcome_face"]
    assert field.help_text == "0 to 100"
    assert "greater than or equal to 0." in " ".join(field.errors)
    page = response.content.decode()
    assert "1E+2" not in page and "0.0000" not in page
