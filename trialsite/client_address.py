"""The client's address, as the sign-in lock-out (django-axes) records it.

Any client can send an `X-Forwarded-For` header with whatever it likes in it, so the
header is believed only behind our own proxy (BEHIND_TLS_PROXY), and then only its
right-most entry: the one the proxy appended itself (nginx's
`$proxy_add_x_forwarded_for`). Entries to the left of it came from the client.
"""

from django.conf import settings


def client_address(request) -> str | None:
    if settings.BEHIND_TLS_PROXY:
        entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if entries and entries[-1]:
            return entries[-1]
    return request.META.get("REMOTE_ADDR")
