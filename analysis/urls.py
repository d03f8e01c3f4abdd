from django.urls import path

from . import api, views

urlpatterns = [
    path("api/v1/studies/<str:study_code>/summary/", api.StudySummaryApi.as_view(), name="api_study_summary"),
    path("outcomes/", views.analysis_home, name="analysis_home"),
    path("studies/<str:study_code>/outcomes/", views.study_outcomes, name="study_outcomes"),
    path("studies/<str:study_code>/outcomes/import/", views.outcome_import, name="outcome_import"),
    path("studies/<str:study_code>/outcomes/files/<slug:what>.<slug:ext>", views.outcome_file, name="outcome_file"),
]
