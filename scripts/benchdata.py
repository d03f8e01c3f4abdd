"""The benchmarks' common start: a study set up through the services, then its patients as bulk rows."""

from datetime import timedelta


def bulk_study(code: str, title: str, patients: int, *, enrolled_days_ago: int = 200):
    """A study with two sites and `patients` enrolled patients, alternating arms (assigned outside the
    system), created with bulk_create: the benchmarks measure reading, not the services' writes.
    Returns (study, the benchmark's user, the schedule by visit code, the enrollment date)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from patients import services
    from patients.models import Patient

    user, _ = get_user_model().objects.get_or_create(username="bench")
    study = services.study_set_up(code=code, title=title, sites=[("S1", "One"), ("S2", "Two")])
    sites, arms = list(study.sites.all()), list(study.arms.order_by("id"))
    schedule = {v.code: v for v in study.schedule.all()}
    now = timezone.now()
    enrolled = timezone.localdate() - timedelta(days=enrolled_days_ago)
    rows = []
    for i in range(patients):
        site = sites[i % len(sites)]
        sequence = i // len(sites) + 1
        rows.append(
            Patient(
                study=study, site=site, site_sequence=sequence, study_code=f"{code}-{site.code}-{sequence:05d}",
                sex="female" if i % 2 else "male", affected_side="left" if i % 3 else "right",
                aetiology="bells_palsy", months_since_onset=12, baseline_house_brackmann=3,
                consent_date=enrolled, enrollment_date=enrolled, status="enrolled", arm=arms[i % 2],
                arm_assignment="external", arm_assignment_reason="benchmark", arm_assigned_at=now,
            )
        )  # fmt: skip
    Patient.objects.bulk_create(rows, batch_size=5000)
    return study, user, schedule, enrolled
