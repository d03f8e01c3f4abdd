"""Issuing and revoking API tokens: the data manager's admin actions, as services.

Not in `patients.services`: a token writes nothing of a patient's record, and a closed study's
dataset is still read through one (the database lock does not apply).
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import get_digest_token
from knox.settings import CONSTANTS

from .api_models import ApiToken


@transaction.atomic
def api_token_issue(*, user, study, client_name: str, lifetime: timedelta | None, by) -> tuple[ApiToken, str]:
    """A new token for `user` in `study`, and its text (shown once; only the digest is kept).

    Refused (ValidationError on `user`) unless the account's one role in the study is API client.
    """
    digest, token = get_digest_token()
    instance = ApiToken(
        digest=digest,
        token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH],
        user=user,
        study=study,
        client_name=client_name,
        created_by=by,
        expiry=None if lifetime is None else timezone.now() + lifetime,
    )
    instance.full_clean()
    instance.save(force_insert=True)
    return instance, token


@transaction.atomic
def api_tokens_revoke(*, tokens: QuerySet[ApiToken], by) -> int:
    """Revoke the live ones of `tokens`, effective on their next request; they are kept, with who and when."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_by=by)
