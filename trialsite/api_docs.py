"""The browsable API documentation (Swagger UI from our own static files, as the CSP requires)."""

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions


class ApiDocsView(SpectacularSwaggerSplitView):
    """Without a login the page says where to sign in (401 with a link), instead of a bare JSON 401."""

    def handle_exception(self, exc):
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            login_url = redirect_to_login(self.request.get_full_path())["Location"]
            page = render_to_string(
                "api/docs_login.html", {"login_url": login_url, "schema_path": reverse("api-schema")}
            )
            response = HttpResponse(page, status=401)
            response["WWW-Authenticate"] = 'Token realm="api"'
            return response
        return super().handle_exception(exc)
