"""The summary's cache key: the filters plus a stamp of everything the numbers depend on.

The stamp is the newest audit-trail row (django-simple-history) of each record kind that
feeds the summary, and the newest score, read in one query of primary-key look-ups. Any recorded change (a score,
a visit, a photo retake, an arm, a patient's status, the study's responder threshold, its
schedule, sites or own outcomes) moves one of them, so a repeat view is never stale.
Writes that bypass the services and their history (a raw `.update()`) are not seen.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import Subquery

from measurements.models import Photo, PhotoScore
from patients.models import Patient, ScheduledVisit, Site, Study, StudyOutcome, TreatmentArm, Visit, VisitOutcomeValue

TIMEOUT_SECONDS = 24 * 3600
VERSION = "summary-v1"


def _newest(queryset, field: str = "history_id") -> Subquery:
    # ORDER BY pk DESC LIMIT 1 reads one entry of the primary-key index, whatever the table's size.
    return Subquery(queryset.order_by(f"-{field}").values(field)[:1])


def data_stamp(study: Study) -> str:
    """The newest row of every table the summary reads, in one query of index look-ups.

    Deliberately not filtered by study: a study filter joins the audit tables to the records
    and costs a scan (hundreds of ms at 10,000 patients), where the newest row overall costs
    microseconds. A change in another study therefore also renews this study's key: the
    cache is emptied a little more often than it must be, but never serves stale numbers.
    """
    row = (
        Study.objects.filter(pk=study.pk)
        .annotate(
            study_h=_newest(Study.history.all()),
            patient_h=_newest(Patient.history.all()),
            visit_h=_newest(Visit.history.all()),
            photo_h=_newest(Photo.history.all()),
            score=_newest(PhotoScore.objects.all(), "id"),
            arm_h=_newest(TreatmentArm.history.all()),
            site_h=_newest(Site.history.all()),
            schedule_h=_newest(ScheduledVisit.history.all()),
            outcome_h=_newest(StudyOutcome.history.all()),
            value_h=_newest(VisitOutcomeValue.history.all()),
        )
        .values_list(
            "study_h",
            "patient_h",
            "visit_h",
            "photo_h",
            "score",
            "arm_h",
            "site_h",
            "schedule_h",
            "outcome_h",
            "value_h",
        )  # fmt: skip
        .first()
    )
    return "-".join(str(v) for v in row or ())


def summary_key(study: Study, **filters) -> str:
    parts = [VERSION, str(study.pk), data_stamp(study)] + [f"{k}={filters[k] or ''}" for k in sorted(filters)]
    return "analysis:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def cached(key: str, compute):
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, TIMEOUT_SECONDS)
    return value
