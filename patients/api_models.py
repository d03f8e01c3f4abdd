"""Access for scripts and the pseudonyms they see: API tokens, per-study pseudonym keys.

Kept apart from the clinical tables (and imported by models.py so Django finds them):
the pseudonym key is the one secret that links a dataset's `subject_id` back to a
patient, so it lives in its own table that no clinical query joins.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from knox.models import AbstractAuthToken
from knox.settings import CONSTANTS
from simple_history.models import HistoricalRecords

API_CLIENT_ONLY = (
    "A token is issued only to an account whose one role in the study is API client; this account's roles "
    "there are: {roles}. Make a separate account with the API-client role for the script."
)


class ApiToken(AbstractAuthToken):
    """A knox token (stored as a SHA-512 digest, shown once) for one named client and one study.

    Only for an account whose one role in the study is API client (`clean`, and on PostgreSQL and
    SQLite a trigger, migration 0008): a token is a password a script keeps in a file, and must never
    carry a coordinator's or data manager's reach. Revoked tokens are kept, not deleted, so that the
    audit trail can still say which client held which token and when it stopped working.
    """

    # A surrogate key: knox makes the digest the primary key, which the admin would print in its
    # change URLs and checkboxes. The digest is a credential (patients/identifiers.py, NEVER_SHOWN).
    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(max_length=CONSTANTS.DIGEST_LENGTH, unique=True, editable=False)

    client_name = models.CharField(
        max_length=100, help_text="Who uses this token, e.g. “Trial statistician's analysis script”."
    )
    study = models.ForeignKey("patients.Study", on_delete=models.PROTECT, related_name="api_tokens")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Why the system revoked it, when no person did (migration 0008: the account was not an API client).
    revocation_reason = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_by__isnull=False) | ~Q(revocation_reason=""),
                name="api_token_revocation_by",
            ),
        ]

    def __str__(self):
        return f"{self.client_name} ({self.token_key}…) in {self.study}"

    def clean(self):
        super().clean()
        if self.user_id is None or self.study_id is None or self.revoked_at is not None:
            return
        roles = account_roles_in_study(user_id=self.user_id, study_id=self.study_id)
        if roles != {"api_client"}:
            shown = ", ".join(sorted(roles)) or "none"
            raise ValidationError({"user": API_CLIENT_ONLY.format(roles=shown)})

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expiry is None or self.expiry > timezone.now())


def account_roles_in_study(*, user_id: int, study_id: int) -> set[str]:
    from .models import StudyRole  # models.py imports this module at its end

    return set(StudyRole.objects.filter(user_id=user_id, study_id=study_id).values_list("role", flat=True))


def new_pseudonym_secret() -> str:
    return secrets.token_hex(32)


class PseudonymKey(models.Model):
    """The HMAC secret behind one study's `subject_id`s. Rotating it re-keys every subject."""

    study = models.OneToOneField("patients.Study", on_delete=models.PROTECT, related_name="pseudonym_key")
    secret = models.CharField(max_length=64, default=new_pseudonym_secret, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    rotation_reason = models.TextField(blank=True, editable=False)

    # Who rotated the key, when and why; never the secrets themselves.
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        verbose_name = "pseudonym key"

    def __str__(self):
        return f"Pseudonym key of {self.study}"


class SubjectPseudonym(models.Model):
    """One patient's current `subject_id`: HMAC-SHA256(study key, patient id), stored so that the
    dataset can be ordered and cursor-paginated by it (a cursor on the patient id would leak the id)."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="pseudonym")
    study = models.ForeignKey("patients.Study", on_delete=models.CASCADE, related_name="+")
    subject_id = models.CharField(max_length=20)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["study", "subject_id"], name="subject_pseudonym_unique_per_study"),
        ]

    def __str__(self):
        return self.subject_id
