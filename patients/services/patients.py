"""Patients: register, correct, enroll, withdraw and complete. The arm has its own services
(`randomization`)."""

from datetime import date

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from ..models import Patient, PatientIdentifiers, RecordStatus, SeverityBand, Site
from .common import (
    require_consent_not_after_enrollment,
    require_not_future,
    require_open_to_corrections,
    require_reason,
    require_study_open,
    save_audited,
)
from .visits import visit_validate

PATIENT_CLINICAL_FIELDS = (
    "sex",
    "affected_side",
    "aetiology",
    "months_since_onset",
    "baseline_house_brackmann",
    "consent_date",
    "enrollment_date",
)
PATIENT_IDENTIFIER_FIELDS = ("full_name", "date_of_birth", "medical_record_number", "phone", "email", "address")


def _check_duplicate_record_number(*, site: Site, medical_record_number: str, exclude_pk=None) -> None:
    duplicates = PatientIdentifiers.objects.filter(
        patient__site=site, medical_record_number__iexact=medical_record_number.strip()
    )
    if exclude_pk is not None:
        duplicates = duplicates.exclude(pk=exclude_pk)
    existing = duplicates.select_related("patient").first()
    if existing:
        raise ValidationError(
            {"medical_record_number": f"This record number is already registered at this site as {existing.patient}."}
        )


@transaction.atomic
def patient_register(
    *,
    site: Site,
    by: User,
    sex: str,
    affected_side: str,
    aetiology: str,
    months_since_onset: int,
    baseline_house_brackmann: int,
    full_name: str,
    date_of_birth: date,
    medical_record_number: str,
    consent_date: date | None = None,
    enrollment_date: date | None = None,
    phone: str = "",
    email: str = "",
    address: str = "",
) -> Patient:
    """Register a patient at a site; enrolled at once when consent and enrollment dates are given."""
    # Lock the site row so that two coordinators registering at once get consecutive numbers.
    site = Site.objects.select_for_update(of=("self",)).select_related("study").get(pk=site.pk)
    patient_register_validate(
        site=site,
        date_of_birth=date_of_birth,
        medical_record_number=medical_record_number,
        consent_date=consent_date,
        enrollment_date=enrollment_date,
    )

    sequence = (site.patients.aggregate(m=Max("site_sequence"))["m"] or 0) + 1
    patient = Patient(
        study=site.study,
        site=site,
        site_sequence=sequence,
        study_code=f"{site.code}-{sequence:03d}",
        sex=sex,
        affected_side=affected_side,
        aetiology=aetiology,
        months_since_onset=months_since_onset,
        baseline_house_brackmann=baseline_house_brackmann,
        consent_date=consent_date,
        enrollment_date=enrollment_date,
        status=Patient.Status.ENROLLED if enrollment_date else Patient.Status.SCREENING,
    )
    save_audited(patient, by=by, reason="Registered")
    identifiers = PatientIdentifiers(
        patient=patient,
        full_name=full_name.strip(),
        date_of_birth=date_of_birth,
        medical_record_number=medical_record_number.strip(),
        phone=phone,
        email=email,
        address=address,
    )
    save_audited(identifiers, by=by, reason="Registered")
    return patient


def patient_register_validate(
    *,
    site: Site | None = None,
    date_of_birth: date | None = None,
    medical_record_number: str = "",
    consent_date: date | None = None,
    enrollment_date: date | None = None,
    **_other_fields,
) -> None:
    """Every rule of `patient_register` at once, over whichever fields are given: the registration
    form calls it with the fields that passed its own checks, so that one save shows every problem
    (a missing sex beside a duplicate record number beside a future consent date)."""
    errors: dict = {}

    def check(rule, *args) -> None:
        try:
            rule(*args)
        except ValidationError as error:
            error.update_error_dict(errors)

    if site is not None:
        check(require_study_open, site.study_id)
        if medical_record_number:
            check(lambda: _check_duplicate_record_number(site=site, medical_record_number=medical_record_number))
    check(require_not_future, date_of_birth, "date_of_birth")
    check(require_not_future, consent_date, "consent_date")
    check(require_not_future, enrollment_date, "enrollment_date")
    if enrollment_date and not consent_date and "consent_date" not in errors:
        errors.setdefault("consent_date", []).append(
            ValidationError("A patient is enrolled only after consent: give the consent date.")
        )
    if "consent_date" not in errors:
        check(require_consent_not_after_enrollment, consent_date, enrollment_date)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def patient_update(*, patient: Patient, by: User, reason: str, as_data_manager: bool = False, **changes) -> Patient:
    """Correct a patient's clinical fields or identifiers. The arm and status have their own services.

    A withdrawn patient's record is closed to the coordinator; the data manager corrects it
    (`as_data_manager`, the admin), under the same rules and with a reason.
    """
    reason = require_reason(reason)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    changed, identifiers, identifiers_changed = _apply_changes(patient, changes, as_data_manager=as_data_manager)
    if changed:
        save_audited(patient, by=by, reason=reason)
    if identifiers_changed:
        save_audited(identifiers, by=by, reason=reason)
    return patient


def patient_update_validate(*, patient: Patient, as_data_manager: bool = False, **changes) -> None:
    """The rules of `patient_update`, without saving: the admin's forms call it so that a refusal
    is shown beside the field instead of failing at save time."""
    _apply_changes(Patient.objects.get(pk=patient.pk), changes, as_data_manager=as_data_manager)


