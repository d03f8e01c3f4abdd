from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self):
        # The API schema lists the metrics a study's summary and dataset accept (an unknown one is
        # a 400); the API's plumbing sits in patients, underneath analysis, so it is told here.
        from patients.api_plumbing import STUDY_CODE_SOURCES

        from .selectors import metric_definitions

        STUDY_CODE_SOURCES["metric"] = lambda studies: {name for study in studies for name in metric_definitions(study)}
