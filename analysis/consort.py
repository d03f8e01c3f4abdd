"""The CONSORT flow from the records: counted on every request, so it is current when opened.

Withdrawal reasons are free text (identifying, see patients/identifiers.py): the diagram
counts withdrawals per arm and by the last visit attended, never by their text.
"""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Exists, Max, OuterRef, Q

from patients.models import InjectionSession, Patient, RecordStatus, Study


def consort_counts(
    study: Study, *, site_code: str | None = None, analysed: dict | None = None, not_yet_due: dict | None = None
) -> dict:
    """Registered, enrolled, randomized per arm (and how), received the allocated intervention,
    withdrawn per arm by last visit attended, and, at the chosen visit, analysed, follow-up in progress
    (not yet due) and not analysed per arm, which add up to the allocated (analysed and not yet due come
    from the summary, analysis.selectors.not_yet_due's rule)."""
    patients = Patient.objects.filter(study=study)
    if site_code:
        patients = patients.filter(site__code=site_code)
    totals = patients.aggregate(
        registered=Count("id"),
        enrolled=Count("id", filter=Q(enrollment_date__isnull=False)),
        randomized=Count("id", filter=Q(arm__isnull=False)),
    )
    injected = InjectionSession.objects.filter(patient=OuterRef("pk"), status=RecordStatus.RECORDED)
    per_arm = (
        patients.filter(arm__isnull=False)
        .annotate(has_injection=Exists(injected))
        .values("arm__code", "arm__name", "arm__receives_injections")
        .annotate(
            randomized=Count("id"),
            in_system=Count("id", filter=Q(arm_assignment=Patient.ArmAssignment.RANDOMIZED)),
            external=Count("id", filter=Q(arm_assignment=Patient.ArmAssignment.EXTERNAL)),
            injected=Count("id", filter=Q(has_injection=True)),
            withdrawn=Count("id", filter=Q(status=Patient.Status.WITHDRAWN)),
            completed=Count("id", filter=Q(status=Patient.Status.COMPLETED)),
        )
        .order_by("arm__id")
    )
    # One row per withdrawn patient (the last visit they were seen at), counted here: counting in the
    # query would count the joined visit rows, not the patients.
    withdrawals = Counter(
        (row["arm__code"], row["last_day"])
        for row in patients.filter(arm__isnull=False, status=Patient.Status.WITHDRAWN)
        .annotate(last_day=Max("visits__scheduled_visit__day_offset", filter=Q(visits__status=RecordStatus.RECORDED)))
        .values("arm__code", "last_day")
    )
    schedule = {v.day_offset: v.name for v in study.schedule.all()}
    arms = []
    for row in per_arm:
        received = row["injected"] if row["arm__receives_injections"] else row["randomized"] - row["injected"]
        lost = [
            {"after": schedule.get(last_day, "before any visit"), "n": n}
            for (code, last_day), n in sorted(withdrawals.items(), key=lambda w: (w[0][1] is not None, w[0][1] or 0))
            if code == row["arm__code"]
        ]
        analysed_n = (analysed or {}).get(row["arm__code"])
        in_progress = (not_yet_due or {}).get(row["arm__code"])
        not_analysed = row["randomized"] - analysed_n - (in_progress or 0) if analysed_n is not None else None
        arms.append(
            {
                "code": row["arm__code"],
                "name": row["arm__name"],
                "randomized": row["randomized"],
                "randomized_in_system": row["in_system"],
                "assigned_outside": row["external"],
                "received_allocated": received,
                "withdrawn": row["withdrawn"],
                "withdrawn_after": lost,
                "completed": row["completed"],
                "analysed": analysed_n,
                "follow_up_in_progress": in_progress,
                "not_analysed": not_analysed,
            }
        )
    return {**totals, "not_enrolled": totals["registered"] - totals["enrolled"],
            "not_randomized": totals["enrolled"] - totals["randomized"], "arms": arms}  # fmt: skip
