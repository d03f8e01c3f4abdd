"""Writes to the trial's records. Views, forms, the admin and the API call these; nothing else saves.

Every function is keyword-only, runs in one transaction (nothing half-saved),
calls full_clean() before saving, and records who made the change and why in
the audit trail. Edits after the first save require a reason.
"""

import hashlib
import hmac
import random
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from .models import (
    InjectionPoint,
    InjectionSession,
    InjectionSide,
    Muscle,
    Patient,
    PatientIdentifiers,
    Product,
    RandomizationSlot,
    RandomizationStratum,
    RecordStatus,
    ScheduledVisit,
    SeverityBand,
    Site,
    Study,
    StudyOutcome,
    TreatmentArm,
    Visit,
    VisitOutcomeValue,
)

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
VISIT_FIELDS = (
    "date_performed",
    "house_brackmann",
    "sunnybrook_composite",
    "adverse_events",
    "notes",
    "protocol_deviation_reason",
)
SESSION_FIELDS = (
    "visit",
    "date",
    "product",
    "product_other",
    "lot_number",
    "diluent_ml_per_100_units",
    "injector",
    "notes",
)


def _save_audited(instance, *, by, reason: str) -> None:
    instance.full_clean()
    instance._history_user = by
    instance._change_reason = reason
    instance.save()


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for this change; it is kept in the audit trail."})
    return reason


def _require_not_future(value: date, field: str) -> None:
    if value and value > timezone.localdate():
        raise ValidationError({field: "This date is in the future."})


def _require_consent_not_after_enrollment(consent_date: date | None, enrollment_date: date | None) -> None:
    if consent_date and enrollment_date and consent_date > enrollment_date:
        raise ValidationError({"consent_date": "Consent must be given on or before the enrollment date."})


def _require_accepts_data(patient: Patient) -> None:
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; no new data can be recorded.")
    if patient.status == Patient.Status.COMPLETED:
        raise ValidationError(f"{patient.study_code} has completed the study; no new data can be recorded.")
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(f"{patient.study_code} is not enrolled yet; enroll the patient first.")


# --- Patients -------------------------------------------------------------------------------------


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
    by,
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
    _check_duplicate_record_number(site=site, medical_record_number=medical_record_number)
    _require_not_future(date_of_birth, "date_of_birth")
    _require_not_future(consent_date, "consent_date")
    _require_not_future(enrollment_date, "enrollment_date")
    if enrollment_date and not consent_date:
        raise ValidationError({"consent_date": "A patient is enrolled only after consent: give the consent date."})
    _require_consent_not_after_enrollment(consent_date, enrollment_date)

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
    _save_audited(patient, by=by, reason="Registered")
    identifiers = PatientIdentifiers(
        patient=patient,
        full_name=full_name.strip(),
        date_of_birth=date_of_birth,
        medical_record_number=medical_record_number.strip(),
        phone=phone,
        email=email,
        address=address,
    )
    _save_audited(identifiers, by=by, reason="Registered")
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, by, reason: str, **changes) -> Patient:
    """Correct a patient's clinical fields or identifiers. The arm and status have their own services."""
    reason = _require_reason(reason)
    unknown = set(changes) - set(PATIENT_CLINICAL_FIELDS) - set(PATIENT_IDENTIFIER_FIELDS)
    if unknown:
        raise ValueError(f"patient_update cannot change {sorted(unknown)}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} has been withdrawn; ask a data manager for corrections.")
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
            _require_not_future(changes[field], field)
    if "date_of_birth" in changes:
        _require_not_future(changes["date_of_birth"], "date_of_birth")

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
    _require_consent_not_after_enrollment(patient.consent_date, patient.enrollment_date)
    if changed:
        _save_audited(patient, by=by, reason=reason)

    identifier_changes = {k: v for k, v in changes.items() if k in PATIENT_IDENTIFIER_FIELDS}
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
            _save_audited(identifiers, by=by, reason=reason)
    return patient


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
def patient_enroll(*, patient: Patient, by, consent_date: date, enrollment_date: date) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status != Patient.Status.SCREENING:
        raise ValidationError(f"{patient.study_code} is {patient.get_status_display().lower()}, not in screening.")
    _require_not_future(consent_date, "consent_date")
    _require_not_future(enrollment_date, "enrollment_date")
    _require_consent_not_after_enrollment(consent_date, enrollment_date)
    patient.consent_date = consent_date
    patient.enrollment_date = enrollment_date
    patient.status = Patient.Status.ENROLLED
    _save_audited(patient, by=by, reason="Enrolled")
    return patient


