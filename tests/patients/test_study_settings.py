"""A running study's settings: once a patient has an arm, what decides the allocation is locked (admin
and services); a schedule change shows its effect on recorded visits before it is saved, with a reason;
the allocation list is downloaded by the study's data managers only, and every download is recorded."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from patients import services
from patients.admin_study import EFFECT_CONFIRMED, EFFECT_SEEN
from patients.models import AllocationListDownload, RandomizationSlot, ScheduledVisit, Site, TreatmentArm
from tests.conftest import _persona, make_patient
from tests.patients.admin_forms import change_form_data

LOCKED = "Locked: 1 patient has been allocated"


@pytest.fixture
def dm_client(client, data_manager):
    client.force_login(data_manager)
    return client


@pytest.fixture
def randomized(patient_a, coordinator_a):
    services.patient_randomize(patient=patient_a, by=coordinator_a)
    patient_a.refresh_from_db()
    return patient_a


# --- The allocation lock: the services ----------------------------------------------------------


def test_before_the_first_allocation_the_settings_can_change(study, bont_arm, site_a, data_manager):
    bont_arm.allocation_weight = 2
    services.study_setting_save(instance=bont_arm, by=data_manager, reason="2:1 after the protocol review")
    assert TreatmentArm.objects.get(pk=bont_arm.pk).allocation_weight == 2
    site_a.code = "LDN"
    services.study_setting_save(instance=site_a, by=data_manager, reason="Site renamed before start")


@pytest.mark.parametrize(
    ("change", "field", "what"),
    [
        (lambda study, arm, site: setattr(arm, "allocation_weight", 2) or arm, "allocation_weight", "weight"),
        (lambda study, arm, site: setattr(arm, "code", "botox") or arm, "code", "code"),
        (lambda study, arm, site: setattr(site, "code", "LDN") or site, "code", "code"),
        (lambda study, arm, site: setattr(study, "randomization", "external") or study, "randomization", "random"),
    ],
)
def test_after_the_first_allocation_the_allocation_is_locked(
    randomized, study, bont_arm, site_a, data_manager, change, field, what
):
    instance = change(study, bont_arm, site_a)
    with pytest.raises(ValidationError) as error:
        services.study_setting_save(instance=instance, by=data_manager, reason="Mid-trial change")
    message = " ".join(error.value.message_dict[field])
    assert LOCKED in message and what in message and "concealed allocation list" in message
    stored = type(instance).objects.get(pk=instance.pk)
    assert getattr(stored, field) != getattr(instance, field)


def test_after_the_first_allocation_no_arm_is_added(randomized, study, data_manager):
    arm = TreatmentArm(study=study, code="high-dose", name="High dose")
    with pytest.raises(ValidationError, match=f"{LOCKED}, and a new arm would change"):
        services.study_setting_save(instance=arm, by=data_manager, reason="")
    assert study.arms.count() == 2


def test_what_does_not_decide_the_allocation_still_changes_with_a_reason(randomized, bont_arm, site_a, data_manager):
    site_a.name = "London, Queen Square"
    with pytest.raises(ValidationError, match="Give a reason"):
        services.study_setting_save(instance=site_a, by=data_manager, reason="")
    services.study_setting_save(instance=site_a, by=data_manager, reason="The hospital's new name")
    assert Site.objects.get(pk=site_a.pk).name == "London, Queen Square"
    assert site_a.history.latest("history_id").history_change_reason == "The hospital's new name"


def test_an_old_version_of_the_study_never_brings_back_a_blank_seed(randomized, study, data_manager):
    first = study.history.earliest("history_id").instance  # as set up: no seed yet
    assert first.randomization_seed == ""
    first._state.adding = False  # as the history's version page brings it back
    first.title = "Renamed"
    services.study_setting_save(instance=first, by=data_manager, reason="Title")
    study.refresh_from_db()
    assert study.title == "Renamed" and len(study.randomization_seed) == 64


# --- The allocation lock: the admin ---------------------------------------------------------------


def test_the_admin_shows_the_allocation_fields_read_only_once_allocated(dm_client, randomized, study, bont_arm):
    arm_url = f"/admin/patients/treatmentarm/{bont_arm.pk}/change/"
    fields = dm_client.get(arm_url).context["adminform"].form.fields
    assert "allocation_weight" not in fields and "code" not in fields and "name" in fields
    data = change_form_data(dm_client, arm_url, allocation_weight="3", name="Botox", change_reason="Renamed")
    assert dm_client.post(arm_url, data).status_code == 302
    bont_arm.refresh_from_db()
    assert (bont_arm.allocation_weight, bont_arm.name) == (1, "Botox")

    page = dm_client.get(f"/admin/patients/study/{study.pk}/change/")
    assert "1 patient allocated: the randomization mode, the arms" in page.content.decode()
    assert "randomization" not in page.context["adminform"].form.fields
    inlines = {inline.formset.model: inline for inline in page.context["inline_admin_formsets"]}
    for model, locked in ((TreatmentArm, {"code", "allocation_weight"}), (Site, {"code"})):
        form = inlines[model].formset.forms[0]
        assert not locked & set(form.fields), model
        assert inlines[model].has_add_permission is False, model


def test_a_new_arm_posted_to_the_admin_is_refused_beside_the_form(dm_client, randomized, study):
    data = {"study": str(study.pk), "code": "high", "name": "High dose", "allocation_weight": "1", "change_reason": ""}
    response = dm_client.post("/admin/patients/treatmentarm/add/", data)
    assert response.status_code == 200
    assert LOCKED in str(response.context["adminform"].form.errors)
    assert study.arms.count() == 2


def test_the_study_history_s_revert_is_refused(dm_client, study):
    version = study.history.earliest("history_id")
    url = f"/admin/patients/study/{study.pk}/history/{version.history_id}/"
    assert dm_client.get(url).status_code == 200
    assert dm_client.post(url, {"code": "FACE-1", "title": "Back"}).status_code == 403


# --- Schedule changes show their effect first ----------------------------------------------------------


@pytest.fixture
def week_2_visits(study, site_a, coordinator_a):
    """Three patients seen at week 2: on target (day 14), two days late (day 16), and five days late
    (day 19, outside the ±3-day window, with a deviation reason)."""
    week_2 = study.schedule.get(code="week-2")
    for number, day in enumerate((14, 16, 19)):
        patient = make_patient(site_a, coordinator_a, enrolled_days_ago=40, mrn=f"W2-{number}")
        services.visit_record(
            patient=patient,
            scheduled_visit=study.schedule.get(code="baseline"),
            by=coordinator_a,
            date_performed=patient.enrollment_date,
        )
        services.visit_record(
            patient=patient,
            scheduled_visit=week_2,
            by=coordinator_a,
            date_performed=patient.enrollment_date + timedelta(days=day),
            protocol_deviation_reason="Patient away" if day == 19 else "",
        )
    return week_2


def test_a_schedule_change_says_which_recorded_visits_it_moves(week_2_visits):
    week_2_visits.window_after_days = 5  # day 16 stays in, day 19 comes in
    stored = ScheduledVisit.objects.get(pk=week_2_visits.pk)
    effect = services.schedule_change_effect(scheduled_visit=week_2_visits, stored=stored)
    assert (effect.recorded, effect.in_to_out, effect.out_to_in) == (3, 0, 1)
    week_2_visits.window_after_days = 1  # day 16 goes out
    effect = services.schedule_change_effect(scheduled_visit=week_2_visits, stored=stored)
    assert effect.text == (
        "1 visit changes from in-window to out-of-window and 0 from out-of-window to in-window, "
        "of the 3 recorded Week 2 visits."
    )


def test_the_service_saves_a_schedule_change_only_with_the_effect_seen(week_2_visits, data_manager):
    week_2_visits.window_after_days = 1
    with pytest.raises(ValidationError, match="1 visit changes from in-window to out-of-window"):
        services.study_setting_save(instance=week_2_visits, by=data_manager, reason="Tighter window")
    assert ScheduledVisit.objects.get(pk=week_2_visits.pk).window_after_days == 3
    effect = services.schedule_change_effect(
        scheduled_visit=week_2_visits, stored=ScheduledVisit.objects.get(pk=week_2_visits.pk)
    )
    services.study_setting_save(
        instance=week_2_visits, by=data_manager, reason="Tighter window", schedule_effect_seen=effect.text
    )
    assert ScheduledVisit.objects.get(pk=week_2_visits.pk).window_after_days == 1


def test_the_admin_shows_a_schedule_change_s_effect_before_saving_it(dm_client, week_2_visits, data_manager):
    url = f"/admin/patients/scheduledvisit/{week_2_visits.pk}/change/"
    data = change_form_data(dm_client, url, window_after_days="1")
    response = dm_client.post(url, data)
    assert "Give a reason" in str(response.context["adminform"].form.errors)

    data["change_reason"] = "Protocol amendment 3: tighter week-2 window"
    response = dm_client.post(url, data)
    assert response.status_code == 200
    errors = str(response.context["adminform"].form.errors)
    assert "1 visit changes from in-window to out-of-window and 0 from out-of-window to in-window" in errors
    assert ScheduledVisit.objects.get(pk=week_2_visits.pk).window_after_days == 3
    shown = response.context["adminform"].form[EFFECT_SEEN].value()
    assert shown.startswith("1 visit changes")

    # Confirmed, but for another change than the one shown: shown again, nothing saved.
    other = {**data, "window_after_days": "6", EFFECT_SEEN: shown, EFFECT_CONFIRMED: "on"}
    errors = str(dm_client.post(url, other).context["adminform"].form.errors)
    assert "0 visits change from in-window to out-of-window and 1 from out-of-window to in-window" in errors
    assert ScheduledVisit.objects.get(pk=week_2_visits.pk).window_after_days == 3

    confirmed = {**data, EFFECT_SEEN: shown, EFFECT_CONFIRMED: "on"}
    assert dm_client.post(url, confirmed).status_code == 302
    week_2_visits.refresh_from_db()
    assert week_2_visits.window_after_days == 1
    row = week_2_visits.history.latest("history_id")
    assert (row.history_user, row.history_change_reason) == (
        data_manager,
        "Protocol amendment 3: tighter week-2 window",
    )


def test_the_study_page_s_schedule_rows_are_read_only_once_visits_are_recorded(dm_client, study, week_2_visits):
    page = dm_client.get(f"/admin/patients/study/{study.pk}/change/")
    schedule = next(i for i in page.context["inline_admin_formsets"] if i.formset.model is ScheduledVisit)
    assert not {"day_offset", "window_before_days", "window_after_days"} & set(schedule.formset.forms[0].fields)


# --- The allocation list, for its data managers -------------------------------------------------------


def test_the_data_manager_downloads_the_allocation_list_and_the_download_is_recorded(
    dm_client, randomized, study, data_manager
):
    page = dm_client.get(f"/admin/patients/study/{study.pk}/change/").content.decode()
    url = f"/admin/patients/study/{study.pk}/allocation-list.csv"
    assert f'href="{url}"' in page
    response = dm_client.get(url)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"].startswith('attachment; filename="FACE-1-allocation-list-')
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == RandomizationSlot.objects.filter(stratum__study=study).count()
    allocated = [row for row in rows if row["study_code"]]
    assert allocated == [
        {
            **allocated[0],
            "study_code": randomized.study_code,
            "arm_code": randomized.arm.code,
            "allocated_by": "coord_a",
        }
    ]
    assert study.randomization_seed not in response.content.decode()
    download = AllocationListDownload.objects.get()
    assert (download.user, download.study) == (data_manager, study)
    assert download.file_name in response["Content-Disposition"]
    # The study's page lists it: who downloaded the concealed list, and when.
    page = dm_client.get(f"/admin/patients/study/{study.pk}/change/").content.decode()
    assert download.file_name in page and "downloads of the allocation list" in page.lower()


def test_only_the_study_s_data_managers_download_its_allocation_list(client, study, coordinator_a, investigator):
    other = services.study_set_up(code="ROMA", title="Another study", sites=[("ROM", "Rome")])
    other_manager = _persona(other, "dm_rome", "data_manager", is_staff=True)
    url = f"/admin/patients/study/{study.pk}/allocation-list.csv"
    client.force_login(other_manager)
    assert client.get(url).status_code == 404
    for persona in (coordinator_a, investigator):
        client.force_login(persona)
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not AllocationListDownload.objects.exists()
