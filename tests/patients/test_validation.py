"""Every refusal of the trial-record services: the user is told why, and nothing is saved.

"Nothing saved" is checked on the rows and on the audit trail: a refused write
must not leave a half-saved record, nor a history row for a change that never was.
Below the services, the database's own named constraints refuse the same
mistakes when something bypasses them.
"""

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients import services
from patients.models import (
    InjectionPoint,
    InjectionSession,
    Muscle,
    Patient,
    PatientIdentifiers,
    Product,
    RandomizationSlot,
    RandomizationStratum,
    RecordStatus,
    Visit,
)
from tests.conftest import make_patient

TODAY = timezone.localdate


def saved_rows() -> dict[str, int]:
    """Row counts of every trial record and of its audit trail."""
    counts = {}
    for model in (Patient, PatientIdentifiers, Visit, InjectionSession, InjectionPoint, RandomizationSlot):
        counts[model.__name__] = model.objects.count()
        counts[f"{model.__name__} history"] = model.history.count()
    counts["allocated slots"] = RandomizationSlot.objects.filter(patient__isnull=False).count()
    counts["strata"] = RandomizationStratum.objects.count()
    return counts


@contextmanager
def refused(exception=ValidationError):
    """Expect the block to raise `exception` and to leave every row and history row as it was."""
    before = saved_rows()
    with pytest.raises(exception) as refusal:
        yield refusal
    assert saved_rows() == before, "a refused write saved something"


@pytest.fixture
def schedule(study):
    return {visit.code: visit for visit in study.schedule.all()}


def randomized_into(arm_code, site, by):
    """A newly enrolled patient randomized (through the real list) into the arm wanted.

    Every block of a 1:1 list holds both arms, so a handful of patients suffices.
    """
    for _ in range(6):
        patient = make_patient(site, by)
        if services.patient_randomize(patient=patient, by=by).code == arm_code:
            patient.refresh_from_db()
            return patient
    raise AssertionError(f"no {arm_code} allocation within a block")


@pytest.fixture
def bont_patient(site_a, coordinator_a):
    return randomized_into("bont-a", site_a, coordinator_a)


@pytest.fixture
def control_patient(site_a, coordinator_a):
    return randomized_into("control", site_a, coordinator_a)


@pytest.fixture
def baseline(bont_patient, schedule, coordinator_a):
    return services.visit_record(
        patient=bont_patient,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=bont_patient.enrollment_date,
        house_brackmann=3,
    )


def point(units, muscle=Muscle.DEPRESSOR_ANGULI_ORIS, side="right", **extra):
    return {"muscle": muscle, "side": side, "units": units, **extra}


def session_fields(**overrides):
    fields = dict(
        date=TODAY(),
        product=Product.ONABOTULINUMTOXIN_A,
        lot_number="C1234A",
        diluent_ml_per_100_units=Decimal("2.5"),
        injector="Dr Injector",
    )
    fields.update(overrides)
    return fields


@pytest.fixture
def session(bont_patient, baseline, coordinator_a):
    return services.injection_session_record(
        patient=bont_patient,
        by=coordinator_a,
        visit=baseline,
        points=[point("4"), point("2.5", muscle=Muscle.MENTALIS, side="midline")],
        **session_fields(date=bont_patient.enrollment_date),
    )


# --- Visit dates and windows ----------------------------------------------------------------------


def test_visit_dated_in_the_future_is_refused(patient_a, schedule, coordinator_a):
    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=TODAY() + timedelta(days=1),
        )

    assert refusal.value.message_dict["date_performed"] == ["This date is in the future."]


def test_visit_before_enrollment_is_refused(patient_a, schedule, coordinator_a):
    enrolled = patient_a.enrollment_date

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=enrolled - timedelta(days=1),
        )

    assert refusal.value.message_dict["date_performed"] == [
        f"This date is before the patient's enrollment on {enrolled:%Y-%m-%d}."
    ]


