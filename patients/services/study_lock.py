"""Closing a study (locking its database) and reopening it. Data managers of the study only.

While a study is closed nothing is written to its records (`common.require_study_open`, called by
every write service); its coordinators see the outcome results only if a data manager also set
`Study.results_open_to_coordinators` (analysis.selectors.study_for_analysis).
"""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import Study, StudyRole
from .common import require_reason, save_audited


def _require_data_manager(study: Study, by: User) -> None:
    """The rule of the admin (`admin_scope.is_data_manager`), narrowed to this study."""
    if not by.is_active:
        raise PermissionDenied("This account is deactivated.")
    if by.is_superuser:
        return
    if not StudyRole.objects.filter(user=by, study=study, role=StudyRole.Role.DATA_MANAGER).exists():
        raise PermissionDenied(f"Only a data manager of {study.code} closes or reopens it.")


@transaction.atomic
def study_close(*, study: Study, by: User, reason: str) -> Study:
    """Lock the study's database: from now on no data can be entered or corrected, by anyone.

    The study row is locked FOR UPDATE, so the close waits for writes already under way (they hold
    it FOR SHARE, `require_study_open`) and any write that starts now waits, then sees it closed."""
    reason = require_reason(reason)
    study = Study.objects.select_for_update().get(pk=study.pk)
    _require_data_manager(study, by)
    if study.closed_on is not None:
        raise ValidationError(f"Study {study.code} is already closed (database locked on {study.closed_on:%Y-%m-%d}).")
    study.closed_on = timezone.localdate()
    save_audited(study, by=by, reason=f"Closed (database locked): {reason}")
    return study


@transaction.atomic
def study_reopen(*, study: Study, by: User, reason: str) -> Study:
    """Unlock a closed study (for a correction found after the lock, say). Its coordinators lose
    sight of the outcome results again while it is open, whatever `results_open_to_coordinators` says."""
    reason = require_reason(reason)
    study = Study.objects.select_for_update().get(pk=study.pk)
    _require_data_manager(study, by)
    if study.closed_on is None:
        raise ValidationError(f"Study {study.code} is open; only a closed study can be reopened.")
    study.closed_on = None
    save_audited(study, by=by, reason=f"Reopened (database unlocked): {reason}")
    return study
