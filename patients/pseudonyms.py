"""`subject_id`: HMAC-SHA256 of the patient's internal id under the study's own secret.

Stable across exports of a study, different between studies (each has its own key),
unrelated to the clinic's study code. The key lives in patients.PseudonymKey, apart from
the clinical tables; rotating it re-keys every subject of the study at once.
"""

import hashlib
import hmac

from django.db import transaction
from django.utils import timezone

from .api_models import new_pseudonym_secret
from .models import Patient, PseudonymKey, Study, SubjectPseudonym

SUBJECT_ID_HEX_CHARS = 16  # 64 bits: no collision in any realistic trial (and the table refuses one)


def subject_id_for(secret: str, patient_id: int) -> str:
    digest = hmac.new(secret.encode(), str(patient_id).encode(), hashlib.sha256).hexdigest()
    return "s-" + digest[:SUBJECT_ID_HEX_CHARS]


def pseudonym_key_get(*, study: Study) -> PseudonymKey:
    key, _ = PseudonymKey.objects.get_or_create(study=study)
    return key


def pseudonyms_ensure(*, study: Study) -> None:
    """Give every patient of the study a stored pseudonym (new patients since the last export).

    A fixed number of queries whatever the cohort size; safe to run concurrently.
    """
    if not Patient.objects.filter(study=study, pseudonym__isnull=True).exists():
        return
    with transaction.atomic():
        pseudonym_key_get(study=study)
        # Under the key's lock, so that a rotation running at the same time cannot leave
        # a subject keyed with the old secret.
        secret = PseudonymKey.objects.select_for_update().get(study=study).secret
        missing = Patient.objects.filter(study=study, pseudonym__isnull=True).values_list("pk", flat=True)
        SubjectPseudonym.objects.bulk_create(
            [SubjectPseudonym(patient_id=pk, study=study, subject_id=subject_id_for(secret, pk)) for pk in missing],
            ignore_conflicts=True,
        )


@transaction.atomic
def pseudonym_key_rotate(*, study: Study, by, reason: str) -> PseudonymKey:
    """New secret, new subject_id for every subject; datasets exported before cannot be linked to later ones."""
    if not reason.strip():
        raise ValueError("Give a reason for rotating the pseudonym key.")
    key = PseudonymKey.objects.select_for_update().filter(study=study).first() or PseudonymKey(study=study)
    key.secret = new_pseudonym_secret()
    key.rotated_at = timezone.now()
    key.rotated_by = by
    key.rotation_reason = reason.strip()
    key.save()
    # Re-key in place: delete and recreate keeps the (study, subject_id) constraint simple.
    SubjectPseudonym.objects.filter(study=study).delete()
    pseudonyms_ensure(study=study)
    return key
