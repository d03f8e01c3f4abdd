"""The request size limit, for the whole site.

It lives with the photos because the largest request any page sends is the visit form's photo
set: the limit is counted from that form's expressions, and trialsite, the layer underneath
every app, may not import them.
"""

from django.conf import settings
from django.http import HttpResponse
from django.template.loader import render_to_string

from .models import Expression

# Multipart boundaries, the CSRF token and the other fields of the visit form.
FORM_OVERHEAD_MB = 1


def request_body_limit_mb() -> int:
    """The largest request body accepted: the visit form's eight photos at their limit, plus the form.

    docs/deployment.md configures the proxy with this same number (a test checks it), so
    an ordinary visit upload never meets a 413 from the proxy.
    """
    return settings.PHOTO_MAX_UPLOAD_MB * len(Expression.choices) + FORM_OVERHEAD_MB


class RequestSizeLimitMiddleware:
    """Refuse an oversized request from its Content-Length, before Django reads or spools the body.

    Placed first: no other middleware may touch request.POST (which would read the body)
    before this has looked at the declared size.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return HttpResponse("Content-Length is not a number.", status=400, content_type="text/plain")
        limit_mb = request_body_limit_mb()
        if declared > limit_mb * 1024 * 1024:
            page = render_to_string(
                "413.html",
                {
                    "size_mb": declared / 1024 / 1024,
                    "limit_mb": limit_mb,
                    "photo_mb": settings.PHOTO_MAX_UPLOAD_MB,
                },
            )
            response = HttpResponse(page, status=413)
            # The client may still be sending; tell it not to reuse the connection.
            response["Connection"] = "close"
            return response
        return self.get_response(request)