def test_visit_outside_its_window_without_a_deviation_reason_is_refused(patient_a, schedule, coordinator_a):
    enrolled = patient_a.enrollment_date

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=enrolled + timedelta(days=4),  # the baseline window is day 0 to day 3
        )

    latest = enrolled + timedelta(days=3)
    assert refusal.value.message_dict == {
        "date_performed": [
            f"Outside the window for Baseline ({enrolled:%Y-%m-%d} to {latest:%Y-%m-%d}). "
            "To record it anyway, give a protocol-deviation reason."
        ],
        "protocol_deviation_reason": ["Required: the date is outside the window."],
    }


def test_visit_outside_its_window_with_a_deviation_reason_is_accepted(patient_a, schedule, coordinator_a):
    visit = services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date + timedelta(days=4),
        protocol_deviation_reason="Patient unwell on the scheduled day",
    )

    visit.refresh_from_db()
    assert visit.status == RecordStatus.RECORDED
    assert visit.protocol_deviation_reason == "Patient unwell on the scheduled day"


def test_a_blank_deviation_reason_does_not_count_as_one(patient_a, schedule, coordinator_a):
    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=patient_a.enrollment_date + timedelta(days=4),
            protocol_deviation_reason="   ",
        )

    assert "protocol_deviation_reason" in refusal.value.message_dict


@pytest.mark.parametrize(
    ("day", "inside"),
    [(10, False), (11, True), (14, True), (17, True), (18, False)],
    ids=["day-10-too-early", "day-11-first-day", "day-14-target", "day-17-last-day", "day-18-too-late"],
)
def test_the_window_edges_belong_to_the_window(patient_a, schedule, coordinator_a, day, inside):
    services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    record_week_2 = lambda: services.visit_record(  # noqa: E731
        patient=patient_a,
        scheduled_visit=schedule["week-2"],  # day 14, three days either side
        by=coordinator_a,
        date_performed=patient_a.enrollment_date + timedelta(days=day),
    )

    if inside:
        assert record_week_2().scheduled_visit.code == "week-2"
    else:
        with refused() as refusal:
            record_week_2()
        assert "protocol_deviation_reason" in refusal.value.message_dict


# --- One visit per scheduled visit, baseline first -----------------------------------------------


def test_a_second_visit_for_the_same_scheduled_visit_is_refused(patient_a, schedule, coordinator_a):
    first = services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=patient_a.enrollment_date + timedelta(days=1),
        )

    assert refusal.value.message_dict["scheduled_visit"] == [
        f"Baseline was already recorded on {first.date_performed:%Y-%m-%d}."
    ]


def test_after_voiding_the_first_visit_a_new_one_is_accepted(patient_a, schedule, coordinator_a):
    first = services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    services.visit_void(visit=first, by=coordinator_a, reason="Entered against the wrong patient")

    second = services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date + timedelta(days=1),
    )

    assert list(Visit.objects.filter(patient=patient_a).values_list("pk", "status").order_by("pk")) == [
        (first.pk, RecordStatus.VOIDED),
        (second.pk, RecordStatus.RECORDED),
    ]


def test_a_follow_up_before_the_baseline_is_refused(patient_a, schedule, coordinator_a):
    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["week-2"],
            by=coordinator_a,
            date_performed=patient_a.enrollment_date + timedelta(days=14),
        )

    assert refusal.value.message_dict["scheduled_visit"] == ["Record the baseline visit before any follow-up."]


def test_a_voided_baseline_does_not_count_for_a_follow_up(patient_a, schedule, coordinator_a):
    baseline = services.visit_record(
        patient=patient_a,
        scheduled_visit=schedule["baseline"],
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    services.visit_void(visit=baseline, by=coordinator_a, reason="Wrong patient")

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["week-2"],
            by=coordinator_a,
            date_performed=patient_a.enrollment_date + timedelta(days=14),
        )

    assert refusal.value.message_dict["scheduled_visit"] == ["Record the baseline visit before any follow-up."]


def test_a_visit_from_another_studys_schedule_is_refused(patient_a, coordinator_a):
    other = services.study_set_up(code="OTHER-1", title="Another study", sites=[("LON", "London")])

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=other.schedule.get(code="baseline"),
            by=coordinator_a,
            date_performed=patient_a.enrollment_date,
        )

    assert refusal.value.message_dict["scheduled_visit"] == ["That visit belongs to another study's schedule."]


