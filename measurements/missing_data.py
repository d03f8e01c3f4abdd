"""The photos a recorded visit lacks, for the coordinator's missing-data report
(registered with `patients.missing_data`): each expression of the standard set with no current
photo, and each whose photo failed its quality check (it never enters the outcome tables)."""

from collections import defaultdict

from .models import Expression, Photo


def missing_photos(visits) -> dict[int, list[str]]:
    current = defaultdict(dict)
    for visit_id, expression, status in Photo.objects.filter(visit__in=visits, is_current=True).values_list(
        "visit_id", "expression", "status"
    ):
        current[visit_id][expression] = status
    missing: dict[int, list[str]] = {}
    for visit in visits:
        photos = current[visit.pk]
        gaps = []
        for expression, label in Expression.choices:
            if expression not in photos:
                gaps.append(f"Photo: {label}")
            elif photos[expression] == Photo.Status.FAILED:
                gaps.append(f"Photo to retake: {label}")
        if gaps:
            missing[visit.pk] = gaps
    return missing
