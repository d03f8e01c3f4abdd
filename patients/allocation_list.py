"""The concealed allocation list as one CSV table, for the study's data managers (the admin's study
page downloads it, and records who and when as a `patients.AllocationListDownload`).

One row per slot of every stratum, allocated or not: which arm each position holds is exactly what
must stay concealed from everyone else. Never the seed.
"""

import csv
import io

from .models import RandomizationSlot, Study

ALLOCATION_LIST_COLUMNS = (
    "site",
    "severity_band",
    "position",
    "block_number",
    "block_size",
    "arm_code",
    "arm",
    "study_code",
    "allocated_at",
    "allocated_by",
)


def allocation_list_rows(study: Study) -> list[tuple]:
    slots = (
        RandomizationSlot.objects.filter(stratum__study=study)
        .select_related("stratum__site", "arm", "patient", "allocated_by")
        .order_by("stratum__site__code", "stratum__severity_band", "position")
    )
    return [
        (
            slot.stratum.site.code,
            slot.stratum.severity_band,
            slot.position,
            slot.block_number,
            slot.block_size,
            slot.arm.code,
            slot.arm.name,
            slot.patient.study_code if slot.patient else "",
            slot.allocated_at.isoformat() if slot.allocated_at else "",
            slot.allocated_by.get_username() if slot.allocated_by else "",
        )
        for slot in slots
    ]


def allocation_list_csv(study: Study) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(ALLOCATION_LIST_COLUMNS)
    writer.writerows(allocation_list_rows(study))
    return buffer.getvalue()
