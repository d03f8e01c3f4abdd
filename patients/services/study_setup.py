"""Study set-up: a study with its sites, arms, visit schedule and (for system randomization) its list."""

from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import ScheduledVisit, Site, Study, TreatmentArm
from .common import save_audited
from .randomization import randomization_list_generate

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
    by: User | None = None,
    randomization_seed: str | None = None,
) -> Study:
    """Create a study with its sites, arms and schedule, and (for system randomization) its concealed list.

    ``randomization_seed`` is for the demo trial only (see ``randomization_list_generate``)."""
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
    save_audited(study, by=by, reason="Study set up")
    for site_code, site_name in sites:
        save_audited(Site(study=study, code=site_code, name=site_name), by=by, reason="Study set up")
    for arm in arms:
        save_audited(TreatmentArm(study=study, **arm), by=by, reason="Study set up")
    for visit in schedule:
        save_audited(ScheduledVisit(study=study, **visit), by=by, reason="Study set up")
    if randomization == Study.Randomization.SYSTEM:
        randomization_list_generate(study=study, by=by, seed=randomization_seed)
        # The list was generated on a locked copy of the study: without its seed this object, saved
        # again by the caller, would wipe the seed and the list could no longer be reproduced or extended.
        study.refresh_from_db(fields=["randomization_seed"])
    return study
