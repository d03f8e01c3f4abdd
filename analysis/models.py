"""What the analysis keeps: the audit trail of downloads (who, what, when, with which filters)."""

from django.conf import settings
from django.db import models

from patients.models import Study


class AnalysisDownload(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="+")
    what = models.CharField(max_length=40, help_text="outcomes, table1, dataset, dictionary, or a plot name.")
    file_format = models.CharField(max_length=8)
    filters = models.JSONField(default=dict)
    file_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["study", "-created_at"], name="analysis_download_study_idx")]

    def __str__(self):
        return f"{self.user} downloaded {self.file_name}"
