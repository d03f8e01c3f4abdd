"""Randomizations pressed at the same moment, from separate threads and database connections.

These run on real PostgreSQL, where row locks decide the outcome: on SQLite,
select_for_update() does nothing and these tests would prove nothing.
"""

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from patients import services
from patients.models import Patient, RandomizationSlot, RandomizationStratum, SeverityBand, Site, Study
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 10


@pytest.fixture(autouse=True)
def on_postgresql():
    assert connection.vendor == "postgresql", (
        "the concurrency tests need PostgreSQL (set DATABASE_URL); "
        f"on {connection.vendor} row locks are not real and these tests prove nothing"
    )


def run_at_once(calls):
    """Run each call in its own thread (and so its own connection), released together by a barrier.

    Returns (results, errors): the value or the exception of each call, by index.
    """
    barrier = threading.Barrier(len(calls), timeout=30)
    results, errors = {}, {}

    def worker(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - reported to the test, which asserts on it
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a randomization hung (deadlock?)"
    return results, errors


def randomize_call(patient_pk, user):
    # Each thread loads the patient itself, as a request would.
    return lambda: services.patient_randomize(patient=Patient.objects.get(pk=patient_pk), by=user).pk


def test_simultaneous_randomizations_in_one_stratum_take_distinct_consecutive_slots(study, site_a, coordinator_a):
    patients = [make_patient(site_a, coordinator_a, grade=2) for _ in range(THREADS)]
    stratum = RandomizationStratum.objects.get(study=study, site=site_a, severity_band=SeverityBand.MILD_MODERATE)

    results, errors = run_at_once([randomize_call(p.pk, coordinator_a) for p in patients])

    assert errors == {}
    slots = list(RandomizationSlot.objects.filter(patient__isnull=False).select_related("patient"))
    assert len(slots) == THREADS
    assert {slot.patient_id for slot in slots} == {p.pk for p in patients}, "every patient has one slot"
    assert all(slot.stratum_id == stratum.pk for slot in slots)
    assert sorted(slot.position for slot in slots) == list(range(1, THREADS + 1))
    for index, patient in enumerate(patients):
        slot = next(s for s in slots if s.patient_id == patient.pk)
        assert slot.patient.arm_id == slot.arm_id == results[index]
    first_slots_arms = Counter(stratum.slots.order_by("position").values_list("arm_id", flat=True)[:THREADS])
    assert Counter(Patient.objects.values_list("arm_id", flat=True)) == first_slots_arms


def test_two_simultaneous_randomizations_of_the_same_patient_allocate_once(study, patient_a, coordinator_a):
    results, errors = run_at_once([randomize_call(patient_a.pk, coordinator_a) for _ in range(2)])

    assert len(results) == 1 and len(errors) == 1
    (error,) = errors.values()
    assert isinstance(error, ValidationError)
    assert "an allocation is never redone" in error.messages[0]
    slot = RandomizationSlot.objects.get(patient__isnull=False)
    patient_a.refresh_from_db()
    assert (slot.patient_id, slot.position) == (patient_a.pk, 1)
    assert patient_a.arm_id == slot.arm_id == next(iter(results.values()))
    assert patient_a.history.filter(history_change_reason="Randomized").count() == 1


def test_simultaneous_randomizations_that_exhaust_the_list_extend_it_once(study, coordinator_a):
    short = services.study_set_up(
        code="SHORT-1",
        title="A list of one block per stratum",
        sites=[("LON", "London")],
        randomization=Study.Randomization.EXTERNAL,
    )
    Study.objects.filter(pk=short.pk).update(randomization=Study.Randomization.SYSTEM)
    services.randomization_list_generate(study=short, blocks_per_stratum=1)
    site = short.sites.get()
    stratum = RandomizationStratum.objects.get(study=short, site=site, severity_band=SeverityBand.MILD_MODERATE)
    first_block = stratum.slots.count()
    patients = [make_patient(site, coordinator_a, grade=2) for _ in range(THREADS)]

    results, errors = run_at_once([randomize_call(p.pk, coordinator_a) for p in patients])

    assert errors == {}
    assert first_block < THREADS
    assert sorted(stratum.slots.filter(patient__isnull=False).values_list("position", flat=True)) == list(
        range(1, THREADS + 1)
    )
    # One extension of five blocks, not one per thread that found the list empty.
    assert sorted(set(stratum.slots.values_list("block_number", flat=True))) == [1, 2, 3, 4, 5, 6]
    positions = list(stratum.slots.order_by("position").values_list("position", flat=True))
    assert positions == list(range(1, len(positions) + 1))


def test_a_site_added_after_set_up_gets_one_list_when_its_first_patients_are_randomized_at_once(study, coordinator_a):
    site = Site.objects.create(study=study, code="BRI", name="Bristol")  # no stratum, no list yet
    patients = [make_patient(site, coordinator_a, grade=2) for _ in range(THREADS)]

    results, errors = run_at_once([randomize_call(p.pk, coordinator_a) for p in patients])

    assert errors == {}
    (stratum,) = RandomizationStratum.objects.filter(site=site)
    assert stratum.severity_band == SeverityBand.MILD_MODERATE
    assert sorted(stratum.slots.filter(patient__isnull=False).values_list("position", flat=True)) == list(
        range(1, THREADS + 1)
    )
    assert sorted(set(stratum.slots.values_list("block_number", flat=True))) == [1, 2, 3, 4, 5]
