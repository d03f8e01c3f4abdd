"""The CONSORT counts, from the records: each patient counted once, whatever their visits."""

from analysis.consort import consort_counts
from patients import services
from tests.analysis.conftest import ENROLLED_DAYS_AGO, record_visit
from tests.conftest import make_patient, record_treatment


def test_consort_counts_each_patient_once(study, site_a, coordinator_a, data_manager, bont_arm, control_arm):
    make_patient(site_a, coordinator_a, enroll=False)  # registered, never enrolled
    make_patient(site_a, coordinator_a)  # enrolled, never randomized
    treated = make_patient(site_a, coordinator_a, enrolled_days_ago=ENROLLED_DAYS_AGO)
    services.patient_assign_arm_externally(patient=treated, arm=bont_arm, by=data_manager, reason="Set-up")
    treated.refresh_from_db()
    record_treatment(treated, coordinator_a)
    untreated = make_patient(site_a, coordinator_a)
    services.patient_assign_arm_externally(patient=untreated, arm=bont_arm, by=data_manager, reason="Set-up")
    control = make_patient(site_a, coordinator_a, enrolled_days_ago=ENROLLED_DAYS_AGO)
    services.patient_assign_arm_externally(patient=control, arm=control_arm, by=data_manager, reason="Set-up")
    for code in ("baseline", "week-2", "week-4"):
        record_visit(control, code, by=coordinator_a)
    services.patient_withdraw(patient=control, by=coordinator_a, reason="Moved away")

    counts = consort_counts(study)

    assert (counts["registered"], counts["enrolled"], counts["randomized"]) == (5, 4, 3)
    assert (counts["not_enrolled"], counts["not_randomized"]) == (1, 1)
    arms = {arm["code"]: arm for arm in counts["arms"]}
    assert arms["bont-a"]["randomized"] == 2 and arms["bont-a"]["assigned_outside"] == 2
    assert arms["bont-a"]["received_allocated"] == 1, "one of the two BoNT-A patients was injected"
    assert arms["control"]["received_allocated"] == 1, "the control patient received no injection, as allocated"
    # Withdrawn after three recorded visits: one patient, not three.
    assert arms["control"]["withdrawn"] == 1
    assert arms["control"]["withdrawn_after"] == [{"after": "Week 4", "n": 1}]
    assert arms["bont-a"]["withdrawn_after"] == []
