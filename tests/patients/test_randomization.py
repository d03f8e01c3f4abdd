"""The concealed allocation list: balanced, reproducible from its seed, hidden, never redone.

The list is stratified by site and baseline severity band and made of permuted
blocks whose size (two or three times the sum of the arm weights) is drawn at
random, so that a coordinator cannot guess the end of a block.
"""

from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients import selectors, services
from patients.demo import data_managers_group, ensure_user
from patients.models import (
    Patient,
    RandomizationSlot,
    RandomizationStratum,
    SeverityBand,
    Study,
    StudyRole,
)
from tests.conftest import PASSWORD, make_patient

MILD_GRADE, SEVERE_GRADE = 2, 5


@pytest.fixture
def pages(settings):
    """Pages render without collectstatic: the manifest of static files is the deployment's business."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def blocks_of(stratum) -> dict[int, list[RandomizationSlot]]:
    blocks = defaultdict(list)
    for slot in stratum.slots.select_related("arm").order_by("position"):
        blocks[slot.block_number].append(slot)
    return dict(blocks)


def arm_codes(slots) -> Counter:
    return Counter(slot.arm.code for slot in slots)


def stratum_of(study, site, band) -> RandomizationStratum:
    return RandomizationStratum.objects.get(study=study, site=site, severity_band=band)


def assert_permuted_blocks(stratum, *, ratio: dict[str, int], sizes: set[int]) -> None:
    blocks = blocks_of(stratum)
    assert list(blocks) == list(range(1, len(blocks) + 1)), "block numbers are consecutive from 1"
    positions = [slot.position for slots in blocks.values() for slot in slots]
    assert positions == list(range(1, len(positions) + 1)), "positions are consecutive from 1, block after block"
    weight = sum(ratio.values())
    for number, slots in blocks.items():
        size = slots[0].block_size
        assert size in sizes, f"{stratum} block {number} has size {size}"
        assert len(slots) == size and {slot.block_size for slot in slots} == {size}
        assert arm_codes(slots) == {code: share * size // weight for code, share in ratio.items()}, (
            f"{stratum} block {number} is unbalanced"
        )


# --- Balance --------------------------------------------------------------------------------------


def test_every_block_of_every_stratum_holds_both_arms_equally_often(study):
    strata = list(study.strata.select_related("site"))

    assert {(s.site.code, s.severity_band) for s in strata} == {
        (site, band) for site in ("LON", "MAN") for band in SeverityBand.values
    }
    for stratum in strata:
        assert_permuted_blocks(stratum, ratio={"bont-a": 1, "control": 1}, sizes={4, 6})


def test_block_sizes_vary_so_the_end_of_a_block_cannot_be_guessed(study):
    sizes = Counter(
        size
        for size, _ in RandomizationSlot.objects.filter(stratum__study=study)
        .values_list("block_size", "block_number")
        .distinct()
    )

    assert set(sizes) == {4, 6}


def test_a_two_to_one_study_fills_every_block_two_to_one(db):
    study = services.study_set_up(
        code="TWO-TO-ONE",
        title="2:1 study",
        sites=[("LON", "London")],
        arms=(
            {"code": "bont-a", "name": "BoNT-A", "receives_injections": True, "allocation_weight": 2},
            {"code": "control", "name": "Control", "receives_injections": False, "allocation_weight": 1},
        ),
    )

    for stratum in study.strata.all():
        assert_permuted_blocks(stratum, ratio={"bont-a": 2, "control": 1}, sizes={6, 9})


def test_no_prefix_of_any_stratums_list_drifts_beyond_half_a_block(study):
    # Whatever the number of patients a stratum ends up with, they take a prefix of its list.
    largest_block = 6
    for stratum in study.strata.all():
        running = 0
        for position, code in stratum.slots.order_by("position").values_list("position", "arm__code"):
            running += 1 if code == "bont-a" else -1
            assert abs(running) <= largest_block // 2, f"{stratum} drifts to {running} at position {position}"
        assert running == 0, "the list ends on a complete block"


def test_balance_holds_within_each_stratum_over_many_patients(study, site_a, site_b, coordinator_a):
    # 2 sites x 2 severity bands, 20 patients each (at least three blocks), randomized interleaved.
    allocations = defaultdict(list)  # stratum key -> arm codes in allocation order
    for i in range(80):
        site = (site_a, site_b)[i % 2]
        grade = (MILD_GRADE, SEVERE_GRADE)[(i // 2) % 2]
        patient = make_patient(site, coordinator_a, grade=grade, mrn=f"MRN-{i}")
        arm = services.patient_randomize(patient=patient, by=coordinator_a)
        allocations[(site.code, SeverityBand.for_grade(grade))].append(arm.code)

    largest_block = 6
    assert {key: len(arms) for key, arms in allocations.items()} == {
        (site, band): 20 for site in ("LON", "MAN") for band in SeverityBand.values
    }
    for key, arms in allocations.items():
        running = 0
        for code in arms:
            running += 1 if code == "bont-a" else -1
            assert abs(running) <= largest_block // 2, f"{key} drifted to {running} during allocation"
    # Each stratum's patients took exactly its first 20 slots, in order, and got those slots' arms.
    for stratum in study.strata.select_related("site"):
        slots = list(stratum.slots.select_related("arm", "patient__arm").order_by("position")[:21])
        assert [slot.patient is not None for slot in slots] == [True] * 20 + [False]
        assert all(slot.patient.arm == slot.arm for slot in slots[:20])
        assert [slot.arm.code for slot in slots[:20]] == allocations[(stratum.site.code, stratum.severity_band)]


def test_patients_take_the_slots_of_their_stratum_in_list_order(study, site_a, site_b, coordinator_a, coordinator_b):
    mild_at_a = [make_patient(site_a, coordinator_a, grade=MILD_GRADE) for _ in range(3)]
    severe_at_b = make_patient(site_b, coordinator_b, grade=SEVERE_GRADE)

    arms = [services.patient_randomize(patient=p, by=coordinator_a) for p in mild_at_a]
    services.patient_randomize(patient=severe_at_b, by=coordinator_b)

    mild_a_slots = list(stratum_of(study, site_a, SeverityBand.MILD_MODERATE).slots.order_by("position")[:4])
    assert [slot.patient_id for slot in mild_a_slots] == [p.pk for p in mild_at_a] + [None]
    assert [slot.arm for slot in mild_a_slots[:3]] == arms
    severe_b_first = stratum_of(study, site_b, SeverityBand.SEVERE).slots.get(position=1)
    assert severe_b_first.patient_id == severe_at_b.pk


def test_the_allocation_records_who_randomized_and_when(patient_a, coordinator_a):
    before = timezone.now()

    arm = services.patient_randomize(patient=patient_a, by=coordinator_a)

    patient_a.refresh_from_db()
    slot = patient_a.randomization_slot
    assert (patient_a.arm, patient_a.arm_assignment, patient_a.arm_assigned_by) == (
        arm,
        Patient.ArmAssignment.RANDOMIZED,
        coordinator_a,
    )
    assert (slot.arm, slot.allocated_by) == (arm, coordinator_a)
    assert before <= slot.allocated_at == patient_a.arm_assigned_at <= timezone.now()
    latest = patient_a.history.latest()
    assert (latest.history_change_reason, latest.history_user) == ("Randomized", coordinator_a)
    assert slot.history.latest().history_change_reason == f"Allocated to {patient_a.study_code}"


def test_the_stratum_is_taken_from_the_patients_current_grade(study, site_a, patient_a, coordinator_a):
    stale = Patient.objects.get(pk=patient_a.pk)  # e.g. loaded by a page before the correction below
    services.patient_update(
        patient=patient_a, by=coordinator_a, reason="Grade misread at screening", baseline_house_brackmann=SEVERE_GRADE
    )

    services.patient_randomize(patient=stale, by=coordinator_a)

    assert RandomizationSlot.objects.get(patient=patient_a).stratum == stratum_of(study, site_a, SeverityBand.SEVERE)


# --- Concealment ----------------------------------------------------------------------------------


def test_before_randomization_the_coordinator_sees_no_arm(patient_a, coordinator_a):
    access = selectors.access_for(coordinator_a)

    seen = selectors.patient_get(access, patient_a.pk)

    assert patient_a.arm is None
    assert (seen.arm, seen.arm_assignment, seen.arm_assigned_at) == (None, "", None)
    assert not RandomizationSlot.objects.filter(patient=patient_a).exists()
    assert list(selectors.patient_list(access, arm_id="none")) == [patient_a]


def test_the_coordinators_patient_page_does_not_reveal_the_next_arm(pages, client, study, patient_a, coordinator_a):
    client.force_login(coordinator_a)

    response = client.get(f"/patients/{patient_a.pk}/", secure=True)

    assert response.status_code == 200
    assert response.context["patient"].arm is None
    for context in response.context:
        for value in context.flatten().values():
            assert not isinstance(value, (RandomizationSlot, RandomizationStratum)), value
    assert study.randomization_seed not in response.content.decode()


ALLOCATION_LIST_URLS = ["/admin/patients/randomizationslot/", "/admin/patients/randomizationstratum/"]


@pytest.mark.parametrize("url", ALLOCATION_LIST_URLS)
@pytest.mark.parametrize("persona", ["coordinator_a", "investigator"])
def test_coordinators_and_investigators_cannot_open_the_allocation_list(db, pages, client, request, persona, url):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(url, secure=True)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize("persona", ["coordinator_a", "investigator"])
def test_coordinators_and_investigators_cannot_open_the_study_and_its_seed(pages, client, request, study, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(f"/admin/patients/study/{study.pk}/change/", secure=True)

    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


def test_the_data_manager_sees_the_allocation_list_but_never_the_seed(pages, client, study, data_manager):
    client.force_login(data_manager)

    slots = client.get(ALLOCATION_LIST_URLS[0], secure=True)
    strata = client.get(ALLOCATION_LIST_URLS[1], secure=True)
    assert slots.status_code == strata.status_code == 200
    assert slots.context["cl"].result_count == RandomizationSlot.objects.filter(stratum__study=study).count()
    assert strata.context["cl"].result_count == 4
    # Whoever holds the seed can rebuild the whole concealed list: it is on no page, not even the history,
    # where simple-history once listed it as a change (blank to its value when the list was generated).
    study_pages = [
        "/admin/patients/study/",
        f"/admin/patients/study/{study.pk}/change/",
        f"/admin/patients/study/{study.pk}/history/",
        *(
            f"/admin/patients/study/{study.pk}/history/{pk}/"
            for pk in study.history.values_list("history_id", flat=True)
        ),
    ]
    for url in study_pages:
        page = client.get(url, secure=True)
        assert page.status_code == 200, url
        assert study.randomization_seed not in page.content.decode(), url
    assert "randomization_seed" not in client.get(study_pages[1], secure=True).context["adminform"].form.fields


def test_staff_status_without_the_data_manager_role_reveals_neither_list_nor_seed(pages, client, study, coordinator_a):
    # A coordinator given admin access (say, to manage users) still may not see the allocation list.
    coordinator_a.is_staff = True
    coordinator_a.save()
    coordinator_a.groups.add(data_managers_group())
    client.force_login(coordinator_a)

    # The admin site admits data managers only (patients/admin_scope.py): every page sends the
    # coordinator back to the admin's sign-in, and none shows the list or the seed.
    study_pages = [f"/admin/patients/study/{study.pk}/change/", f"/admin/patients/study/{study.pk}/history/"] + [
        f"/admin/patients/study/{study.pk}/history/{pk}/" for pk in study.history.values_list("history_id", flat=True)
    ]
    for url in [*ALLOCATION_LIST_URLS, *study_pages]:
        page = client.get(url, secure=True)
        assert page.status_code == 302 and page["Location"].startswith("/admin/login/"), url
        assert study.randomization_seed not in page.content.decode(), url


def test_the_admin_offers_no_way_to_add_change_or_delete_slots(pages, client, study, data_manager):
    slot = RandomizationSlot.objects.filter(stratum__study=study).first()
    client.force_login(data_manager)

    assert client.get("/admin/patients/randomizationslot/add/", secure=True).status_code == 403
    assert client.get(f"/admin/patients/randomizationslot/{slot.pk}/delete/", secure=True).status_code == 403
    change_page = client.get(f"/admin/patients/randomizationslot/{slot.pk}/change/", secure=True)
    assert change_page.status_code == 200
    assert change_page.context["has_change_permission"] is False


# --- Reproducibility ------------------------------------------------------------------------------


def test_the_stored_list_is_regenerated_exactly_from_the_seed(study):
    arms = list(study.arms.order_by("id"))

    for stratum in study.strata.select_related("site"):
        for number, slots in blocks_of(stratum).items():
            regenerated = services.randomization_block(
                seed=study.randomization_seed, stratum=stratum, block_number=number, arms=arms
            )
            assert [slot.arm_id for slot in slots] == [arm.pk for arm in regenerated], f"{stratum} block {number}"


def test_each_study_has_its_own_secret_seed_and_each_stratum_its_own_sequence(study):
    other = services.study_set_up(code="FACE-2", title="Second study", sites=[("LON", "London"), ("MAN", "Manchester")])

    assert len(study.randomization_seed) == 64 and int(study.randomization_seed, 16)
    assert other.randomization_seed != study.randomization_seed
    sequences = [
        tuple(slot.arm.code for slot in stratum.slots.select_related("arm").order_by("position"))
        for stratum in study.strata.all()
    ]
    assert len(set(sequences)) == len(sequences)


def test_the_same_seed_always_gives_the_same_block(study):
    stratum = study.strata.select_related("site").first()
    arms = list(study.arms.order_by("id"))

    def block(seed, number):
        return [
            arm.code for arm in services.randomization_block(seed=seed, stratum=stratum, block_number=number, arms=arms)
        ]

    other_seed = "00" * 32
    assert [block(study.randomization_seed, n) for n in range(1, 11)] == [
        block(study.randomization_seed, n) for n in range(1, 11)
    ]
    assert [block(other_seed, n) for n in range(1, 11)] != [block(study.randomization_seed, n) for n in range(1, 11)]


# --- Once only, and only for enrolled, consented patients -----------------------------------------


def test_a_randomization_can_never_be_redone(patient_a, coordinator_a, coordinator_b):
    arm = services.patient_randomize(patient=patient_a, by=coordinator_a)
    patient_a.refresh_from_db()
    history_rows = patient_a.history.count()

    with pytest.raises(ValidationError) as refusal:
        services.patient_randomize(patient=patient_a, by=coordinator_a)

    assert refusal.value.messages == [
        f"{patient_a.study_code} was already allocated on {patient_a.arm_assigned_at:%Y-%m-%d}; "
        "an allocation is never redone."
    ]
    patient_a.refresh_from_db()
    assert patient_a.arm == arm
    assert RandomizationSlot.objects.filter(patient__isnull=False).count() == 1
    assert patient_a.history.count() == history_rows


def test_a_patient_in_screening_cannot_be_randomized(site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)

    with pytest.raises(ValidationError) as refusal:
        services.patient_randomize(patient=patient, by=coordinator_a)

    assert refusal.value.messages == [
        f"Only an enrolled, consented patient can be randomized; {patient.study_code} is not."
    ]
    patient.refresh_from_db()
    assert patient.arm is None
    assert not RandomizationSlot.objects.filter(patient__isnull=False).exists()


def test_a_withdrawn_patient_cannot_be_randomized(patient_a, coordinator_a):
    services.patient_withdraw(patient=patient_a, by=coordinator_a, reason="Declined further visits")

    with pytest.raises(ValidationError) as refusal:
        services.patient_randomize(patient=patient_a, by=coordinator_a)

    assert refusal.value.messages == [
        f"Only an enrolled, consented patient can be randomized; {patient_a.study_code} is not."
    ]
    assert not RandomizationSlot.objects.filter(patient__isnull=False).exists()


def test_a_randomized_patient_cannot_change_severity_band(patient_a, coordinator_a):
    services.patient_randomize(patient=patient_a, by=coordinator_a)

    with pytest.raises(ValidationError) as refusal:
        services.patient_update(
            patient=patient_a, by=coordinator_a, reason="Regraded", baseline_house_brackmann=SEVERE_GRADE
        )

    assert refusal.value.message_dict["baseline_house_brackmann"] == [
        "The patient was randomized in the House-Brackmann I–III stratum; a change of band needs a data manager."
    ]
    # Within the band, a correction is fine.
    services.patient_update(patient=patient_a, by=coordinator_a, reason="Regraded", baseline_house_brackmann=MILD_GRADE)


# --- Arms assigned outside the system ------------------------------------------------------------


@pytest.fixture
def external_study(db):
    return services.study_set_up(
        code="EXT-1",
        title="Externally randomized",
        sites=[("LON", "London")],
        randomization=Study.Randomization.EXTERNAL,
    )


@pytest.fixture
def external_coordinator(external_study):
    return ensure_user(
        "ext_coord",
        role=StudyRole.Role.COORDINATOR,
        study=external_study,
        site_code="LON",
        is_staff=False,
        password=PASSWORD,
    )


@pytest.fixture
def external_data_manager(external_study):
    return ensure_user(
        "ext_dm",
        role=StudyRole.Role.DATA_MANAGER,
        study=external_study,
        site_code=None,
        is_staff=True,
        password=PASSWORD,
    )


@pytest.fixture
def external_patient(external_study, external_coordinator):
    return make_patient(external_study.sites.get(), external_coordinator)


def test_an_external_assignment_study_has_no_allocation_list(external_study):
    assert external_study.randomization_seed == ""
    assert not RandomizationStratum.objects.filter(study=external_study).exists()
    assert not RandomizationSlot.objects.filter(stratum__study=external_study).exists()


def test_patients_of_an_external_assignment_study_cannot_be_randomized_here(external_patient, external_coordinator):
    with pytest.raises(ValidationError) as refusal:
        services.patient_randomize(patient=external_patient, by=external_coordinator)

    assert refusal.value.messages == ["This study records arms assigned outside the system; ask a data manager."]
    external_patient.refresh_from_db()
    assert external_patient.arm is None
    assert not RandomizationStratum.objects.filter(study=external_patient.study).exists()


def test_the_data_manager_records_an_externally_assigned_arm_with_its_reason(external_patient, external_data_manager):
    arm = external_patient.study.arms.get(code="bont-a")

    services.patient_assign_arm_externally(
        patient=external_patient, arm=arm, by=external_data_manager, reason="Allocated by the trials unit, ref TU-0042"
    )

    external_patient.refresh_from_db()
    assert (external_patient.arm, external_patient.arm_assignment, external_patient.arm_assigned_by) == (
        arm,
        Patient.ArmAssignment.EXTERNAL,
        external_data_manager,
    )
    assert external_patient.arm_assignment_reason == "Allocated by the trials unit, ref TU-0042"
    latest = external_patient.history.latest()
    assert latest.history_change_reason == "Arm assigned outside the system: Allocated by the trials unit, ref TU-0042"
    assert latest.history_user == external_data_manager


def test_an_externally_assigned_arm_needs_a_reason(external_patient, external_data_manager):
    arm = external_patient.study.arms.get(code="bont-a")

    with pytest.raises(ValidationError) as refusal:
        services.patient_assign_arm_externally(patient=external_patient, arm=arm, by=external_data_manager, reason=" ")

    assert refusal.value.message_dict == {"reason": ["Give a reason for this change; it is kept in the audit trail."]}
    external_patient.refresh_from_db()
    assert external_patient.arm is None


def test_an_externally_assigned_arm_is_never_reassigned(external_patient, external_data_manager):
    bont, control = external_patient.study.arms.get(code="bont-a"), external_patient.study.arms.get(code="control")
    services.patient_assign_arm_externally(patient=external_patient, arm=bont, by=external_data_manager, reason="TU-1")

    with pytest.raises(ValidationError) as refusal:
        services.patient_assign_arm_externally(
            patient=external_patient, arm=control, by=external_data_manager, reason="TU-2"
        )

    assert refusal.value.messages == [
        f"{external_patient.study_code} already has an arm; an allocation is never redone."
    ]
    external_patient.refresh_from_db()
    assert external_patient.arm == bont


def test_an_arm_of_another_study_is_refused(external_patient, external_data_manager, bont_arm):
    with pytest.raises(ValidationError) as refusal:
        services.patient_assign_arm_externally(
            patient=external_patient, arm=bont_arm, by=external_data_manager, reason="TU-1"
        )

    assert refusal.value.message_dict == {"arm": ["That arm belongs to another study."]}


def test_a_patient_in_screening_gets_no_external_arm(external_study, external_coordinator, external_data_manager):
    patient = make_patient(external_study.sites.get(), external_coordinator, enroll=False)

    with pytest.raises(ValidationError) as refusal:
        services.patient_assign_arm_externally(
            patient=patient, arm=external_study.arms.first(), by=external_data_manager, reason="TU-1"
        )

    assert refusal.value.messages == ["Enroll the patient before recording an arm."]


# --- A list that runs out -------------------------------------------------------------------------


@pytest.fixture
def short_list_study(external_study):
    """A system-randomized study whose list holds a single block per stratum."""
    external_study.randomization = Study.Randomization.SYSTEM
    external_study.save()
    services.randomization_list_generate(study=external_study, blocks_per_stratum=1)
    external_study.refresh_from_db()
    return external_study


def test_a_study_without_a_generated_list_refuses_to_randomize(external_study, external_coordinator, external_patient):
    external_study.randomization = Study.Randomization.SYSTEM
    external_study.save()

    with pytest.raises(ValidationError) as refusal:
        services.patient_randomize(patient=external_patient, by=external_coordinator)

    assert refusal.value.messages == ["The randomization list has not been generated; ask a data manager."]
    assert not RandomizationStratum.objects.filter(study=external_study).exists()


def test_an_exhausted_stratum_is_extended_automatically(short_list_study, external_coordinator):
    site = short_list_study.sites.get()
    stratum = stratum_of(short_list_study, site, SeverityBand.MILD_MODERATE)
    first_block_size = stratum.slots.count()
    other_stratum_slots = stratum_of(short_list_study, site, SeverityBand.SEVERE).slots.count()
    assert first_block_size in {4, 6}

    patients = [make_patient(site, external_coordinator, grade=MILD_GRADE) for _ in range(first_block_size + 1)]
    arms = [services.patient_randomize(patient=p, by=external_coordinator) for p in patients]

    last = RandomizationSlot.objects.get(patient=patients[-1])
    assert (last.position, last.block_number) == (first_block_size + 1, 2)
    assert arms[-1] == last.arm
    # Five new blocks, still balanced, still the seed's own blocks, and no other stratum touched.
    assert_permuted_blocks(stratum, ratio={"bont-a": 1, "control": 1}, sizes={4, 6})
    assert sorted(blocks_of(stratum)) == [1, 2, 3, 4, 5, 6]
    study_arms = list(short_list_study.arms.order_by("id"))
    for number, slots in blocks_of(stratum).items():
        regenerated = services.randomization_block(
            seed=short_list_study.randomization_seed, stratum=stratum, block_number=number, arms=study_arms
        )
        assert [slot.arm_id for slot in slots] == [arm.pk for arm in regenerated]
    assert stratum_of(short_list_study, site, SeverityBand.SEVERE).slots.count() == other_stratum_slots


def test_a_patient_in_screening_can_be_randomized_once_enrolled(site_a, coordinator_a):
    patient = make_patient(site_a, coordinator_a, enroll=False)
    services.patient_enroll(
        patient=patient,
        by=coordinator_a,
        consent_date=timezone.localdate() - timedelta(days=1),
        enrollment_date=timezone.localdate(),
    )

    arm = services.patient_randomize(patient=patient, by=coordinator_a)

    assert RandomizationSlot.objects.get(patient=patient).arm == arm
