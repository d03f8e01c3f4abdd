"""The summary's cache key: the filters plus a stamp of everything the numbers depend on.

The stamp is the newest audit-trail row (django-simple-history) of each record kind that
feeds the summary, and the newest score, read in one query. Any recorded change (a score,
a visit, a photo retake, an arm, a patient's status, the study's responder threshold, its
schedule, sites or own outcomes) moves one of them, so a repeat view is never stale.
Writes that bypass the services and their history (a raw `.update()`) are not seen.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import Max, OuterRef, Subquery

from measurements.models import Photo, PhotoScore
from patients.models import Patient, ScheduledVisit, Site, Study, StudyOutcome, TreatmentArm, Visit, VisitOutcomeValue

TIMEOUT_SECONDS = 24 * 3600
VERSION = "summary-v1"


def _latest(queryset, group: str, field: str = "history_id") -> Subquery:
    return Subquery(queryset.order_by().values(group).annotate(m=Max(field)).values("m")[:1])


def data_stamp(study: Study) -> str:
    study_ref = OuterRef("pk")
    row = (
        Study.objects.filter(pk=study.pk)
        .annotate(
            study_h=_latest(Study.history.filter(id=study_ref), "id"),
            patient_h=_latest(Patient.history.filter(study_id=study_ref), "study_id"),
            visit_h=_latest(Visit.history.filter(patient__study_id=study_ref), "patient__study_id"),
            photo_h=_latest(Photo.history.filter(patient__study_id=study_ref), "patient__study_id"),
            score=_latest(
                PhotoScore.objects.filter(photo__patient__study_id=study_ref), "photo__patient__study_id", "id"
            ),
            arm_h=_latest(TreatmentArm.history.filter(study_id=study_ref), "study_id"),
            site_h=_latest(Site.history.filter(study_id=study_ref), "study_id"),
            schedule_h=_latest(ScheduledVisit.history.filter(study_id=study_ref), "study_id"),
            outcome_h=_latest(StudyOutcome.history.filter(study_id=study_ref), "study_id"),
            value_h=_latest(
                VisitOutcomeValue.history.filter(visit__patient__study_id=study_ref), "visit__patient__study_id"
            ),
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
