"""The same file twice is a mistake; a new photo of the same expression is a retake."""

import threading
import time

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import IntegrityError, connection, transaction

from measurements import services
from measurements.models import Photo

from .conftest import record_baseline
from .files import noise_jpeg, reported, stored_files, upload


@pytest.fixture
def storage_writes(monkeypatch):
    """The names of the files written to storage from now on (the writes still happen)."""
    written = []
    save = FileSystemStorage._save

    def recording_save(storage, name, content):
        stored = save(storage, name, content)
        written.append(stored)
        return stored

    monkeypatch.setattr(FileSystemStorage, "_save", recording_save)
    return written


def test_identical_upload_is_refused_and_points_at_the_first_photo(add_photo, media_root, storage_writes):
    first = add_photo(noise_jpeg(1), expression="rest")
    storage_writes.clear()

    with pytest.raises(services.DuplicatePhoto) as refused:
        add_photo(noise_jpeg(1), expression="smile_open", filename="copy.jpg")

    assert refused.value.existing == first
    assert refused.value.code == "duplicate"
    assert refused.value.described == f"This exact file was already uploaded for {first.patient}, Baseline, Rest."
    # The message itself names nothing: only a caller that checked access shows `described`.
    assert refused.value.messages == [
        "This exact file is already in the study; a photo file can be stored only once. "
        "Check that you chose the right file."
    ]
    assert list(Photo.objects.all()) == [first]
    assert storage_writes == [], "the copy was never written, not even for a moment"
    assert stored_files(media_root) == [media_root / first.original.name]


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_that_slips_past_the_early_check_is_caught_by_the_constraint_and_its_file_removed(
    visit_a, coordinator_a, media_root, storage_writes
):
    """Two uploads of the same file at the same moment: the second passes the early check before the
    first commits, so only the database's unique constraint stops it. Reproduced with a real second
    connection that holds its upload uncommitted until this one is waiting on the constraint."""
    data = noise_jpeg(5)
    uploaded, first_photo, errors = threading.Event(), [], []

    def first_upload():
        try:
            with transaction.atomic():
                first_photo.append(
                    services.photo_upload(
                        visit=visit_a, expression="rest", data=data, filename="a.jpg", by=coordinator_a
                    )
                )
                uploaded.set()
                _wait_until_another_connection_waits_for_a_lock()
        except Exception as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
            uploaded.set()
        finally:
            connection.close()

    thread = threading.Thread(target=first_upload)
    thread.start()
    assert uploaded.wait(timeout=30)
    with pytest.raises(services.DuplicatePhoto) as refused:
        services.photo_upload(visit=visit_a, expression="smile_open", data=data, filename="b.jpg", by=coordinator_a)
    thread.join(timeout=30)

    assert errors == []
    (first,) = first_photo
    assert refused.value.existing == first
    assert list(Photo.objects.all()) == [first]
    # The first upload, committed, was scored in-process and its preview and thumbnail derived; only
    # the originals matter here.
    originals = [name for name in storage_writes if name.startswith("photos/")]
    assert len(originals) == 2, "this path does write the copy before the database refuses it..."
    stored_originals = [path for path in stored_files(media_root) if "derived" not in path.parts]
    assert stored_originals == [media_root / first.original.name], "...and removes it again"