def test_a_visit_edit_is_checked_like_a_new_visit(baseline, coordinator_a):
    with refused() as refusal:
        services.visit_update(
            visit=baseline, by=coordinator_a, reason="Date typo", date_performed=TODAY() + timedelta(days=2)
        )

    assert refusal.value.message_dict["date_performed"] == ["This date is in the future."]


# --- Injection units and ceilings -----------------------------------------------------------------


@pytest.mark.parametrize("units", ["0", "-2"], ids=["zero", "negative"])
def test_units_of_zero_or_below_are_refused(bont_patient, coordinator_a, units):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient, by=coordinator_a, points=[point("4"), point(units)], **session_fields()
        )

    assert refusal.value.point_errors == {1: {"units": ["Units must be above zero."]}}
    assert refusal.value.session_errors == {}
    assert refusal.value.message_dict["points"] == ["Row 2, units: Units must be above zero."]


def test_units_above_the_studys_per_point_ceiling_are_refused_on_their_row(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4"), point("2"), point("10.5", muscle=Muscle.MENTALIS, side="midline")],
            **session_fields(),
        )

    assert refusal.value.point_errors == {2: {"units": ["10.5 U is above this study's ceiling of 10 U per point."]}}


def test_units_at_the_per_point_ceiling_are_accepted(bont_patient, coordinator_a):
    session = services.injection_session_record(
        patient=bont_patient, by=coordinator_a, points=[point("10")], **session_fields()
    )

    assert session.total_units == Decimal("10")


def test_a_session_total_above_the_per_session_ceiling_is_refused(bont_patient, coordinator_a):
    six_points_of_nine = [point("9", side=side) for side in ("left", "right") for _ in range(3)]

    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient, by=coordinator_a, points=six_points_of_nine, **session_fields()
        )

    assert refusal.value.point_errors == {}
    assert refusal.value.session_errors == {
        "__all__": ["The session totals 54 U, above this study's ceiling of 50 U per session."]
    }


def test_a_session_total_at_the_per_session_ceiling_is_accepted(bont_patient, coordinator_a):
    session = services.injection_session_record(
        patient=bont_patient, by=coordinator_a, points=[point("10") for _ in range(5)], **session_fields()
    )

    assert session.total_units == Decimal("50")
    assert session.points.count() == 5


def test_a_session_without_points_is_refused(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(patient=bont_patient, by=coordinator_a, points=[], **session_fields())

    assert refusal.value.session_errors == {"__all__": ["Add at least one injection point."]}


def test_each_bad_row_is_reported_by_its_own_index(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("0"), point("3"), point("11"), point("2", muscle=Muscle.OTHER)],
            **session_fields(),
        )

    assert refusal.value.point_errors == {
        0: {"units": ["Units must be above zero."]},
        2: {"units": ["11 U is above this study's ceiling of 10 U per point."]},
        3: {"muscle_other": ["Name the muscle."]},
    }


def test_a_session_whose_point_fails_model_validation_is_not_half_saved(bont_patient, coordinator_a):
    # The session row is saved before its points; a point the model refuses must take it back.
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4"), point("2", muscle="eyebrow")],
            **session_fields(),
        )

    assert any("Row 2, muscle" in m for m in refusal.value.message_dict["points"])


# --- Injection dates and the patient's arm ---------------------------------------------------------


def test_an_injection_in_the_future_is_refused(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4")],
            **session_fields(date=TODAY() + timedelta(days=1)),
        )

    assert refusal.value.session_errors == {"date": ["This date is in the future."]}


def test_an_injection_before_enrollment_is_refused(bont_patient, coordinator_a):
    enrolled = bont_patient.enrollment_date

    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4")],
            **session_fields(date=enrolled - timedelta(days=1)),
        )

    assert refusal.value.session_errors == {
        "date": [f"This date is before the patient's enrollment on {enrolled:%Y-%m-%d}."]
    }


