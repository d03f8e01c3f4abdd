from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Trial records"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from . import admin_lockouts, audit

        admin_lockouts.register()
        _history_models_name_their_module(self)
        pre_delete.connect(audit.refuse_deleting_history_users, sender=get_user_model(), dispatch_uid="history_users")


def _history_models_name_their_module(app: AppConfig) -> None:
    """Say where the history models of models kept outside models.py really live.

    django-simple-history attaches HistoricalPseudonymKey to patients.api_models (the module of
    PseudonymKey) but names its module "patients", the app, which holds no such name; so
    `manage.py shell` could not import it (nor HistoricalAdverseEvent, from adverse_event_models).
    """
    for model in app.get_models():
        concrete = getattr(model, "instance_type", None)  # set on every simple-history model
        if concrete is not None and model.__module__ == app.name:
            model.__module__ = concrete.__module__
