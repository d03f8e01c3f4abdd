"""The audit trail: every change keeps who, when, the old and new values, and why.

Nothing clinical is deleted: withdrawal and voiding mark the rows and keep them,
and the data manager's admin asks for a reason and offers no delete.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import services
from patients.admin import REASON_REQUIRED
from patients.models import (
    InjectionPoint,
    InjectionSession,
    Muscle,
    Patient,
    PatientIdentifiers,
    Product,
    RecordStatus,
    StudyRole,
    Visit,
)
from tests.conftest import make_patient


@pytest.fixture
def treated(study, site_a, coordinator_a):
    """A BoNT-A patient at site A with a baseline visit and an injection session of two points."""
    for _ in range(6):  # every block holds both arms
        patient = make_patient(site_a, coordinator_a)
        if services.patient_randomize(patient=patient, by=coordinator_a).receives_injections:
            break
    patient.refresh_from_db()
    visit = services.visit_record(
        patient=patient,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient.enrollment_date,
        house_brackmann=3,
        sunnybrook_composite=60,
    )
    session = services.injection_session_record(
        patient=patient,
        by=coordinator_a,
        visit=visit,
        date=patient.enrollment_date,
        product=Product.ONABOTULINUMTOXIN_A,
        lot_number="C1234A",
        diluent_ml_per_100_units=Decimal("2.5"),
        injector="Dr Injector",
        points=[
            {"muscle": Muscle.DEPRESSOR_ANGULI_ORIS, "side": "right", "units": "4"},
            {"muscle": Muscle.MENTALIS, "side": "midline", "units": "2"},
        ],
    )
    return patient, visit, session


def clinical_rows() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Patient, PatientIdentifiers, Visit, InjectionSession, InjectionPoint)
    }


def changes_of(record) -> list[tuple[str, object, object]]:
    """(field, old, new) of a historical record against the one before it."""
    delta = record.diff_against(record.prev_record)
    return sorted((change.field, change.old, change.new) for change in delta.changes)


# --- Who, when, what and why ----------------------------------------------------------------------


def test_registration_is_recorded_with_who_and_why(patient_a, coordinator_a):
    for history in (patient_a.history, patient_a.identifiers.history):
        (created,) = history.all()
        assert (created.history_type, created.history_user, created.history_change_reason) == (
            "+",
            coordinator_a,
            "Registered",
        )


def test_a_patient_correction_keeps_who_when_old_and_new_values_and_why(patient_a, coordinator_b, coordinator_a):
    before = timezone.now()

    services.patient_update(
        patient=patient_a, by=coordinator_a, reason="Onset date misread", months_since_onset=18, affected_side="right"
    )

    latest = patient_a.history.latest()
    assert latest.history_user == coordinator_a
    assert before <= latest.history_date <= timezone.now()
    assert latest.history_change_reason == "Onset date misread"
    assert changes_of(latest) == [("affected_side", "left", "right"), ("months_since_onset", 12, 18)]


def test_an_identifier_correction_is_kept_in_the_identifiers_own_history(patient_a, coordinator_a):
    patient_rows = patient_a.history.count()

    services.patient_update(patient=patient_a, by=coordinator_a, reason="Married name", full_name="Ada Lovelace")

    latest = patient_a.identifiers.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Married name")
    assert changes_of(latest) == [("full_name", "Ada Example", "Ada Lovelace")]
    assert patient_a.history.count() == patient_rows, "the clinical record did not change"


def test_a_visit_correction_keeps_old_and_new_values_and_the_reason(treated, coordinator_a):
    _, visit, _ = treated

    services.visit_update(visit=visit, by=coordinator_a, reason="Transcription error", sunnybrook_composite=65)

    latest = visit.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Transcription error")
    assert changes_of(latest) == [("sunnybrook_composite", 60, 65)]


def test_an_injection_correction_keeps_the_session_change_and_every_replaced_point(treated, coordinator_a):
    _, _, session = treated
    old_points = list(session.points.order_by("id").values_list("pk", "units"))
    reason = "Lot number and dose from the pharmacy log"

    services.injection_session_update(
        session=session,
        by=coordinator_a,
        reason=reason,
        lot_number="C9999B",
        points=[{"muscle": Muscle.DEPRESSOR_ANGULI_ORIS, "side": "right", "units": "5"}],
    )

    latest = session.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, reason)
    assert changes_of(latest) == [("lot_number", "C1234A", "C9999B")]
    point_history = InjectionPoint.history.filter(session_id=session.pk)
    assert not point_history.filter(history_type="-").exists(), "no point is ever deleted"
    # The first point is corrected in place: its history keeps the old dose and the reason.
    (first_pk, first_units), *removed = old_points
    corrected = point_history.filter(id=first_pk).latest()
    assert (corrected.history_type, corrected.units, corrected.history_user) == ("~", Decimal("5.00"), coordinator_a)
    assert corrected.history_change_reason == reason
    assert corrected.prev_record.units == first_units
    # The others stay in the record, voided with the reason.
    for pk, units in removed:
        row = InjectionPoint.objects.get(pk=pk)
        assert (row.status, row.void_reason, row.units) == ("voided", reason, units)
        assert point_history.filter(id=pk).latest().history_change_reason == f"Removed: {reason}"
    session.refresh_from_db()
    assert session.total_units == Decimal("5")
    assert InjectionPoint.objects.filter(session=session).count() == len(old_points)


def test_an_update_that_changes_nothing_writes_no_history(patient_a, coordinator_a):
    rows = patient_a.history.count(), patient_a.identifiers.history.count()

    services.patient_update(
        patient=patient_a, by=coordinator_a, reason="Checked", months_since_onset=12, full_name="Ada Example"
    )

    assert (patient_a.history.count(), patient_a.identifiers.history.count()) == rows


def test_an_edit_without_a_reason_is_refused_and_leaves_no_trace(treated, coordinator_a):
    patient, visit, _ = treated
    rows = patient.history.count(), visit.history.count()

    with pytest.raises(ValidationError) as refusal:
        services.visit_update(visit=visit, by=coordinator_a, reason="  ", sunnybrook_composite=99)

    assert refusal.value.message_dict == {"reason": ["Give a reason for this change; it is kept in the audit trail."]}
    visit.refresh_from_db()
    assert visit.sunnybrook_composite == 60
    assert (patient.history.count(), visit.history.count()) == rows


# --- Withdrawal and voiding keep the rows ---------------------------------------------------------


def test_withdrawal_keeps_every_row_with_the_reason(treated, coordinator_a):
    patient, visit, session = treated
    rows = clinical_rows()

    services.patient_withdraw(patient=patient, by=coordinator_a, reason="Moved abroad")

    assert clinical_rows() == rows
    patient.refresh_from_db()
    assert (patient.status, patient.withdrawal_reason, patient.withdrawn_on) == (
        Patient.Status.WITHDRAWN,
        "Moved abroad",
        timezone.localdate(),
    )
    assert Visit.objects.get(pk=visit.pk).status == RecordStatus.RECORDED
    assert InjectionSession.objects.get(pk=session.pk).status == RecordStatus.RECORDED
    latest = patient.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (coordinator_a, "Withdrawn: Moved abroad")
    assert ("status", Patient.Status.ENROLLED, Patient.Status.WITHDRAWN) in changes_of(latest)


def test_withdrawal_keeps_the_date_given(patient_a, coordinator_a):
    services.patient_withdraw(
        patient=patient_a,
        by=coordinator_a,
        reason="Lost to follow-up",
        withdrawn_on=timezone.localdate() - timedelta(days=3),
    )

    patient_a.refresh_from_db()
    assert patient_a.withdrawn_on == timezone.localdate() - timedelta(days=3)


def test_a_patient_is_withdrawn_only_once(patient_a, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved abroad")
    rows = patient_a.history.count()

    with pytest.raises(ValidationError) as refusal:
        services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Again")

    assert refusal.value.messages == [
        f"{patient_a.study_code} was already withdrawn on {timezone.localdate():%Y-%m-%d}."
    ]
    assert patient_a.history.count() == rows


def test_voiding_a_visit_keeps_it_marked_with_the_reason(treated, coordinator_a):
    _, visit, _ = treated
    rows = clinical_rows()

    services.visit_void(visit=visit, by=coordinator_a, reason="Recorded against the wrong patient")

    assert clinical_rows() == rows
    visit.refresh_from_db()
    assert (visit.status, visit.void_reason) == (RecordStatus.VOIDED, "Recorded against the wrong patient")
    latest = visit.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (
        coordinator_a,
        "Voided: Recorded against the wrong patient",
    )


def test_a_voided_visit_cannot_be_edited_or_voided_again(treated, coordinator_a):
    _, visit, _ = treated
    services.visit_void(visit=visit, by=coordinator_a, reason="Duplicate")

    with pytest.raises(ValidationError) as edit:
        services.visit_update(visit=visit, by=coordinator_a, reason="Fix", notes="x")
    with pytest.raises(ValidationError) as void:
        services.visit_void(visit=visit, by=coordinator_a, reason="Again")

    assert edit.value.messages == ["This visit has been voided and cannot be edited."]
    assert void.value.messages == ["This visit is already voided."]


def test_voiding_an_injection_session_keeps_it_and_its_points(treated, coordinator_a):
    _, _, session = treated
    rows = clinical_rows()

    services.injection_session_void(session=session, by=coordinator_a, reason="Entered twice")

    assert clinical_rows() == rows
    session.refresh_from_db()
    assert (session.status, session.void_reason, session.points.count()) == (RecordStatus.VOIDED, "Entered twice", 2)
    assert session.history.latest().history_change_reason == "Voided: Entered twice"


# --- The data manager's admin ---------------------------------------------------------------------


def change_form_data(response) -> dict:
    """The admin change form's current values, as the browser would post them back."""
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    return data


