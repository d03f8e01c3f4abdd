"""A running study's settings: what decides the allocation is locked once a patient has an arm, and a
change of the visit schedule says which recorded visits it moves in or out of their window first.

The admin's study, site, arm and schedule pages save through `study_setting_save`; it compares the
submitted row with the stored one (not with the form it came from, which may be an old version
brought back by the history page), so no path around the lock is left.
"""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model

from ..models import Patient, RecordStatus, ScheduledVisit, Site, Study, TreatmentArm, Visit
from .common import require_reason, save_audited

# What decides the concealed list or what an allocation means. The weights make each block (its arms
# and, as multiples of their sum, its size: keyed_random.BLOCK_MULTIPLIERS); a site's code names its
# strata's blocks (randomization.randomization_block), so a new code would draw different future
# blocks from the same seed; the mode says whether the list is used at all; an arm's code is what an
# allocation is exported as. The seed itself is never a field of any form.
ALLOCATION_FIELDS: dict[type[Model], tuple[str, ...]] = {
    Study: ("randomization",),
    TreatmentArm: ("code", "allocation_weight"),
    Site: ("code",),
}
SCHEDULE_FIELDS = ("day_offset", "window_before_days", "window_after_days")


def allocated_patients(study: Study | int) -> int:
    """How many patients of the study have an arm (randomized here or assigned outside the system)."""
    study_id = study if isinstance(study, int) else study.pk
    return Patient.objects.filter(study_id=study_id, arm__isnull=False).count()


def allocation_locked_message(count: int, what: str) -> str:
    patients = "1 patient has" if count == 1 else f"{count} patients have"
    return (
        f"Locked: {patients} been allocated, and {what} would change the concealed allocation list "
        "for every patient still to come. A study's allocation is fixed once it has started; if it must "
        "change, that is a protocol amendment: write it up with the statistician."
    )


def _study_id(instance: Model) -> int:
    return instance.pk if isinstance(instance, Study) else instance.study_id  # type: ignore[attr-defined]


def allocation_changes(instance: Model, *, stored: Model | None) -> list[str]:
    """The allocation fields of `instance` that differ from the stored row (all of them for a new arm)."""
    fields = ALLOCATION_FIELDS.get(type(instance), ())
    if stored is None:
        return ["new arm"] if isinstance(instance, TreatmentArm) else []
    return [name for name in fields if getattr(instance, name) != getattr(stored, name)]


def study_setting_check(*, instance: Model, stored: Model | None) -> None:
    """Refuse a change of what decides the allocation once a patient has an arm, beside its field."""
    changed = allocation_changes(instance, stored=stored)
    if not changed:
        return
    count = allocated_patients(_study_id(instance))
    if not count:
        return
    if changed == ["new arm"]:
        raise ValidationError(allocation_locked_message(count, "a new arm"), code="allocation_locked")
    labels = {name: str(getattr(type(instance)._meta.get_field(name), "verbose_name", name)) for name in changed}
    raise ValidationError(
        {name: allocation_locked_message(count, f"changing the {label}") for name, label in labels.items()},
        code="allocation_locked",
    )


@dataclass(frozen=True)
class ScheduleEffect:
    """What a change of one scheduled visit's day or window does to the visits already recorded."""

    visit_name: str
    recorded: int
    in_to_out: int
    out_to_in: int

    @property
    def changes_anything(self) -> bool:
        return bool(self.in_to_out or self.out_to_in)

    @property
    def text(self) -> str:
        def visits(n: int) -> str:
            return "1 visit changes" if n == 1 else f"{n} visits change"

        return (
            f"{visits(self.in_to_out)} from in-window to out-of-window and {self.out_to_in} from out-of-window "
            f"to in-window, of the {self.recorded} recorded {self.visit_name} visit{'s' if self.recorded != 1 else ''}."
        )


def schedule_change_effect(*, scheduled_visit: ScheduledVisit, stored: ScheduledVisit) -> ScheduleEffect:
    """Count the recorded visits of `stored` whose window status the values of `scheduled_visit` change."""
    rows = Visit.objects.filter(
        scheduled_visit=stored, status=RecordStatus.RECORDED, patient__enrollment_date__isnull=False
    ).values_list("date_performed", "patient__enrollment_date")
    in_to_out = out_to_in = recorded = 0
    for performed, enrolled in rows:
        recorded += 1
        before_first, _, before_last = stored.window_for(enrolled)
        after_first, _, after_last = scheduled_visit.window_for(enrolled)
        was_in = before_first <= performed <= before_last
        now_in = after_first <= performed <= after_last
        in_to_out += was_in and not now_in
        out_to_in += now_in and not was_in
    return ScheduleEffect(stored.name, recorded, in_to_out, out_to_in)


def schedule_changes(instance: Model, *, stored: Model | None) -> bool:
    return (
        isinstance(instance, ScheduledVisit)
        and stored is not None
        and any(getattr(instance, name) != getattr(stored, name) for name in SCHEDULE_FIELDS)
    )


@transaction.atomic
def study_setting_save(
    *, instance: Model, by: User | None, reason: str, schedule_effect_seen: str | None = None
) -> ScheduleEffect | None:
    """Save a study, site, arm or scheduled visit of a running study, audited with the reason.

    Refused: a change of what decides the allocation once a patient has an arm (`study_setting_check`),
    and a change of a visit's day or window that moves recorded visits in or out of their window unless
    `schedule_effect_seen` is the effect's text as shown to the user (`schedule_change_effect`): the
    effect is shown before anything is saved. Returns the effect of a schedule change."""
    # The study row FOR UPDATE: a randomization under way (it reads the row FOR SHARE) commits first,
    # and one that starts now waits, so the count of allocated patients below is the true one.
    Study.objects.select_for_update().filter(pk=_study_id(instance)).first()
    model = type(instance)
    stored = model._default_manager.filter(pk=instance.pk).first() if instance.pk else None
    if stored is not None:
        reason = require_reason(reason)
    if isinstance(instance, Study) and isinstance(stored, Study):
        # Never fields of a form, whatever version of the row was submitted: the list's secret, and the
        # lock date (study_close / study_reopen).
        instance.randomization_seed, instance.closed_on = stored.randomization_seed, stored.closed_on
    study_setting_check(instance=instance, stored=stored)
    effect = None
    if schedule_changes(instance, stored=stored):
        assert isinstance(instance, ScheduledVisit) and isinstance(stored, ScheduledVisit)
        effect = schedule_change_effect(scheduled_visit=instance, stored=stored)
        if effect.changes_anything and schedule_effect_seen != effect.text:
            raise ValidationError(
                f"{effect.text} Review this before saving: the change applies to visits already recorded.",
                code="schedule_effect_unseen",
            )
    save_audited(instance, by=by, reason=reason or "Created")
    return effect
