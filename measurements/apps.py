from django.apps import AppConfig


class MeasurementsConfig(AppConfig):
    name = "measurements"
    verbose_name = "Photos and measurements"

    def ready(self):
        from patients import history, missing_data

        from .history import photo_history
        from .missing_data import missing_photos

        history.register_source(photo_history)
        missing_data.register_source(missing_photos)