@transaction.atomic
def patient_withdraw(*, patient: Patient, by, reason: str, withdrawn_on: date | None = None) -> Patient:
    """Withdrawal is how clinical data leaves the study: the rows stay, marked, with the reason."""
    reason = _require_reason(reason)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient.study_code} was already withdrawn on {patient.withdrawn_on}.")
    withdrawn_on = withdrawn_on or timezone.localdate()
    _require_not_future(withdrawn_on, "withdrawn_on")
    patient.status = Patient.Status.WITHDRAWN
    patient.withdrawal_reason = reason
    patient.withdrawn_on = withdrawn_on
    _save_audited(patient, by=by, reason=f"Withdrawn: {reason}")
    return patient


@transaction.atomic
def patient_complete(*, patient: Patient, by) -> Patient:
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.status != Patient.Status.ENROLLED:
        raise ValidationError(
            f"Only an enrolled patient can complete the study; {patient.study_code} is "
            f"{patient.get_status_display().lower()}."
        )
    patient.status = Patient.Status.COMPLETED
    _save_audited(patient, by=by, reason="Completed the study")
    return patient


# --- Randomization --------------------------------------------------------------------------------

# Block sizes are these multiples of the sum of the allocation weights (1:1 gives blocks of 4 or 6),
# chosen at random per block so that the end of a block cannot be predicted.
BLOCK_MULTIPLIERS = (2, 3)
BLOCKS_GENERATED_AT_SET_UP = 25