def test_the_admin_refuses_an_edit_without_a_reason(client, treated, data_manager):
    _, visit, _ = treated
    url = f"/admin/patients/visit/{visit.pk}/change/"
    client.force_login(data_manager)
    data = change_form_data(client.get(url, secure=True))
    rows = visit.history.count()

    response = client.post(url, {**data, "notes": "Seen by the registrar", "change_reason": ""}, secure=True)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == [REASON_REQUIRED]
    visit.refresh_from_db()
    assert visit.notes == ""
    assert visit.history.count() == rows


def test_the_admin_keeps_the_reason_and_the_user_of_an_edit(client, treated, data_manager):
    _, visit, _ = treated
    url = f"/admin/patients/visit/{visit.pk}/change/"
    client.force_login(data_manager)
    data = change_form_data(client.get(url, secure=True))

    response = client.post(
        url, {**data, "notes": "Seen by the registrar", "change_reason": "Source data verification"}, secure=True
    )

    assert response.status_code == 302
    latest = visit.history.latest()
    assert (latest.history_user, latest.history_change_reason) == (data_manager, "Source data verification")
    assert changes_of(latest) == [("notes", "", "Seen by the registrar")]
    history_page = client.get(f"/admin/patients/visit/{visit.pk}/history/", secure=True)
    assert "Source data verification" in history_page.content.decode()


