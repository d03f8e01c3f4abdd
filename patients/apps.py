from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Trial records"

    def ready(self):
        from . import admin_lockouts

        admin_lockouts.register()
