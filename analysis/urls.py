from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/studies/<str:study_code>/summary/", api.StudySummaryApi.as_view(), name="api_study_summary"),
]
