"""Randomization: the concealed allocation list (generated in blocks per stratum), allocation of
the next slot, and arms assigned outside the system. The random stream itself is `patients.keyed_random`."""

import secrets

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from ..audit import set_history_reason, set_history_user
from ..keyed_random import allocation_block
from ..models import Patient, RandomizationSlot, RandomizationStratum, SeverityBand, Study, TreatmentArm
from .common import require_reason, require_study_open, save_audited
from .eligibility import require_eligible

BLOCKS_GENERATED_AT_SET_UP = 25


def randomization_block(*, seed: str, stratum: RandomizationStratum, block_number: int, arms) -> list[TreatmentArm]:
    """One block of the stratum's list, rebuilt from the study's seed: the same seed gives the same block."""
    arms = list(arms)
    return allocation_block(
        seed=seed,
        label=f"{stratum.site.code}:{stratum.severity_band}:{block_number}",
        arms=arms,
        weights=[arm.allocation_weight for arm in arms],
    )


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
def randomization_list_generate(
    *,
    study: Study,
    blocks_per_stratum: int = BLOCKS_GENERATED_AT_SET_UP,
    by: User | None = None,
    seed: str | None = None,
) -> int:
    """Create the concealed allocation list for every stratum that has none. Returns slots created.

    The list's secret seed is drawn here unless ``seed`` (64 hex digits) is given: only the demo
    trial gives one, so that the same demo seed builds the same study. A real study never should.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)
    if not study.randomization_seed:
        if seed is not None and (len(seed) != 64 or any(c not in "0123456789abcdef" for c in seed)):
            raise ValueError("A randomization seed is 64 lower-case hex digits.")
        study.randomization_seed = seed or secrets.token_hex(32)
        if by is not None:  # otherwise the request's user, as in the admin
            set_history_user(study, by)
        set_history_reason(study, "Randomization list generated")
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


def patient_randomize(*, patient: Patient, by: User) -> TreatmentArm:
    """Allocate the next concealed slot of the patient's stratum. Can never be redone."""
    with transaction.atomic():
        patient = Patient.objects.select_for_update(of=("self",)).select_related("study").get(pk=patient.pk)
        study = patient.study
        require_study_open(study)
        if study.randomization != Study.Randomization.SYSTEM:
            raise ValidationError("This study records arms assigned outside the system; ask a data manager.")
        if patient.is_randomized:
            raise ValidationError(
                f"{patient.study_code} was already allocated on {patient.arm_assigned_at:%Y-%m-%d}; "
                "an allocation is never redone."
            )
        if patient.status != Patient.Status.ENROLLED or not patient.consent_date:
            raise ValidationError(f"Only an enrolled, consented patient can be randomized; {patient} is not.")
        require_eligible(patient)
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
            assert slot is not None, "a stratum just extended by whole blocks has a free slot"
        now = timezone.now()
        slot.patient = patient
        slot.allocated_at = now
        slot.allocated_by = by
        save_audited(slot, by=by, reason=f"Allocated to {patient.study_code}")
        patient.arm = slot.arm
        patient.arm_assignment = Patient.ArmAssignment.RANDOMIZED
        patient.arm_assigned_at = now
        patient.arm_assigned_by = by
        save_audited(patient, by=by, reason="Randomized")
    return patient.arm


@transaction.atomic
def patient_assign_arm_externally(*, patient: Patient, arm: TreatmentArm, by: User, reason: str) -> Patient:
    """Record an arm allocated outside this system (data entered after the fact). Data managers only."""
    reason = require_reason(reason)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    require_study_open(patient.study_id)
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
    save_audited(patient, by=by, reason=f"Arm assigned outside the system: {reason}")
    return patient
