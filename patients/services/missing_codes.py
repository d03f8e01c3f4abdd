"""Missing-data codes: mark an expected item of a visit missing (with a code and a reason), withdraw
the mark, and clear it when the value is recorded after all.

The items a visit expects are its clinician grades, the study's own outcomes and the photos of the
standard set; the photos belong to the measurements app, which registers them here
(`register_photo_items`) so that this app never imports it. A value and a code never stand side by
side: marking an item that has a value is refused, and recording the value later voids the code with
the recorded reason "value recorded", which is what a data manager reading the audit trail expects
(the code was true until the value came; the trail keeps both).
"""

from collections.abc import Callable, Iterable

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ..missing_codes import GRADE_ITEMS, ItemKind, MissingCode, MissingItem
from ..models import RecordStatus, StudyOutcome, Visit, VisitOutcomeValue
from .common import require_open_to_corrections, require_reason, require_study_open, save_audited

VALUE_RECORDED = "value recorded"

# The photo items: {expression: label} and whether the visit has a current photo of an expression.
_photo_items: dict[str, str] = {}
_photo_has_value: list[Callable[[Visit, str], bool]] = []


def register_photo_items(items: dict[str, str], has_value: Callable[[Visit, str], bool]) -> None:
    _photo_items.update(items)
    if has_value not in _photo_has_value:
        _photo_has_value[:] = [has_value]


def photo_items() -> dict[str, str]:
    """{expression: label} of the standard set, as the measurements app registered it."""
    return dict(_photo_items)


def visit_expected_items(visit: Visit) -> list[tuple[str, str, str]]:
    """Every item the visit expects, as (kind, item code, label): grades, study outcomes, photos."""
    items = [(ItemKind.GRADE.value, code, label) for code, label in GRADE_ITEMS.items()]
    items += [
        (ItemKind.OUTCOME.value, o.code, o.name)
        for o in StudyOutcome.objects.filter(study_id=visit.patient.study_id).order_by("id")
    ]
    items += [(ItemKind.PHOTO.value, code, f"Photo: {label}") for code, label in _photo_items.items()]
    return items


def item_has_value(visit: Visit, item_kind: str, item_code: str) -> bool:
    if item_kind == ItemKind.GRADE:
        return getattr(visit, item_code) is not None
    if item_kind == ItemKind.OUTCOME:
        return VisitOutcomeValue.objects.filter(visit=visit, outcome__code=item_code).exists()
    return any(has_value(visit, item_code) for has_value in _photo_has_value)


@transaction.atomic
def missing_item_record(
    *, visit: Visit, item_kind: str, item_code: str, code: str, reason: str, by: User
) -> MissingItem:
    """Mark one expected item of a recorded visit missing. Refused where the item has a value, is
    already marked, is not expected of the visit, or the study is closed."""
    visit = Visit.objects.select_for_update(of=("self",)).select_related("patient").get(pk=visit.pk)
    require_open_to_corrections(visit.patient)
    if visit.status == RecordStatus.VOIDED:
        raise ValidationError("This visit has been voided; nothing of it can be marked missing.")
    labels = {(kind, item): label for kind, item, label in visit_expected_items(visit)}
    label = labels.get((item_kind, item_code))
    if label is None:
        raise ValidationError(f"{item_kind} {item_code!r} is not an item this visit expects.")
    if item_has_value(visit, item_kind, item_code):
        raise ValidationError(f"{label} has a value at this visit; correct the value instead of marking it missing.")
    reason = (reason or "").strip()
    if code == MissingCode.OTHER and not reason:
        raise ValidationError({"reason": "Say why the item is missing: the code “other” needs a reason."})
    item = MissingItem(
        visit=visit, item_kind=item_kind, item_code=item_code, code=code, missing_reason=reason, created_by=by
    )
    save_audited(item, by=by, reason=f"Marked missing: {MissingCode(code).label}" if code in MissingCode else "")
    return item


@transaction.atomic
def missing_item_void(*, item: MissingItem, by: User, reason: str) -> MissingItem:
    """Withdraw a missing-data code (it was wrong): the record stays, voided, with the reason."""
    reason = require_reason(reason)
    item = MissingItem.objects.select_for_update(of=("self",)).select_related("visit__patient").get(pk=item.pk)
    require_open_to_corrections(item.visit.patient)
    if item.status == RecordStatus.VOIDED:
        raise ValidationError("This missing-data code is already voided.")
    item.status = RecordStatus.VOIDED
    item.void_reason = reason
    save_audited(item, by=by, reason=f"Voided: {reason}")
    return item


def missing_items_clear(*, visit: Visit, item_kind: str, item_codes: Iterable[str], by: User | None) -> int:
    """Void the codes of items whose value has just been recorded; called inside the writer's
    transaction by every service that records a value (visits, outcomes, photos)."""
    require_study_open(visit.patient.study_id)
    return missing_items_clear_many(item_kind=item_kind, items={(visit.pk, code) for code in item_codes}, by=by)


def missing_items_clear_many(*, item_kind: str, items: set[tuple[int, str]], by: User | None) -> int:
    """missing_items_clear for many visits at once ({(visit id, item code)}), in one query: the outcome
    import's. The caller has checked that the study is open, inside its transaction."""
    cleared = 0
    recorded = MissingItem.objects.select_for_update().filter(
        visit_id__in={visit_id for visit_id, _ in items}, item_kind=item_kind, status=RecordStatus.RECORDED
    )
    for item in recorded:
        if (item.visit_id, item.item_code) not in items:
            continue
        item.status = RecordStatus.VOIDED
        item.void_reason = VALUE_RECORDED
        save_audited(item, by=by, reason=f"Voided: {VALUE_RECORDED}")
        cleared += 1
    return cleared
