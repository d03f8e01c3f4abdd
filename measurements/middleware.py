"""The request size limit, for the whole site.

It lives with the photos because the largest request any page sends is the visit form's photo
set: the limit is counted from that form's expressions, and trialsite, the layer underneath
every app, may not import them.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
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


def is_api_body_limited(request) -> bool:
    """An API request other than a photo upload: its body is JSON, held in memory whole to be parsed."""
    content_type = request.META.get("CONTENT_TYPE", "")
    return request.path.startswith("/api/") and not content_type.startswith("multipart/form-data")


def close_connection(request, response) -> None:
    """Ask the client not to reuse the connection: it may still be sending the body we refused.

    Django's development server (wsgiref, `make run`) refuses hop-by-hop headers from the
    application with an AssertionError, which made the 413 a 500; it closes such a
    connection itself.
    """
    if not request.META.get("SERVER_SOFTWARE", "").startswith("WSGIServer/"):
        response["Connection"] = "close"


class RequestSizeLimitMiddleware:
    """Refuse an oversized request from its Content-Length, before Django reads or spools the body.

    Two limits: an API body other than a photo upload is JSON parsed in memory, so it gets
    Django's DATA_UPLOAD_MAX_MEMORY_SIZE (patients.api_plumbing.json_body_limit_bytes); a page's or
    the API's photo upload gets the visit's eight photos (request_body_limit_mb).

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
        if is_api_body_limited(request):
            return self._refuse_api_body(request, declared) or self.get_response(request)
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
            close_connection(request, response)
            return response
        return self.get_response(request)

    @staticmethod
    def _refuse_api_body(request, declared: int) -> JsonResponse | None:
        from patients.api_plumbing import json_body_limit_bytes, too_large_message

        if declared <= json_body_limit_bytes():
            return None
        error = {"code": "request_too_large", "message": too_large_message(declared), "fields": {}}
        response = JsonResponse({"error": error}, status=413)
        close_connection(request, response)
        return response
