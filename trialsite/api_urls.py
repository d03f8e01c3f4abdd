"""Routes of the REST API, version 1 (mounted at /api/v1/ by trialsite/urls.py)."""

from django.urls import path

from analysis.export import views as dataset
from patients import api as patients

urlpatterns = [
    path("studies/<str:study_code>/patients/", patients.PatientList.as_view(), name="api-patients"),
    path("studies/<str:study_code>/patients/<int:pk>/", patients.PatientDetail.as_view(), name="api-patient"),
    path("studies/<str:study_code>/patients/<int:pk>/visits/", patients.VisitCreate.as_view(), name="api-visit-create"),
    path(
        "studies/<str:study_code>/patients/<int:pk>/visits/<int:visit_pk>/",
        patients.VisitCorrect.as_view(),
        name="api-visit",
    ),
    path(
        "studies/<str:study_code>/patients/<int:pk>/visits/<int:visit_pk>/void/",
        patients.VisitVoid.as_view(),
        name="api-visit-void",
    ),
    path("studies/<str:study_code>/dataset/", dataset.OutcomesView.as_view(), name="api-dataset"),
    path(
        "studies/<str:study_code>/dataset/subjects/",
        dataset.SubjectsView.as_view(),
        name="api-dataset-subjects",
    ),
    path(
        "studies/<str:study_code>/dataset/injections/",
        dataset.InjectionsView.as_view(),
        name="api-dataset-injections",
    ),
]
