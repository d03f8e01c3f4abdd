from django.urls import path

from . import missing_code_views, scale_views, views

# Paths and names are pinned by the tests of other modules: change neither.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/", views.patient_list, name="patient_list"),
    path("missing-data/", views.missing_data, name="missing_data"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/enroll/", views.patient_enroll, name="patient_enroll"),
    path("patients/<int:pk>/eligibility/", views.patient_eligibility, name="patient_eligibility"),
    path("patients/<int:pk>/randomize/", views.patient_randomize, name="patient_randomize"),
    path("patients/<int:pk>/withdraw/", views.patient_withdraw, name="patient_withdraw"),
    path("patients/<int:pk>/complete/", views.patient_complete, name="patient_complete"),
    path("patients/<int:pk>/assign-arm/", views.patient_assign_arm, name="patient_assign_arm"),
    path("patients/<int:pk>/history/", views.patient_history, name="patient_history"),
    path("patients/<int:pk>/visits/new/", views.visit_create, name="visit_create"),
    path("patients/<int:pk>/visits/<int:visit_pk>/edit/", views.visit_edit, name="visit_edit"),
    path("patients/<int:pk>/visits/<int:visit_pk>/void/", views.visit_void, name="visit_void"),
    path("patients/<int:pk>/visits/<int:visit_pk>/scales/<str:scale>/", scale_views.visit_scale, name="visit_scale"),
    path(
        "patients/<int:pk>/visits/<int:visit_pk>/scales/<str:scale>/void/",
        scale_views.visit_scale_void,
        name="visit_scale_void",
    ),
    path(
        "patients/<int:pk>/visits/<int:visit_pk>/missing/",
        missing_code_views.missing_item_create,
        name="missing_item_create",
    ),
    path(
        "patients/<int:pk>/missing/<int:item_pk>/void/", missing_code_views.missing_item_void, name="missing_item_void"
    ),
    path("patients/<int:pk>/injections/new/", views.injection_create, name="injection_create"),
    path("patients/<int:pk>/injections/<int:session_pk>/edit/", views.injection_edit, name="injection_edit"),
    path("patients/<int:pk>/injections/<int:session_pk>/void/", views.injection_void, name="injection_void"),
    path("patients/<int:pk>/adverse-events/new/", views.adverse_event_create, name="adverse_event_create"),
    path("patients/<int:pk>/adverse-events/<int:event_pk>/edit/", views.adverse_event_edit, name="adverse_event_edit"),
    path("patients/<int:pk>/adverse-events/<int:event_pk>/void/", views.adverse_event_void, name="adverse_event_void"),
]
