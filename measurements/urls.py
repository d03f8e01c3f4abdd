from django.urls import path

from . import views

urlpatterns = [
    path("patients/<int:pk>/visits/<int:visit_pk>/photos/", views.visit_photos_upload, name="visit_photos_upload"),
    path("photos/status/", views.photos_status, name="photos_status"),
    path("photos/<int:pk>/", views.photo_detail, name="photo_detail"),
    path("photos/<int:pk>/replace/", views.photo_replace, name="photo_replace"),
    path("photos/<int:pk>/retry-scoring/", views.photo_retry_scoring, name="photo_retry_scoring"),
    path("photos/<int:pk>/<str:kind>.jpg", views.photo_image, name="photo_image"),
]
