"""`Cache-Control: no-store` on every response rendered for a signed-in caller.

The one rule for what a browser or a proxy may keep: a page or an API answer made for someone
signed in (a session or an API token) may carry what `Access.shown` showed them — a patient's
identifiers to their site's coordinator, the clinical record to an investigator, a dataset to a
script — so nothing of it stays in a shared workstation's cache after sign-out. The face images
set it themselves (`measurements.views._image_response`); static files never reach this
middleware (WhiteNoise answers them first) and keep their long cache lifetimes.
"""

from django.utils.cache import patch_cache_control


class NoStoreForSignedInMiddleware:
    """After authentication: `request.user` is the session's user, or the token's once DRF has
    authenticated it (DRF sets the user on the underlying request too)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, no_store=True)
        return response
