from .selectors import access_for


def roles(request):
    """The user's trial access, for menus and for hiding actions a role may not take."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    return {"access": access_for(user)}