def test_an_injection_for_a_control_arm_patient_is_refused(control_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=control_patient, by=coordinator_a, points=[point("4")], **session_fields()
        )

    assert refusal.value.session_errors == {
        "__all__": [f"{control_patient.study_code} is in the Control arm, which receives no injections."]
    }


def test_an_injection_for_a_patient_not_yet_randomized_is_refused(patient_a, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(patient=patient_a, by=coordinator_a, points=[point("4")], **session_fields())

    assert refusal.value.session_errors == {"__all__": ["Randomize the patient before recording an injection."]}


def test_an_injection_linked_to_another_patients_visit_is_refused(bont_patient, site_a, coordinator_a, schedule):
    other = make_patient(site_a, coordinator_a)
    other_baseline = services.visit_record(
        patient=other, scheduled_visit=schedule["baseline"], by=coordinator_a, date_performed=other.enrollment_date
    )

    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient, by=coordinator_a, visit=other_baseline, points=[point("4")], **session_fields()
        )

    assert refusal.value.session_errors == {"visit": ["That visit belongs to another patient."]}


def test_other_product_needs_a_name(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4")],
            **session_fields(product=Product.OTHER, product_other="  "),
        )

    assert refusal.value.session_errors == {"product_other": ["Name the product."]}


def test_other_muscle_needs_a_name(bont_patient, coordinator_a):
    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient,
            by=coordinator_a,
            points=[point("4"), point("3", muscle=Muscle.OTHER)],
            **session_fields(),
        )

    assert refusal.value.point_errors == {1: {"muscle_other": ["Name the muscle."]}}


def test_named_other_product_and_muscle_are_accepted(bont_patient, coordinator_a):
    session = services.injection_session_record(
        patient=bont_patient,
        by=coordinator_a,
        points=[point("3", muscle=Muscle.OTHER, muscle_other="Buccinator")],
        **session_fields(product=Product.OTHER, product_other="letibotulinumtoxinA"),
    )

    assert session.product_other == "letibotulinumtoxinA"
    assert session.points.get().muscle_other == "Buccinator"


# --- Patients who take no new data -----------------------------------------------------------------


