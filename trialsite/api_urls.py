"""Routes of the REST API, version 1 (mounted at /api/v1/ by trialsite/urls.py)."""

from django.urls import path

from analysis.dataset import views as dataset
from measurements import api as photos
from patients import api as patients
from patients import api_injections as injections
from patients.api_root import ApiRoot

urlpatterns = [
    path("", ApiRoot.as_view(), name="api-root"),
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
    path(
        "studies/<str:study_code>/patients/<int:pk>/enroll/",
        patients.PatientEnroll.as_view(),
        name="api-patient-enroll",
    ),
    path(
        "studies/<str:study_code>/patients/<int:pk>/randomize/",
        patients.PatientRandomize.as_view(),
        name="api-patient-randomize",
    ),
    path(
        "studies/<str:study_code>/patients/<int:pk>/injections/",
        injections.InjectionSessions.as_view(),
        name="api-injections",
    ),
    path(
        "studies/<str:study_code>/patients/<int:pk>/injections/<int:session_pk>/",
        injections.InjectionSessionCorrect.as_view(),
        name="api-injection",
    ),
    path(
        "studies/<str:study_code>/patients/<int:pk>/injections/<int:session_pk>/void/",
        injections.InjectionSessionVoid.as_view(),
        name="api-injection-void",
    ),
    path("studies/<str:study_code>/patients/<int:pk>/photos/", photos.PatientPhotos.as_view(), name="api-photos"),
    path(
        "studies/<str:study_code>/patients/<int:pk>/visits/<int:visit_pk>/photos/",
        photos.VisitPhotosUpload.as_view(),
        name="api-visit-photos",
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
