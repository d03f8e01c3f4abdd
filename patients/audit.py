"""What django-simple-history keeps with the history row it writes on an instance's next save.

simple-history reads two attributes off the instance at save time, which are not model fields;
these helpers are the one place that sets them (and the one place the type checker is told so).
"""

from django.contrib.auth.models import User
from django.db.models import Model, ProtectedError


def set_history_user(instance: Model, user: User | None) -> None:
    """Who made the change. Not set, the history falls back to the request's user, if any."""
    instance._history_user = user  # type: ignore[attr-defined]


def set_history_reason(instance: Model, reason: str) -> None:
    """Why: every change to a clinical record has a reason in the audit trail."""
    instance._change_reason = reason  # type: ignore[attr-defined]


def history_written_by(user: User) -> str:
    """Why `user` may not be deleted: the audit-trail rows that name them, or "" when there are none."""
    from simple_history.models import registered_models

    for model in registered_models.values():
        history = model.history.model  # type: ignore[attr-defined]
        if history.objects.filter(history_user_id=user.pk).exists():
            return (
                f"named as the author of changes in the audit trail ({model._meta.verbose_name_plural}); "
                "deactivate the account instead"
            )
    return ""


def refuse_deleting_history_users(sender, instance: User, **kwargs) -> None:
    """pre_delete of a user: the history's user link would be set to NULL on every row they wrote,
    leaving changes with no author. Accounts are deactivated instead (`is_active`)."""
    why = history_written_by(instance)
    if why:
        raise ProtectedError(f"{instance} cannot be deleted: {why}.", set())
