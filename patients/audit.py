"""What django-simple-history keeps with the history row it writes on an instance's next save.

simple-history reads two attributes off the instance at save time, which are not model fields;
these helpers are the one place that sets them (and the one place the type checker is told so).
"""

from django.contrib.auth.models import User
from django.db.models import Model


def set_history_user(instance: Model, user: User | None) -> None:
    """Who made the change. Not set, the history falls back to the request's user, if any."""
    instance._history_user = user  # type: ignore[attr-defined]


def set_history_reason(instance: Model, reason: str) -> None:
    """Why: every change to a clinical record has a reason in the audit trail."""
    instance._change_reason = reason  # type: ignore[attr-defined]
