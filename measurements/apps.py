from django.apps import AppConfig


class MeasurementsConfig(AppConfig):
    name = "measurements"
    verbose_name = "Photos and measurements"

    def ready(self):
        from patients import history, missing_data
        from patients.services import missing_codes

        from .history import photo_history
        from .missing_data import missing_photos, photo_has_value
        from .models import Expression

        history.register_source(photo_history)
        missing_data.register_source(missing_photos)
        missing_codes.register_photo_items(dict(Expression.choices), photo_has_value)