def _apply_changes(patient: Patient, changes: dict, *, as_data_manager: bool):
    """Check `changes` against the rules and set them on `patient` (and its identifiers), unsaved.
    Returns (patient changed, identifiers, identifiers changed); raises ValidationError."""
    unknown = set(changes) - set(PATIENT_CLINICAL_FIELDS) - set(PATIENT_IDENTIFIER_FIELDS)
    if unknown:
        raise ValueError(f"patient_update cannot change {sorted(unknown)}")
    if as_data_manager:
        require_study_open(patient.study_id)  # a withdrawn patient's record is open to them; a closed study is not
    else:
        require_open_to_corrections(patient)
    if patient.is_randomized and "baseline_house_brackmann" in changes:
        if SeverityBand.for_grade(changes["baseline_house_brackmann"]) != patient.severity_band:
            raise ValidationError(
                {
                    "baseline_house_brackmann": "The patient was randomized in the "
                    f"{SeverityBand(patient.severity_band).label} stratum; a change of band needs a data manager."
                }
            )
    for field in ("consent_date", "enrollment_date"):
        if field in changes:
            require_not_future(changes[field], field)
    if "date_of_birth" in changes:
        require_not_future(changes["date_of_birth"], "date_of_birth")

    clinical = {k: v for k, v in changes.items() if k in PATIENT_CLINICAL_FIELDS}
    changed = any(getattr(patient, k) != v for k, v in clinical.items())
    enrollment_moved = "enrollment_date" in clinical and clinical["enrollment_date"] != patient.enrollment_date
    for k, v in clinical.items():
        setattr(patient, k, v)
    if enrollment_moved:
        _require_visits_fit_enrollment(patient)
    if patient.status == Patient.Status.SCREENING and patient.enrollment_date:
        if not patient.consent_date:
            raise ValidationError({"consent_date": "A patient is enrolled only after consent: give the consent date."})
        patient.status = Patient.Status.ENROLLED
        changed = True
    require_consent_not_after_enrollment(patient.consent_date, patient.enrollment_date)

    identifier_changes = {k: v for k, v in changes.items() if k in PATIENT_IDENTIFIER_FIELDS}
    identifiers, identifiers_changed = None, False
    if identifier_changes:
        identifiers = patient.identifiers
        if "medical_record_number" in identifier_changes:
            _check_duplicate_record_number(
                site=patient.site,
                medical_record_number=identifier_changes["medical_record_number"],
                exclude_pk=identifiers.pk,
            )
        if any(getattr(identifiers, k) != v for k, v in identifier_changes.items()):
            for k, v in identifier_changes.items():
                setattr(identifiers, k, v)
            identifiers_changed = True
    return changed, identifiers, identifiers_changed


def _require_visits_fit_enrollment(patient: Patient) -> None:
    """A corrected enrollment date moves every visit window: the visits already recorded must still fit."""
    problems = []
    for visit in patient.visits.filter(status=RecordStatus.RECORDED).select_related("scheduled_visit"):
        try:
            visit_validate(patient=patient, scheduled_visit=visit.scheduled_visit, visit=visit)
        except ValidationError as error:
            problems.append(f"{visit.scheduled_visit.name} ({' '.join(error.messages)})")
    if problems:
        raise ValidationError(
            {"enrollment_date": "With this enrollment date, recorded visits no longer fit: " + "; ".join(problems)}
        )


@transaction.atomic
def patient_enroll(*, patient: Patient, by: User, consent_date: date, enrollment_date: date) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    require_study_open(patient.study_id)
    if patient.status != Patient.Status.SCREENING:
        raise ValidationError(f"{patient.study_code} is {patient.get_status_display().lower()}, not in screening.")
    require_not_future(consent_date, "consent_date")
    require_not_future(enrollment_date, "enrollment_date")
    require_consent_not_after_enrollment(consent_date, enrollment_date)
    patient.consent_date = consent_date
    patient.enrollment_date = enrollment_date
    patient.status = Patient.Status.ENROLLED
    save_audited(patient, by=by, reason="Enrolled")
    return patient


@transaction.atomic
def patient_withdraw(*, patient: Patient, by: User, reason: str, withdrawn_on: date | None = None) -> Patient:
    """Withdrawal is how clinical data leaves the study: the rows stay, marked, with the reason."""
    reason = require_reason(reason)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    require_study_open(patient.study_id)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} was already withdrawn on {patient.withdrawn_on}.")
    withdrawn_on = withdrawn_on or timezone.localdate()
    require_not_future(withdrawn_on, "withdrawn_on")
    patient.status = Patient.Status.WITHDRAWN
    patient.withdrawal_reason = reason
    patient.withdrawn_on = withdrawn_on
    save_audited(patient, by=by, reason=f"Withdrawn: {reason}")
    return patient


@transaction.atomic
def patient_complete(*, patient: Patient, by: User) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    require_study_open(patient.study_id)
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(
            f"Only an enrolled patient can complete the study; {patient.study_code} is "
            f"{patient.get_status_display().lower()}."
        )
    patient.status = Patient.Status.COMPLETED
    save_audited(patient, by=by, reason="Completed the study")
    return patient