ADMIN_RECORDS = {
    "patient": lambda t: t[0],
    "visit": lambda t: t[1],
    "injectionsession": lambda t: t[2],
    "study": lambda t: t[0].study,
    "site": lambda t: t[0].site,
    "treatmentarm": lambda t: t[0].arm,
    "scheduledvisit": lambda t: t[1].scheduled_visit,
}


def test_the_admin_offers_no_delete_of_any_trial_record(client, treated, data_manager):
    superuser = get_user_model().objects.create_superuser("root", password="root-password-123")

    for user in (data_manager, superuser):
        client.force_login(user)
        for model, record_of in ADMIN_RECORDS.items():
            record = record_of(treated)
            change_page = client.get(f"/admin/patients/{model}/{record.pk}/change/", secure=True)
            changelist = client.get(f"/admin/patients/{model}/", secure=True)
            delete_page = client.get(f"/admin/patients/{model}/{record.pk}/delete/", secure=True)

            assert change_page.status_code == 200, (user, model)
            assert change_page.context["has_delete_permission"] is False, (user, model)
            action_form = changelist.context["action_form"]  # None when there is no action at all
            assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)
            assert delete_page.status_code == 403, (user, model)
            assert type(record).objects.filter(pk=record.pk).exists()


def test_data_manager_cannot_make_anyone_superuser_or_staff(client, data_manager, coordinator_a):
    client.force_login(data_manager)
    page = client.get(f"/admin/auth/user/{coordinator_a.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="is_superuser"' not in html
    assert 'name="is_staff"' not in html
    assert 'name="groups"' not in html


def test_data_manager_cannot_edit_a_superuser(client, data_manager, django_user_model):
    root = django_user_model.objects.create_superuser("root-admin", password="x-very-long-password")
    client.force_login(data_manager)
    # Out of a data manager's reach altogether, as another study's records are.
    assert client.post(f"/admin/auth/user/{root.pk}/change/", {"username": "hijacked"}).status_code == 404
    root.refresh_from_db()
    assert root.username == "root-admin"


def test_admin_visit_correction_obeys_the_visit_rules(client, data_manager, treated):
    _, visit, _ = treated
    client.force_login(data_manager)
    url = f"/admin/patients/visit/{visit.pk}/change/"
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(
        {
            "date_performed": (timezone.localdate() + timedelta(days=3)).isoformat(),
            "change_reason": "Date from the paper record",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "This date is in the future." in response.content.decode()
    visit.refresh_from_db()
    assert visit.date_performed <= timezone.localdate()


def admin_form_data(response) -> dict:
    """The admin change form and its inline rows, as the browser would post them back."""
    data = change_form_data(response)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for form in formset.forms:
            for name in form.fields:
                value = form[name].value()
                data[form.add_prefix(name)] = "" if value is None else value
    return data


def correct_dao_units_in_admin(client, user, session, units: str):
    """Post the session's admin change form with its depressor anguli oris point's units changed.
    Returns the point, its number of history rows before the post, and the response."""
    point = session.points.get(muscle=Muscle.DEPRESSOR_ANGULI_ORIS)
    client.force_login(user)
    url = f"/admin/patients/injectionsession/{session.pk}/change/"
    data = admin_form_data(client.get(url))
    row = next(i for i in range(session.points.count()) if data[f"points-{i}-id"] == point.pk)
    rows = point.history.count()
    response = client.post(url, {**data, f"points-{row}-units": units, "change_reason": "Dose from the paper record"})
    point.refresh_from_db()
    return point, rows, response


def test_admin_injection_correction_obeys_the_study_unit_ceilings(client, data_manager, treated):
    point, rows, response = correct_dao_units_in_admin(client, data_manager, treated[2], "30")

    assert response.status_code == 200
    assert "30 U is above this study&#x27;s ceiling of 10" in response.content.decode()
    assert (point.units, point.history.count()) == (Decimal("4"), rows)


def test_admin_injection_correction_within_the_ceilings_is_saved_with_its_reason(client, data_manager, treated):
    point, _, response = correct_dao_units_in_admin(client, data_manager, treated[2], "5")

    assert response.status_code == 302
    latest = point.history.latest()
    assert (point.units, latest.history_user, latest.history_change_reason) == (
        Decimal("5"),
        data_manager,
        "Dose from the paper record",
    )


# --- An edit without a reason, refused at every door: the coordinator's pages and the admin ---------


def page_form_data(response) -> dict:
    """A coordinator's edit page, posted back as the browser would: the form, and its point rows."""
    data = {}
    form = response.context["form"]
    for name in form.fields:
        value = form[name].value()
        data[form.add_prefix(name)] = "" if value is None else value
    formset = response.context.get("formset")
    if formset is not None:
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        for row in formset.forms:
            for name in row.fields:
                value = row[name].value()
                data[row.add_prefix(name)] = "" if value is None else value
    return data


PAGE_EDITS = {
    # URL of the edit page, the field changed, its new value, and the record and field to check.
    "patient": ("/patients/{p}/edit/", "months_since_onset", "18", lambda t: t[0], "months_since_onset"),
    "identifiers": ("/patients/{p}/edit/", "full_name", "Ada Lovelace", lambda t: t[0].identifiers, "full_name"),
    "visit": ("/patients/{p}/visits/{v}/edit/", "notes", "Seen again", lambda t: t[1], "notes"),
    "injection session": ("/patients/{p}/injections/{s}/edit/", "lot_number", "X9", lambda t: t[2], "lot_number"),
}


@pytest.mark.parametrize("edit", PAGE_EDITS.values(), ids=PAGE_EDITS.keys())
@pytest.mark.parametrize("reason", ["", "   "])
def test_an_edit_page_without_a_reason_shows_the_error_and_changes_nothing(
    client, treated, coordinator_a, edit, reason
):
    template, field, value, record_of, attribute = edit
    patient, visit, session = treated
    url = template.format(p=patient.pk, v=visit.pk, s=session.pk)
    record = record_of(treated)
    before, rows = getattr(record, attribute), record.history.count()
    client.force_login(coordinator_a)
    data = page_form_data(client.get(url))

    response = client.post(url, {**data, field: value, "reason": reason})

    assert response.status_code == 200, "the page is shown again, with the error"
    assert response.context["form"].errors.get("reason"), "the error is shown beside the reason field"
    record.refresh_from_db()
    assert (getattr(record, attribute), record.history.count()) == (before, rows)


ADMIN_EDITS = {
    "patient": ("patient", lambda t: t[0], "months_since_onset", "18"),
    "injection session": ("injectionsession", lambda t: t[2], "lot_number", "X9"),
}


@pytest.mark.parametrize("edit", ADMIN_EDITS.values(), ids=ADMIN_EDITS.keys())
def test_the_admin_refuses_a_patient_or_session_edit_without_a_reason(client, treated, data_manager, edit):
    model, record_of, field, value = edit
    record = record_of(treated)
    before, rows = getattr(record, field), record.history.count()
    url = f"/admin/patients/{model}/{record.pk}/change/"
    client.force_login(data_manager)
    data = admin_form_data(client.get(url, secure=True))

    response = client.post(url, {**data, field: value, "change_reason": "  "}, secure=True)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["change_reason"] == [REASON_REQUIRED]
    record.refresh_from_db()
    assert (getattr(record, field), record.history.count()) == (before, rows)


def test_history_shows_an_old_site_by_name(client, data_manager, coordinator_a, site_a, site_b):
    from patients.services.common import save_audited

    patient = make_patient(site_a, coordinator_a)
    patient.site = site_b
    save_audited(patient, by=data_manager, reason="Registered at the wrong site")
    client.force_login(data_manager)
    page = client.get(f"/patients/{patient.pk}/history/").content.decode()
    assert "LON – London" in page and "MAN – Manchester" in page
    assert f"#{site_a.pk}" not in page


def test_the_admin_shows_who_recorded_a_visit_and_whose_it_is_read_only(client, treated, data_manager, outsider):
    patient, visit, _ = treated
    url = f"/admin/patients/visit/{visit.pk}/change/"
    client.force_login(data_manager)
    form = client.get(url, secure=True).context["adminform"].form
    assert "patient" not in form.fields and "created_by" not in form.fields
    data = change_form_data(client.get(url, secure=True))
    client.post(url, {**data, "created_by": outsider.pk, "notes": "x", "change_reason": "Check"}, secure=True)
    visit.refresh_from_db()
    assert visit.created_by != outsider and visit.patient == patient


def test_data_manager_sees_an_account_with_roles_in_another_study_read_only(client, data_manager, coordinator_a):
    from tests.conftest import _persona

    other = services.study_set_up(code="FACE-2", title="Other study", sites=[("OXF", "Oxford")])
    _persona(other, coordinator_a.username, StudyRole.Role.COORDINATOR, "OXF")  # the same account, both studies
    client.force_login(data_manager)
    url = f"/admin/auth/user/{coordinator_a.pk}/"
    page = client.get(f"{url}change/")
    assert page.status_code == 200 and page.context["has_change_permission"] is False
    refused = client.post(f"{url}change/", {"username": coordinator_a.username, "is_active": ""})
    assert refused.status_code == 403
    assert client.get(f"{url}password/").status_code == 403
    coordinator_a.refresh_from_db()
    assert coordinator_a.is_active
