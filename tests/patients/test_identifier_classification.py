"""Every field that can hold free text, a file or a structure, on every model of the trial's apps,
is classified in `patients/identifiers.py`: identifying (hidden from roles without identifiers,
never exported) or judged not to be. A new TextField fails here until someone decides."""

from django.apps import apps
from django.db import models

from patients.identifiers import (
    HIDDEN,
    IDENTIFYING_FIELDS,
    NEVER_SHOWN,
    NOT_IDENTIFYING,
    is_identifying,
    shown,
    shown_reason,
)

TRIAL_APPS = ("patients", "measurements", "analysis")


def _may_hold_text(field) -> bool:
    if isinstance(field, models.TextField | models.FileField | models.JSONField):
        return True
    return isinstance(field, models.CharField) and not field.choices


def _unclassified() -> list[str]:
    missing = []
    for app_label in TRIAL_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if model.__name__.startswith("Historical"):
                continue  # simple-history's copies: classified through the model they copy
            key = (app_label, model._meta.model_name)
            classified = IDENTIFYING_FIELDS.get(key, frozenset()) | NOT_IDENTIFYING.get(key, frozenset())
            missing += [
                f"{model._meta.label}.{f.name}"
                for f in model._meta.concrete_fields
                if _may_hold_text(f) and f.name not in classified
            ]
    return missing


def test_every_text_field_of_the_trial_is_classified():
    assert _unclassified() == []


def test_the_classification_names_only_fields_that_exist_and_none_twice():
    for lists in (IDENTIFYING_FIELDS, NOT_IDENTIFYING):
        for (app_label, model_name), names in lists.items():
            model = apps.get_model(app_label, model_name)
            for name in names:
                model._meta.get_field(name)
    for key, names in NOT_IDENTIFYING.items():
        assert not names & IDENTIFYING_FIELDS.get(key, frozenset()), key


def test_a_new_free_text_field_is_caught_until_classified():
    field = models.TextField(blank=True)
    field.set_attributes_from_name("family_history")
    visit_fields = apps.get_model("patients", "visit")._meta
    visit_fields.local_fields.append(field)
    visit_fields._expire_cache()
    try:
        assert "patients.Visit.family_history" in _unclassified()
    finally:
        visit_fields.local_fields.remove(field)
        visit_fields._expire_cache()


def test_hidden_values_say_that_they_exist():
    assert is_identifying("patients", "visit", "adverse_events")
    assert shown("Rash", app_label="patients", model_name="visit", field="adverse_events", can_see=False) != "Rash"
    assert shown("", app_label="patients", model_name="visit", field="adverse_events", can_see=False) == ""
    assert shown("Rash", app_label="patients", model_name="visit", field="adverse_events", can_see=True) == "Rash"
    assert shown("C1234", app_label="patients", model_name="injectionsession", field="lot_number", can_see=False) == (
        "C1234"
    )
    assert shown_reason("Recorded", can_see=False, about_identifying_field=True) == "Recorded"
    withdrawn = shown_reason("Withdrawn: moved to Leeds", can_see=False, about_identifying_field=False)
    assert withdrawn.startswith("Withdrawn: ") and "Leeds" not in withdrawn
    assert shown_reason("Seen at home", can_see=False, about_identifying_field=True) == HIDDEN
    assert shown_reason("Regraded", can_see=False, about_identifying_field=False) == "Regraded"
    assert shown_reason("Seen at home", can_see=True, about_identifying_field=True) == "Seen at home"


def test_a_secret_is_hidden_even_from_roles_that_see_identifiers():
    for app_label, model_name, field in NEVER_SHOWN:
        assert is_identifying(app_label, model_name, field)  # so that no export or API lets it out
        assert shown("s3cr3t", app_label=app_label, model_name=model_name, field=field, can_see=True) == HIDDEN
