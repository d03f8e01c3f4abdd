from django.apps import AppConfig


class MeasurementsConfig(AppConfig):
    name = "measurements"
    verbose_name = "Photos and measurements"

    def ready(self):
        from patients import history

        from .history import photo_history

        history.register_source(photo_history)
