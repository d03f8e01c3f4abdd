from django.utils.functional import SimpleLazyObject

from .selectors import access_for, studies_closed


def roles(request):
    """The user's trial access, for menus and for hiding actions a role may not take, and the user's
    closed studies for the read-only banner (read only when a page shows it)."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    access = access_for(user)
    return {"access": access, "closed_studies": SimpleLazyObject(lambda: list(studies_closed(access)))}
