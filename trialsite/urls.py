from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from patients.api_plumbing import api_not_found
from trialsite.api_docs import ApiDocsView


def healthz(request):
    """Liveness for the load balancer and docker-compose: the process answers and the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Trial data management"
admin.site.site_title = "Trial data management"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz/", healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, not inline, as the CSP requires.
    path(
        "api/docs/",
        ApiDocsView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    path("api/v1/", include("trialsite.api_urls")),
    path("", include("analysis.urls")),
    path("", include("measurements.urls")),
    path("", include("patients.urls")),
    # Last: any other path under /api/ answers in the API's error shape.
    re_path(r"^api/", api_not_found),
]
