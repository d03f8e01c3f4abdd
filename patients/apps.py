from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Trial records"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.db.models.signals import pre_delete

        from . import admin_lockouts, audit

        admin_lockouts.register()
        pre_delete.connect(audit.refuse_deleting_history_users, sender=get_user_model(), dispatch_uid="history_users")