class _KeyedRandom(random.Random):
    """A deterministic random stream from HMAC-SHA256 of a secret seed.

    Reproducible for audit (the same seed always gives the same list) yet not
    predictable from earlier allocations, unlike a Mersenne Twister.
    """

    def __init__(self, key: bytes, label: str):
        self._key = key
        self._label = label.encode()
        self._counter = 0
        super().__init__(0)

    def getrandbits(self, k: int) -> int:
        out = b""
        while len(out) * 8 < k:
            self._counter += 1
            out += hmac.new(self._key, self._label + self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(out, "big") >> (len(out) * 8 - k)

    def random(self) -> float:
        return self.getrandbits(53) / (1 << 53)


def randomization_block(*, seed: str, stratum: RandomizationStratum, block_number: int, arms) -> list[TreatmentArm]:
    rng = _KeyedRandom(bytes.fromhex(seed), f"{stratum.site.code}:{stratum.severity_band}:{block_number}")
    multiplier = rng.choice(BLOCK_MULTIPLIERS)
    block = [arm for arm in arms for _ in range(arm.allocation_weight * multiplier)]
    rng.shuffle(block)
    return block


def _extend_stratum(*, stratum: RandomizationStratum, seed: str, arms, blocks: int) -> None:
    last = stratum.slots.aggregate(p=Max("position"), b=Max("block_number"))
    position, block_number = last["p"] or 0, last["b"] or 0
    slots = []
    for _ in range(blocks):
        block_number += 1
        block = randomization_block(seed=seed, stratum=stratum, block_number=block_number, arms=arms)
        for arm in block:
            position += 1
            slots.append(
                RandomizationSlot(
                    stratum=stratum, position=position, block_number=block_number, block_size=len(block), arm=arm
                )
            )
    RandomizationSlot.objects.bulk_create(slots)


@transaction.atomic
def randomization_list_generate(*, study: Study, blocks_per_stratum: int = BLOCKS_GENERATED_AT_SET_UP, by=None) -> int:
    """Create the concealed allocation list for every stratum that has none. Returns slots created."""
    study = Study.objects.select_for_update().get(pk=study.pk)
    if not study.randomization_seed:
        study.randomization_seed = secrets.token_hex(32)
        if by is not None:  # otherwise the request's user, as in the admin
            study._history_user = by
        study._change_reason = "Randomization list generated"
        study.save(update_fields=["randomization_seed"])
    arms = list(study.arms.order_by("id"))
    if len(arms) < 2:
        raise ValidationError("A study needs at least two arms before its randomization list can be generated.")
    before = RandomizationSlot.objects.filter(stratum__study=study).count()
    for site in study.sites.all():
        for band in SeverityBand:
            stratum, _ = RandomizationStratum.objects.get_or_create(study=study, site=site, severity_band=band)
            if not stratum.slots.exists():
                _extend_stratum(stratum=stratum, seed=study.randomization_seed, arms=arms, blocks=blocks_per_stratum)
    return RandomizationSlot.objects.filter(stratum__study=study).count() - before


def _stratum_for(patient: Patient) -> RandomizationStratum:
    try:
        stratum, _ = RandomizationStratum.objects.get_or_create(
            study_id=patient.study_id, site_id=patient.site_id, severity_band=patient.severity_band
        )
    except IntegrityError:  # created by a concurrent allocation in between
        stratum = RandomizationStratum.objects.get(
            study_id=patient.study_id, site_id=patient.site_id, severity_band=patient.severity_band
        )
    return stratum


def patient_randomize(*, patient: Patient, by) -> TreatmentArm:
    """Allocate the next concealed slot of the patient's stratum. Can never be redone."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update(of=("self",)).select_related("study").get(pk=patient.pk)
        study = patient.study
        if study.randomization != Study.Randomization.SYSTEM:
            raise ValidationError("This study records arms assigned outside the system; ask a data manager.")
        if patient.is_randomized:
            raise ValidationError(
                f"{patient.study_code} was already allocated on {patient.arm_assigned_at:%Y-%m-%d}; "
                "an allocation is never redone."
            )
        if patient.status != Patient.Status.ENROLLED or not patient.consent_date:
            raise ValidationError(f"Only an enrolled, consented patient can be randomized; {patient} is not.")
        # The stratum comes from the locked row, not the caller's copy (whose grade may be stale),
        # and only once the patient is eligible, so that a refusal leaves nothing behind.
        stratum = _stratum_for(patient)
        # The stratum row lock serializes allocations within a stratum: two coordinators
        # pressing "Randomize" at the same moment queue here and take consecutive slots.
        stratum = RandomizationStratum.objects.select_for_update().get(pk=stratum.pk)
        slot = stratum.slots.filter(patient__isnull=True).order_by("position").first()
        if slot is None:
            if not study.randomization_seed:
                raise ValidationError("The randomization list has not been generated; ask a data manager.")
            _extend_stratum(
                stratum=stratum, seed=study.randomization_seed, arms=list(study.arms.order_by("id")), blocks=5
            )
            slot = stratum.slots.filter(patient__isnull=True).order_by("position").first()
        now = timezone.now()
        slot.patient = patient
        slot.allocated_at = now
        slot.allocated_by = by
        _save_audited(slot, by=by, reason=f"Allocated to {patient.study_code}")
        patient.arm = slot.arm
        patient.arm_assignment = Patient.ArmAssignment.RANDOMIZED
        patient.arm_assigned_at = now
        patient.arm_assigned_by = by
        _save_audited(patient, by=by, reason="Randomized")
    return patient.arm


@transaction.atomic
def patient_assign_arm_externally(*, patient: Patient, arm: TreatmentArm, by, reason: str) -> Patient:
    """Record an arm allocated outside this system (data entered after the fact). Data managers only."""
    reason = _require_reason(reason)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.is_randomized:
        raise ValidationError(f"{patient.study_code} already has an arm; an allocation is never redone.")
    if arm.study_id != patient.study_id:
        raise ValidationError({"arm": "That arm belongs to another study."})
    if patient.status == Patient.Status.SCREENING:
        raise ValidationError("Enroll the patient before recording an arm.")
    patient.arm = arm
    patient.arm_assignment = Patient.ArmAssignment.EXTERNAL
    patient.arm_assignment_reason = reason
    patient.arm_assigned_at = timezone.now()
    patient.arm_assigned_by = by
    _save_audited(patient, by=by, reason=f"Arm assigned outside the system: {reason}")
    return patient


# --- Visits ---------------------------------------------------------------------------------------


def visit_validate(*, patient: Patient, scheduled_visit: ScheduledVisit, visit: Visit) -> None:
    """The study's rules for a visit (dates, window, one per schedule slot, baseline first); raises ValidationError."""
    errors: dict[str, list[str]] = {}
    if scheduled_visit.study_id != patient.study_id:
        errors.setdefault("scheduled_visit", []).append("That visit belongs to another study's schedule.")
    performed = visit.date_performed
    if performed:
        if performed > timezone.localdate():
            errors.setdefault("date_performed", []).append("This date is in the future.")
        elif patient.enrollment_date and performed < patient.enrollment_date:
            errors.setdefault("date_performed", []).append(
                f"This date is before the patient's enrollment on {patient.enrollment_date:%Y-%m-%d}."
            )
        elif patient.enrollment_date:
            earliest, _, latest = scheduled_visit.window_for(patient.enrollment_date)
            if not earliest <= performed <= latest and not visit.protocol_deviation_reason.strip():
                message = (
                    f"Outside the window for {scheduled_visit.name} ({earliest:%Y-%m-%d} to {latest:%Y-%m-%d}). "
                    "To record it anyway, give a protocol-deviation reason."
                )
                errors.setdefault("date_performed", []).append(message)
                errors.setdefault("protocol_deviation_reason", []).append("Required: the date is outside the window.")
    others = Visit.objects.filter(patient=patient, status=RecordStatus.RECORDED).exclude(pk=visit.pk)
    duplicate = others.filter(scheduled_visit=scheduled_visit).first()
    if duplicate:
        errors.setdefault("scheduled_visit", []).append(
            f"{scheduled_visit.name} was already recorded on {duplicate.date_performed:%Y-%m-%d}."
        )
    if not scheduled_visit.is_baseline and not others.filter(scheduled_visit__day_offset=0).exists():
        errors.setdefault("scheduled_visit", []).append("Record the baseline visit before any follow-up.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def visit_record(*, patient: Patient, scheduled_visit: ScheduledVisit, by, date_performed: date, **fields) -> Visit:
    unknown = set(fields) - set(VISIT_FIELDS)
    if unknown:
        raise ValueError(f"visit_record does not take {sorted(unknown)}")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    _require_accepts_data(patient)
    visit = Visit(
        patient=patient, scheduled_visit=scheduled_visit, date_performed=date_performed, created_by=by, **fields
    )
    visit_validate(patient=patient, scheduled_visit=scheduled_visit, visit=visit)
    _save_audited(visit, by=by, reason="Recorded")
    return visit


@transaction.atomic
def visit_update(*, visit: Visit, by, reason: str, **changes) -> Visit:
    reason = _require_reason(reason)
    unknown = set(changes) - set(VISIT_FIELDS)
    if unknown:
        raise ValueError(f"visit_update cannot change {sorted(unknown)}")
    visit = Visit.objects.select_for_update(of=("self",)).select_related("patient", "scheduled_visit").get(pk=visit.pk)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided and cannot be edited.")
    if visit.patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{visit.patient} has been withdrawn; ask a data manager for corrections.")
    for k, v in changes.items():
        setattr(visit, k, v)
    visit_validate(patient=visit.patient, scheduled_visit=visit.scheduled_visit, visit=visit)
    _save_audited(visit, by=by, reason=reason)
    return visit


def _void(model, *, pk: int, by, reason: str, what: str):
    """Void instead of delete: the record stays, marked, with the reason, in the audit trail."""
    reason = _require_reason(reason)
    record = model.objects.select_for_update().get(pk=pk)
    if record.status == RecordStatus.VOIDED:
        raise ValidationError(f"This {what} is already voided.")
    record.status = RecordStatus.VOIDED
    record.void_reason = reason
    _save_audited(record, by=by, reason=f"Voided: {reason}")
    return record


@transaction.atomic
def visit_void(*, visit: Visit, by, reason: str) -> Visit:
    return _void(Visit, pk=visit.pk, by=by, reason=reason, what="visit")


# --- Injection sessions ---------------------------------------------------------------------------


class InjectionValidationError(ValidationError):
    """Carries errors for the session fields and, separately, for each point row (by index)."""

    def __init__(self, *, session_errors: dict, point_errors: dict[int, dict[str, list[str]]]):
        self.session_errors = session_errors
        self.point_errors = point_errors
        merged = {field: list(messages) for field, messages in session_errors.items()}
        for index, row in sorted(point_errors.items()):
            for field, messages in row.items():
                merged.setdefault("points", []).extend(f"Row {index + 1}, {field}: {m}" for m in messages)
        super().__init__(merged)


def _parse_units(raw) -> Decimal | None:
    try:
        units = Decimal(str(raw).strip()) if raw not in (None, "") else None
    except InvalidOperation:
        return None
    return units if units is not None and units.is_finite() else None


def injection_session_validate(*, patient: Patient, session: InjectionSession, points: list[dict]) -> None:
    """The rules of a recorded injection session and its points (arm, dates, product, each point's
    muscle, side and units within the study's ceilings, the session total), for the coordinator's
    form and the data manager's admin alike. Raises ``InjectionValidationError``."""
    study = patient.study
    session_errors: dict[str, list[str]] = {}
    point_errors: dict[int, dict[str, list[str]]] = {}

    if patient.arm is None:
        session_errors.setdefault("__all__", []).append("Randomize the patient before recording an injection.")
    elif not patient.arm.receives_injections:
        session_errors.setdefault("__all__", []).append(
            f"{patient.study_code} is in the {patient.arm.name} arm, which receives no injections."
        )
    if session.date:
        if session.date > timezone.localdate():
            session_errors.setdefault("date", []).append("This date is in the future.")
        elif patient.enrollment_date and session.date < patient.enrollment_date:
            session_errors.setdefault("date", []).append(
                f"This date is before the patient's enrollment on {patient.enrollment_date:%Y-%m-%d}."
            )
    if session.visit_id and session.visit.patient_id != patient.pk:
        session_errors.setdefault("visit", []).append("That visit belongs to another patient.")
    if session.product == Product.OTHER and not session.product_other.strip():
        session_errors.setdefault("product_other", []).append("Name the product.")

    if not points:
        session_errors.setdefault("__all__", []).append("Add at least one injection point.")
    total = Decimal("0")
    for index, point in enumerate(points):
        row: dict[str, list[str]] = {}
        if point.get("muscle") not in Muscle.values:
            row.setdefault("muscle", []).append("Choose a muscle from the list.")
        if point.get("side") not in InjectionSide.values:
            row.setdefault("side", []).append("Choose left, right or midline.")
        units = _parse_units(point.get("units"))
        if units is None:
            row.setdefault("units", []).append("Enter the units as a number.")
        elif units <= 0:
            row.setdefault("units", []).append("Units must be above zero.")
        elif units > study.max_units_per_point:
            row.setdefault("units", []).append(
                f"{units} U is above this study's ceiling of {study.max_units_per_point} U per point."
            )
        if units is not None and units > 0:
            total += units
        if point.get("muscle") == Muscle.OTHER and not (point.get("muscle_other") or "").strip():
            row.setdefault("muscle_other", []).append("Name the muscle.")
        if row:
            point_errors[index] = row
    if total > study.max_units_per_session:
        session_errors.setdefault("__all__", []).append(
            f"The session totals {total} U, above this study's ceiling of {study.max_units_per_session} U per session."
        )
    if session_errors or point_errors:
        raise InjectionValidationError(session_errors=session_errors, point_errors=point_errors)


def _save_points(*, session: InjectionSession, points: list[dict], by, reason: str) -> None:
    """Write the session's points in order: existing rows are corrected in place, new rows added,
    and rows no longer wanted voided with the reason. No point is ever deleted."""
    existing = list(session.points.filter(status=RecordStatus.RECORDED).order_by("id"))
    for index, point in enumerate(points):
        values = {
            "muscle": point["muscle"],
            "muscle_other": point.get("muscle_other", ""),
            "side": point["side"],
            "units": Decimal(str(point["units"])),
        }
        row = existing[index] if index < len(existing) else InjectionPoint(session=session)
        if row.pk and all(getattr(row, k) == v for k, v in values.items()):
            continue  # unchanged: no audit entry
        for k, v in values.items():
            setattr(row, k, v)
        _save_audited(row, by=by, reason=reason)
    for row in existing[len(points) :]:
        row.status = RecordStatus.VOIDED
        row.void_reason = reason
        _save_audited(row, by=by, reason=f"Removed: {reason}")


@transaction.atomic
def injection_session_record(*, patient: Patient, by, points: list[dict], **fields) -> InjectionSession:
    """Record a session and its points together; the total is derived from the points."""
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"injection_session_record does not take {sorted(unknown)}")
    # of=("self",): the arm is a nullable (outer) join, which PostgreSQL cannot lock; only the patient needs it.
    patient = Patient.objects.select_for_update(of=("self",)).select_related("study", "arm").get(pk=patient.pk)
    _require_accepts_data(patient)
    session = InjectionSession(patient=patient, created_by=by, **fields)
    injection_session_validate(patient=patient, session=session, points=points)
    _save_audited(session, by=by, reason="Recorded")
    _save_points(session=session, points=points, by=by, reason="Recorded")
    return session


@transaction.atomic
def injection_session_update(*, session: InjectionSession, by, reason: str, points: list[dict], **changes):
    reason = _require_reason(reason)
    unknown = set(changes) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"injection_session_update cannot change {sorted(unknown)}")
    session = InjectionSession.objects.select_for_update().get(pk=session.pk)
    patient = Patient.objects.select_related("study", "arm").get(pk=session.patient_id)
    if session.status == RecordStatus.VOIDED:
        raise ValidationError("This injection session has been voided and cannot be edited.")
    if patient.status == Patient.Status.WITHDRAWN:
        raise ValidationError(f"{patient} has been withdrawn; ask a data manager for corrections.")
    for k, v in changes.items():
        setattr(session, k, v)
    injection_session_validate(patient=patient, session=session, points=points)
    _save_audited(session, by=by, reason=reason)
    _save_points(session=session, points=points, by=by, reason=reason)
    return session