def test_a_withdrawn_patient_takes_no_new_visit(patient_a, schedule, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Moved abroad")

    with refused() as refusal:
        services.visit_record(
            patient=patient_a,
            scheduled_visit=schedule["baseline"],
            by=coordinator_a,
            date_performed=patient_a.enrollment_date,
        )

    assert refusal.value.messages == [f"{patient_a.study_code} has been withdrawn; no new data can be recorded."]


def test_a_withdrawn_patient_takes_no_new_injection(bont_patient, coordinator_a):
    services.patient_withdraw(patient=bont_patient, by=coordinator_a, reason="Moved abroad")

    with refused() as refusal:
        services.injection_session_record(
            patient=bont_patient, by=coordinator_a, points=[point("4")], **session_fields()
        )

    assert refusal.value.messages == [f"{bont_patient.study_code} has been withdrawn; no new data can be recorded."]


def test_a_withdrawn_patients_records_are_not_edited_by_coordinators(session, baseline, bont_patient, coordinator_a):
    services.patient_withdraw(patient=bont_patient, by=coordinator_a, reason="Moved abroad")
    message = f"{bont_patient.study_code} has been withdrawn; ask a data manager for corrections."

    with refused() as refusal:
        services.patient_update(patient=bont_patient, by=coordinator_a, reason="Typo", months_since_onset=13)
    assert refusal.value.messages == [message]

    with refused() as refusal:
        services.visit_update(visit=baseline, by=coordinator_a, reason="Typo", sunnybrook_composite=55)
    assert refusal.value.messages == [message]

    with refused() as refusal:
        services.injection_session_update(
            session=session, by=coordinator_a, reason="Typo", points=[point("4")], lot_number="X1"
        )
    assert refusal.value.messages == [message]


def test_a_patient_in_screening_takes_no_visit(site_a, schedule, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)

    with refused() as refusal:
        services.visit_record(
            patient=patient, scheduled_visit=schedule["baseline"], by=coordinator_a, date_performed=TODAY()
        )

    assert refusal.value.messages == [f"{patient.study_code} is not enrolled yet; enroll the patient first."]


def test_a_patient_who_completed_takes_no_new_visit(baseline, bont_patient, schedule, coordinator_a):
    services.patient_complete(patient=bont_patient, by=coordinator_a)

    with refused() as refusal:
        services.visit_record(
            patient=bont_patient,
            scheduled_visit=schedule["week-2"],
            by=coordinator_a,
            date_performed=bont_patient.enrollment_date + timedelta(days=14),
        )

    assert refusal.value.messages == [
        f"{bont_patient.study_code} has completed the study; no new data can be recorded."
    ]


# --- Registration ---------------------------------------------------------------------------------


def test_a_duplicate_record_number_at_the_same_site_is_refused(site_a, coordinator_a):
    first = make_patient(site_a, coordinator_a, mrn="H-123456")

    with refused() as refusal:
        make_patient(site_a, coordinator_a, mrn=" h-123456 ")

    assert refusal.value.message_dict["medical_record_number"] == [
        f"This record number is already registered at this site as {first.study_code}."
    ]


def test_the_same_record_number_is_allowed_at_another_site(site_a, site_b, coordinator_a, coordinator_b):
    make_patient(site_a, coordinator_a, mrn="H-123456")

    other = make_patient(site_b, coordinator_b, mrn="H-123456")

    assert other.identifiers.medical_record_number == "H-123456"


def test_changing_a_record_number_to_a_taken_one_is_refused(site_a, coordinator_a):
    first = make_patient(site_a, coordinator_a, mrn="H-1")
    second = make_patient(site_a, coordinator_a, mrn="H-2")

    with refused() as refusal:
        services.patient_update(patient=second, by=coordinator_a, reason="Typo", medical_record_number="H-1")

    assert refusal.value.message_dict["medical_record_number"] == [
        f"This record number is already registered at this site as {first.study_code}."
    ]


def test_consent_after_enrollment_is_refused_at_registration(site_a, coordinator_a):
    enrolled = TODAY() - timedelta(days=5)

    with refused() as refusal:
        make_patient(site_a, coordinator_a, consent_date=enrolled + timedelta(days=1), enrollment_date=enrolled)

    assert refusal.value.message_dict["consent_date"] == ["Consent must be given on or before the enrollment date."]


def test_consent_after_enrollment_is_refused_at_enrollment(site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)
    enrolled = TODAY() - timedelta(days=5)

    with refused() as refusal:
        services.patient_enroll(
            patient=patient, by=coordinator_a, consent_date=enrolled + timedelta(days=1), enrollment_date=enrolled
        )

    assert refusal.value.message_dict["consent_date"] == ["Consent must be given on or before the enrollment date."]


def test_consent_after_enrollment_is_refused_on_correction(patient_a, coordinator_a):
    with refused() as refusal:
        services.patient_update(
            patient=patient_a,
            by=coordinator_a,
            reason="Consent form date misread",
            consent_date=patient_a.enrollment_date + timedelta(days=1),
        )

    assert refusal.value.message_dict["consent_date"] == ["Consent must be given on or before the enrollment date."]


def test_enrollment_without_consent_is_refused(site_a, coordinator_a):
    with refused() as refusal:
        make_patient(site_a, coordinator_a, consent_date=None)

    assert refusal.value.message_dict["consent_date"] == [
        "A patient is enrolled only after consent: give the consent date."
    ]


def test_a_date_of_birth_in_the_future_is_refused(site_a, coordinator_a):
    with refused() as refusal:
        make_patient(site_a, coordinator_a, date_of_birth=TODAY() + timedelta(days=1))

    assert refusal.value.message_dict["date_of_birth"] == ["This date is in the future."]


def test_a_registration_whose_identifiers_are_invalid_is_not_half_saved(site_a, coordinator_a):
    # The patient row is saved before the identifiers; a bad e-mail must take it back.
    with refused() as refusal:
        make_patient(site_a, coordinator_a, email="not-an-email")

    assert refusal.value.message_dict["email"] == ["Enter a valid email address."]


# --- Edits need a reason --------------------------------------------------------------------------

REASON_REQUIRED = {"reason": ["Give a reason for this change; it is kept in the audit trail."]}

EDITS_WITHOUT_A_REASON = {
    "patient_update": lambda r, by: services.patient_update(
        patient=r["patient"], by=by, reason="", months_since_onset=18
    ),
    "identifiers_update": lambda r, by: services.patient_update(
        patient=r["patient"], by=by, reason="", full_name="Ada Lovelace"
    ),
    "patient_withdraw": lambda r, by: services.patient_withdraw(patient=r["patient"], by=by, reason="  "),
    "visit_update": lambda r, by: services.visit_update(visit=r["visit"], by=by, reason="", notes="Corrected"),
    "visit_void": lambda r, by: services.visit_void(visit=r["visit"], by=by, reason=""),
    "injection_session_update": lambda r, by: services.injection_session_update(
        session=r["session"], by=by, reason=None, points=[point("5")], lot_number="X9"
    ),
    "injection_session_void": lambda r, by: services.injection_session_void(session=r["session"], by=by, reason=" "),
}


@pytest.mark.parametrize("edit", EDITS_WITHOUT_A_REASON.values(), ids=EDITS_WITHOUT_A_REASON.keys())
def test_an_edit_without_a_reason_is_refused(bont_patient, baseline, session, coordinator_a, edit):
    records = {"patient": bont_patient, "visit": baseline, "session": session}

    with refused() as refusal:
        edit(records, coordinator_a)

    assert refusal.value.message_dict == REASON_REQUIRED


# --- The database refuses the same mistakes when the services are bypassed -----------------------


@contextmanager
def database_refuses(constraint: str):
    with pytest.raises(IntegrityError) as refusal:
        with transaction.atomic():
            yield
    assert constraint in str(refusal.value)


def test_database_refuses_an_injection_point_of_zero_units(session):
    with database_refuses("injection_point_units_in_range"):
        InjectionPoint(session=session, muscle=Muscle.MENTALIS, side="midline", units=Decimal("0")).save()

    assert session.points.count() == 2


def test_database_refuses_an_injection_point_above_the_absolute_ceiling(session):
    with database_refuses("injection_point_units_in_range"):
        InjectionPoint(session=session, muscle=Muscle.MENTALIS, side="midline", units=Decimal("100.01")).save()


def test_database_refuses_an_unnamed_other_muscle(session):
    with database_refuses("injection_point_other_muscle_named"):
        InjectionPoint(session=session, muscle=Muscle.OTHER, side="left", units=Decimal("2")).save()


def test_database_refuses_a_second_recorded_visit_for_the_same_scheduled_visit(baseline, coordinator_a):
    with database_refuses("visit_one_per_scheduled_visit"):
        Visit(
            patient=baseline.patient,
            scheduled_visit=baseline.scheduled_visit,
            date_performed=baseline.date_performed,
            created_by=coordinator_a,
        ).save()

    assert Visit.objects.filter(patient=baseline.patient).count() == 1


def test_database_accepts_a_voided_duplicate_visit(baseline, coordinator_a):
    Visit(
        patient=baseline.patient,
        scheduled_visit=baseline.scheduled_visit,
        date_performed=baseline.date_performed,
        created_by=coordinator_a,
        status=RecordStatus.VOIDED,
        void_reason="Duplicate entry",
    ).save()

    assert Visit.objects.filter(patient=baseline.patient).count() == 2


def test_database_refuses_a_voided_visit_without_a_reason(baseline):
    baseline.status = RecordStatus.VOIDED

    with database_refuses("visit_void_has_reason"):
        baseline.save()


def test_database_refuses_a_house_brackmann_grade_of_seven(patient_a):
    with database_refuses("patient_house_brackmann_range"):
        Patient.objects.filter(pk=patient_a.pk).update(baseline_house_brackmann=7)

    patient_a.refresh_from_db()
    assert patient_a.baseline_house_brackmann == 3


def test_database_refuses_a_visit_grade_of_seven(baseline):
    baseline.house_brackmann = 7

    with database_refuses("visit_house_brackmann_range"):
        baseline.save()


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"consent_date": None}, "patient_enrolled_has_consent_and_enrollment_dates"),
        ({"status": Patient.Status.WITHDRAWN}, "patient_withdrawal_has_reason_and_date"),
        ({"arm_assignment": Patient.ArmAssignment.RANDOMIZED}, "patient_arm_assignment_complete"),
    ],
    ids=["enrolled-without-consent", "withdrawn-without-reason", "half-assigned-arm"],
)
def test_database_refuses_an_inconsistent_patient(patient_a, change, constraint):
    for field, value in change.items():
        setattr(patient_a, field, value)

    with database_refuses(constraint):
        patient_a.save()


