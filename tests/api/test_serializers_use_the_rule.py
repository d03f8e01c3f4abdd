"""Every serializer of a record whose model has identifying fields goes through the pages' rule."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import get_resolver
from rest_framework import serializers

from patients.api_shown import ShownModelSerializer
from patients.identifiers import IDENTIFYING_FIELDS

PROJECT_APPS = ("patients.", "measurements.", "analysis.", "trialsite.")


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_model_serializer_of_an_identifying_model_uses_the_rule():
    assert get_resolver().url_patterns  # imports every view module, and so every serializer
    checked, outside = [], []
    for serializer in set(_subclasses(serializers.ModelSerializer)):
        if not serializer.__module__.startswith(PROJECT_APPS) or serializer is ShownModelSerializer:
            continue
        meta = serializer.Meta.model._meta
        if (meta.app_label, meta.model_name) in IDENTIFYING_FIELDS:
            checked.append(serializer)
            if not issubclass(serializer, ShownModelSerializer):
                outside.append(f"{serializer.__module__}.{serializer.__name__}")
    assert not outside, f"derive these from patients.api_shown.ShownModelSerializer: {outside}"
    assert len(checked) >= 5  # IdentifiersOut, PatientOut, VisitOut, SessionOut, PointOut, PhotoOut, ScoreOut


def test_a_serializer_without_the_request_refuses_rather_than_shows(db, patient_a):
    from patients.api import IdentifiersOut

    with pytest.raises(ImproperlyConfigured, match="needs the request"):
        _ = IdentifiersOut(patient_a.identifiers).data