@transaction.atomic
def injection_session_void(*, session: InjectionSession, by, reason: str) -> InjectionSession:
    return _void(InjectionSession, pk=session.pk, by=by, reason=reason, what="injection session")


# --- Study set-up ---------------------------------------------------------------------------------

DEFAULT_ARMS = (
    {"code": "bont-a", "name": "BoNT-A", "receives_injections": True, "allocation_weight": 1},
    {"code": "control", "name": "Control", "receives_injections": False, "allocation_weight": 1},
)
DEFAULT_SCHEDULE = (
    {"code": "baseline", "name": "Baseline", "day_offset": 0, "window_before_days": 0, "window_after_days": 3},
    {"code": "week-2", "name": "Week 2", "day_offset": 14, "window_before_days": 3, "window_after_days": 3},
    {"code": "week-4", "name": "Week 4", "day_offset": 28, "window_before_days": 3, "window_after_days": 7},
    {"code": "week-12", "name": "Week 12", "day_offset": 84, "window_before_days": 7, "window_after_days": 7},
    {"code": "week-24", "name": "Week 24", "day_offset": 168, "window_before_days": 14, "window_after_days": 14},
)


@transaction.atomic
def study_set_up(
    *,
    code: str,
    title: str,
    sites: list[tuple[str, str]],
    arms: tuple[dict, ...] = DEFAULT_ARMS,
    schedule: tuple[dict, ...] = DEFAULT_SCHEDULE,
    randomization: str = Study.Randomization.SYSTEM,
    max_units_per_point: Decimal = Decimal("10"),
    max_units_per_session: Decimal = Decimal("50"),
    responder_threshold_mm: Decimal = Decimal("1.00"),
    by=None,
) -> Study:
    """Create a study with its sites, arms and schedule, and (for system randomization) its concealed list."""
    if not any(v["day_offset"] == 0 for v in schedule):
        raise ValidationError("The visit schedule needs a baseline visit at day 0.")
    study = Study(
        code=code,
        title=title,
        randomization=randomization,
        max_units_per_point=max_units_per_point,
        max_units_per_session=max_units_per_session,
        responder_threshold_mm=responder_threshold_mm,
    )
    _save_audited(study, by=by, reason="Study set up")
    for site_code, site_name in sites:
        _save_audited(Site(study=study, code=site_code, name=site_name), by=by, reason="Study set up")
    for arm in arms:
        _save_audited(TreatmentArm(study=study, **arm), by=by, reason="Study set up")
    for visit in schedule:
        _save_audited(ScheduledVisit(study=study, **visit), by=by, reason="Study set up")
    if randomization == Study.Randomization.SYSTEM:
        randomization_list_generate(study=study, by=by)
        # The list was generated on a locked copy of the study: without its seed this object, saved
        # again by the caller, would wipe the seed and the list could no longer be reproduced or extended.
        study.refresh_from_db(fields=["randomization_seed"])
    return study


