"""Injection sessions and their points: the rules (units within the study's ceilings), recording,
correcting and voiding a session."""

from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..formatting import units_display
from ..models import InjectionPoint, InjectionSession, InjectionSide, Muscle, Patient, Product, RecordStatus
from .common import require_accepts_data, require_open_to_corrections, require_reason, save_audited, void_record

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
    visit = session.visit if session.visit_id else None
    if visit is not None and visit.patient_id != patient.pk:
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
                f"{units_display(units)} U is above this study's ceiling of "
                f"{units_display(study.max_units_per_point)} U per point."
            )
        if units is not None and units > 0:
            total += units
        if point.get("muscle") == Muscle.OTHER and not (point.get("muscle_other") or "").strip():
            row.setdefault("muscle_other", []).append("Name the muscle.")
        if row:
            point_errors[index] = row
    if total > study.max_units_per_session:
        session_errors.setdefault("__all__", []).append(
            f"The session totals {units_display(total)} U, above this study's ceiling of "
            f"{units_display(study.max_units_per_session)} U per session."
        )
    if session_errors or point_errors:
        raise InjectionValidationError(session_errors=session_errors, point_errors=point_errors)


def _save_points(*, session: InjectionSession, points: list[dict], by: User, reason: str) -> None:
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
        save_audited(row, by=by, reason=reason)
    for row in existing[len(points) :]:
        row.status = RecordStatus.VOIDED
        row.void_reason = reason
        save_audited(row, by=by, reason=f"Removed: {reason}")


@transaction.atomic
def injection_session_record(*, patient: Patient, by: User, points: list[dict], **fields) -> InjectionSession:
    """Record a session and its points together; the total is derived from the points."""
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"injection_session_record does not take {sorted(unknown)}")
    # of=("self",): the arm is a nullable (outer) join, which PostgreSQL cannot lock; only the patient needs it.
    patient = Patient.objects.select_for_update(of=("self",)).select_related("study", "arm").get(pk=patient.pk)
    require_accepts_data(patient)
    session = InjectionSession(patient=patient, created_by=by, **fields)
    injection_session_validate(patient=patient, session=session, points=points)
    save_audited(session, by=by, reason="Recorded")
    _save_points(session=session, points=points, by=by, reason="Recorded")
    return session


@transaction.atomic
def injection_session_update(*, session: InjectionSession, by: User, reason: str, points: list[dict], **changes):
    reason = require_reason(reason)
    unknown = set(changes) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"injection_session_update cannot change {sorted(unknown)}")
    session = InjectionSession.objects.select_for_update().get(pk=session.pk)
    patient = Patient.objects.select_related("study", "arm").get(pk=session.patient_id)
    if session.status == RecordStatus.VOIDED:
        raise ValidationError("This injection session has been voided and cannot be edited.")
    require_open_to_corrections(patient)
    for k, v in changes.items():
        setattr(session, k, v)
    injection_session_validate(patient=patient, session=session, points=points)
    save_audited(session, by=by, reason=reason)
    _save_points(session=session, points=points, by=by, reason=reason)
    return session


@transaction.atomic
def injection_session_void(*, session: InjectionSession, by: User, reason: str) -> InjectionSession:
    return void_record(InjectionSession, pk=session.pk, by=by, reason=reason, what="injection session")