def _wait_until_another_connection_waits_for_a_lock(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the second upload never reached the unique constraint")


def test_same_file_for_another_patient_is_refused_too(add_photo, another_patient_a, coordinator_a):
    # The likeliest cause is a photo filed under the wrong patient: say so instead of storing it twice.
    first = add_photo(noise_jpeg(2))
    other_visit = record_baseline(another_patient_a, coordinator_a)

    with pytest.raises(services.DuplicatePhoto) as refused:
        add_photo(noise_jpeg(2), visit=other_visit)

    assert refused.value.existing == first
    assert not other_visit.photos.exists()


def test_duplicate_upload_page_links_to_the_existing_photo(client, coordinator_a, visit_a, add_photo):
    first = add_photo(noise_jpeg(3), expression="pucker")
    client.force_login(coordinator_a)

    response = client.post(
        f"/patients/{visit_a.patient_id}/visits/{visit_a.pk}/photos/",
        {"photo_rest": upload("again.jpg", noise_jpeg(3))},
        follow=True,
    )

    assert reported(response)
    page = response.content.decode()
    assert "This exact file was already uploaded for" in page
    assert f'href="/photos/{first.pk}/"' in page
    assert Photo.objects.count() == 1


def test_coordinator_at_another_site_is_told_only_that_the_file_is_in_the_study(
    client, coordinator_b, visit_b, add_photo, patient_a
):
    first = add_photo(noise_jpeg(30), expression="pucker")  # site A's photo
    client.force_login(coordinator_b)

    response = client.post(
        f"/patients/{visit_b.patient_id}/visits/{visit_b.pk}/photos/",
        {"photo_rest": upload("again.jpg", noise_jpeg(30))},
        follow=True,
    )

    assert reported(response)
    page = response.content.decode()
    assert "This exact file is already in the study" in page
    assert patient_a.study_code not in page
    assert "Baseline, Pucker" not in page
    assert f"/photos/{first.pk}/" not in page
    assert "See the existing photo" not in page
    assert Photo.objects.count() == 1


def test_coordinator_at_another_site_retaking_with_that_file_is_told_nothing_more(
    client, coordinator_b, visit_b, add_photo, patient_a
):
    add_photo(noise_jpeg(31), expression="pucker")
    own = add_photo(noise_jpeg(32), visit=visit_b, by=coordinator_b)
    client.force_login(coordinator_b)

    response = client.post(f"/photos/{own.pk}/replace/", {"photo": upload("same.jpg", noise_jpeg(31))}, follow=True)

    page = response.content.decode()
    assert "This exact file is already in the study" in page
    assert patient_a.study_code not in page


def test_duplicate_retake_is_refused_with_a_message(client, coordinator_a, add_photo):
    photo = add_photo(noise_jpeg(4))
    client.force_login(coordinator_a)

    response = client.post(f"/photos/{photo.pk}/replace/", {"photo": upload("same.jpg", noise_jpeg(4))}, follow=True)

    assert "This exact file was already uploaded" in response.content.decode()
    assert Photo.objects.count() == 1
    photo.refresh_from_db()
    assert photo.is_current


def test_retake_becomes_current_and_the_old_photo_is_kept(add_photo, media_root):
    first = add_photo(noise_jpeg(5), expression="smile_open")

    retake = add_photo(noise_jpeg(6), expression="smile_open")

    first.refresh_from_db()
    assert retake.is_current
    assert not first.is_current
    assert first.replaced_by == retake
    assert retake.replaced_by is None
    assert {p.name for p in stored_files(media_root)} == {
        first.original.name.rsplit("/", 1)[1],
        retake.original.name.rsplit("/", 1)[1],
    }, "both originals stay in storage"
    assert first.history.first().history_change_reason == "Replaced by a retake"


def test_retake_only_replaces_its_own_expression_and_visit(add_photo, visit_b, coordinator_b):
    rest = add_photo(noise_jpeg(7), expression="rest")
    smile = add_photo(noise_jpeg(8), expression="smile_open")
    other_site = add_photo(noise_jpeg(9), expression="smile_open", visit=visit_b, by=coordinator_b)

    add_photo(noise_jpeg(10), expression="smile_open")

    assert Photo.objects.get(pk=rest.pk).is_current
    assert Photo.objects.get(pk=other_site.pk).is_current
    assert not Photo.objects.get(pk=smile.pk).is_current


def test_retakes_keep_a_chain_of_earlier_photos(add_photo):
    first, second, third = (add_photo(noise_jpeg(seed), expression="rest") for seed in (11, 12, 13))

    chain = {p.pk: (p.is_current, p.replaced_by_id) for p in Photo.objects.all()}

    assert chain == {first.pk: (False, second.pk), second.pk: (False, third.pk), third.pk: (True, None)}


def test_replace_page_uploads_a_retake(client, coordinator_a, add_photo):
    first = add_photo(noise_jpeg(14), expression="brow_raise")
    client.force_login(coordinator_a)

    response = client.post(f"/photos/{first.pk}/replace/", {"photo": upload("retake.jpg", noise_jpeg(15))})

    assert response.status_code == 302
    assert response["Location"] == f"/patients/{first.patient_id}/#photos"
    retake = Photo.objects.get(is_current=True)
    first.refresh_from_db()
    assert (retake.expression, retake.visit_id, retake.original_filename) == (
        "brow_raise",
        first.visit_id,
        "retake.jpg",
    )
    assert first.replaced_by == retake
    detail = client.get(f"/photos/{first.pk}/").content.decode()
    assert "Replaced by a retake" in detail


def test_database_forbids_two_current_photos_for_one_visit_and_expression(add_photo):
    first = add_photo(noise_jpeg(16), expression="rest")
    twin = Photo(
        patient=first.patient,
        visit=first.visit,
        expression="rest",
        original="photos/elsewhere",
        size_bytes=1,
        sha256="0" * 64,
        uploaded_by=first.uploaded_by,
    )

    with pytest.raises(IntegrityError, match="photo_one_current_per_visit_expression"), transaction.atomic():
        twin.save()


def test_database_allows_any_number_of_earlier_photos(add_photo):
    first = add_photo(noise_jpeg(17), expression="rest")
    for n in range(2):
        Photo.objects.create(
            patient=first.patient,
            visit=first.visit,
            expression="rest",
            is_current=False,
            original=f"photos/earlier-{n}",
            size_bytes=1,
            sha256=f"{n}" * 64,
            uploaded_by=first.uploaded_by,
        )
    assert Photo.objects.filter(visit=first.visit, expression="rest").count() == 3


def test_retake_is_in_the_old_photos_audit_trail(add_photo, coordinator_a):
    first = add_photo(noise_jpeg(501))
    retake = add_photo(noise_jpeg(502))

    entry = first.history.first()
    assert entry.history_change_reason == "Replaced by a retake"
    assert (entry.is_current, entry.replaced_by_id, entry.history_user) == (False, retake.pk, coordinator_a)


def test_an_empty_retake_is_refused_by_name(client, coordinator_a, add_photo):
    # Once Django's form refused it first with "Choose a photo", as if no file had been chosen.
    photo = add_photo(noise_jpeg(41))
    client.force_login(coordinator_a)
    response = client.post(f"/photos/{photo.pk}/replace/", {"photo": upload("retake.jpg", b"")}, follow=True)
    assert "“retake.jpg” not saved: “retake.jpg” is empty (0 bytes)." in response.content.decode()
    assert Photo.objects.get().pk == photo.pk and Photo.objects.get().is_current