# --- Study-defined outcomes -----------------------------------------------------------------------


def _outcome_value(outcome: StudyOutcome, raw) -> Decimal:
    """The value as a Decimal within the outcome's range, or a ValidationError that says why."""
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{outcome.code}: {raw!r} is not a number.") from None
    if not value.is_finite():
        raise ValidationError(f"{outcome.code}: {raw!r} is not a number.")
    if not outcome.min_value <= value <= outcome.max_value:
        raise ValidationError(
            f"{outcome.code}: {value} is outside the allowed range {outcome.min_value} to {outcome.max_value} "
            f"{outcome.unit}."
        )
    return value


@transaction.atomic
def visit_outcomes_record(*, visit: Visit, by, values: dict, reason: str = "Recorded") -> list[VisitOutcomeValue]:
    """Record or correct study-defined outcome values of a visit ({StudyOutcome: value}); None skips.

    A correction keeps the old value in the audit trail with the reason."""
    visit = Visit.objects.select_related("patient").get(pk=visit.pk)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided; its outcomes cannot be recorded.")
    saved = []
    for outcome, raw in values.items():
        if raw in (None, ""):
            continue
        if outcome.study_id != visit.patient.study_id:
            raise ValidationError(f"{outcome.code} belongs to another study.")
        value = _outcome_value(outcome, raw)
        record = VisitOutcomeValue.objects.filter(visit=visit, outcome=outcome).first()
        if record is None:
            record = VisitOutcomeValue(visit=visit, outcome=outcome, value=value, created_by=by)
        elif record.value == value:
            continue
        else:
            record.value = value
        record.full_clean()
        _save_audited(record, by=by, reason=reason)
        saved.append(record)
    return saved