def test_database_refuses_consent_after_enrollment(patient_a):
    patient_a.consent_date = patient_a.enrollment_date + timedelta(days=1)

    with database_refuses("patient_consent_not_after_enrollment"):
        patient_a.save()


def test_database_refuses_an_external_arm_without_a_reason(patient_a, bont_arm):
    with database_refuses("patient_external_assignment_has_reason"):
        Patient.objects.filter(pk=patient_a.pk).update(
            arm=bont_arm, arm_assignment=Patient.ArmAssignment.EXTERNAL, arm_assigned_at=timezone.now()
        )


def test_database_refuses_a_slot_allocated_without_a_time(patient_a, site_a):
    slot = RandomizationSlot.objects.filter(stratum__site=site_a, patient__isnull=True).first()
    slot.patient = patient_a

    with database_refuses("slot_allocation_complete"):
        slot.save()


def test_database_refuses_a_session_ceiling_below_the_point_ceiling(study):
    study.max_units_per_session = Decimal("5")

    with database_refuses("study_unit_ceilings_positive_and_ordered"):
        study.save()


def test_moving_enrollment_after_a_recorded_visit_is_refused(patient_a, coordinator_a, study):
    baseline = services.visit_record(
        patient=patient_a,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    with pytest.raises(ValidationError) as refusal:
        services.patient_update(
            patient=patient_a,
            by=coordinator_a,
            reason="Typo in the enrollment date",
            enrollment_date=baseline.date_performed + timedelta(days=2),
        )
    message = " ".join(refusal.value.message_dict["enrollment_date"])
    assert "Baseline" in message and "before the patient's enrollment" in message
    patient_a.refresh_from_db()
    assert patient_a.enrollment_date == baseline.date_performed


def test_moving_enrollment_within_the_visit_windows_is_accepted(patient_a, coordinator_a, study):
    baseline = services.visit_record(
        patient=patient_a,
        scheduled_visit=study.schedule.get(code="baseline"),
        by=coordinator_a,
        date_performed=patient_a.enrollment_date,
    )
    new_date = baseline.date_performed - timedelta(days=2)  # baseline window is day 0 to +3
    services.patient_update(
        patient=patient_a,
        by=coordinator_a,
        reason="Enrolled two days earlier",
        enrollment_date=new_date,
        consent_date=new_date - timedelta(days=1),
    )
    patient_a.refresh_from_db()
    assert patient_a.enrollment_date == new_date


def test_units_are_written_one_way_in_errors_and_help_text(login, coordinator_a, patient_a, bont_arm, data_manager):
    """ "10 U" in the help text and in the refusal alike, never "10.00 U"."""
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=data_manager, reason="Test set-up")
    client = login(coordinator_a)
    form = client.get(f"/patients/{patient_a.pk}/injections/new/").content.decode()
    assert "At most 10 U per point and 50 U per session." in form
    with pytest.raises(services.InjectionValidationError) as refusal:
        services.injection_session_validate(
            patient=patient_a,
            session=InjectionSession(patient=patient_a, date=timezone.localdate(), product="onabotulinumtoxinA"),
            points=[{"muscle": "mentalis", "side": "midline", "units": "30.00"}],
        )
    assert refusal.value.point_errors[0]["units"] == ["30 U is above this study's ceiling of 10 U per point."]
