"""Who downloaded a study's concealed allocation list, and when: one row per download, never edited.

In patients, beside the list it audits (patients/allocation_list.py): the investigators' downloads
are audited by analysis.AnalysisDownload, which this app, below analysis, may not import
(tests/test_layers.py).
"""

from django.conf import settings
from django.db import models

from .models import Study


class AllocationListDownload(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="allocation_list_downloads")
    file_name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.user} downloaded {self.file_name}"