OUTCOME_IMPORT_COLUMNS = ("study_code", "visit", "outcome", "value")


def outcome_values_import(*, study: Study, rows: list[dict], by, dry_run: bool) -> list[tuple[int, str]]:
    """Import study-defined outcome values keyed by patient study code and visit code.

    Returns every refused row as (line number, reason). Nothing is written unless every row
    passes and `dry_run` is false; a row for a value already recorded is refused (correct it
    on the visit form, with a reason)."""
    outcomes = {o.code: o for o in study.outcomes.all()}
    patients = {p.study_code: p for p in study.patients.all()}
    visits = {
        (v.patient_id, v.scheduled_visit.code): v
        for v in Visit.objects.filter(patient__study=study, status=RecordStatus.RECORDED).select_related(
            "scheduled_visit"
        )
    }
    existing = set(VisitOutcomeValue.objects.filter(visit__patient__study=study).values_list("visit_id", "outcome_id"))
    refused, accepted, seen = [], [], set()
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        missing = [c for c in OUTCOME_IMPORT_COLUMNS if not (row.get(c) or "").strip()]
        if missing:
            refused.append((line, f"missing {', '.join(missing)}"))
            continue
        code, visit_code, outcome_code = row["study_code"].strip(), row["visit"].strip(), row["outcome"].strip()
        patient, outcome = patients.get(code), outcomes.get(outcome_code)
        if patient is None:
            refused.append((line, f"no patient {code} in {study.code}"))
            continue
        if outcome is None:
            refused.append((line, f"unknown outcome {outcome_code!r}; defined: {', '.join(outcomes) or 'none'}"))
            continue
        visit = visits.get((patient.pk, visit_code))
        if visit is None:
            refused.append((line, f"{code} has no recorded visit {visit_code!r}"))
            continue
        try:
            value = _outcome_value(outcome, row["value"])
        except ValidationError as error:
            refused.append((line, " ".join(error.messages)))
            continue
        if (visit.pk, outcome.pk) in existing:
            refused.append((line, f"{code} {visit_code} already has {outcome_code}; correct it on the visit form"))
            continue
        if (visit.pk, outcome.pk) in seen:
            refused.append((line, f"{code} {visit_code} {outcome_code} appears twice in the file"))
            continue
        seen.add((visit.pk, outcome.pk))
        accepted.append(VisitOutcomeValue(visit=visit, outcome=outcome, value=value, created_by=by))
    if refused or dry_run:
        return refused
    with transaction.atomic():
        for record in accepted:
            _save_audited(record, by=by, reason="Imported from CSV")
    return refused
