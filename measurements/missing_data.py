"""The photos a recorded visit lacks, for the coordinator's missing-data report
(registered with `patients.missing_data`): each expression of the standard set with no current
photo (unless marked missing with a code), and each whose photo failed its quality check (it never
enters the outcome tables)."""

from collections import defaultdict

from patients.missing_codes import ItemKind, visit_missing_items

from .models import Expression, Photo


def missing_photos(visits) -> dict[int, list[str]]:
    current = defaultdict(dict)
    for visit_id, expression, status in Photo.objects.filter(visit__in=visits, is_current=True).values_list(
        "visit_id", "expression", "status"
    ):
        current[visit_id][expression] = status
    coded = visit_missing_items(visits)
    missing: dict[int, list[str]] = {}
    for visit in visits:
        photos = current[visit.pk]
        gaps = []
        for expression, label in Expression.choices:
            if (ItemKind.PHOTO, expression) in coded.get(visit.pk, {}):
                continue  # marked missing with a code: reported with it (patients.missing_data), not a gap
            if expression not in photos:
                gaps.append(f"Photo: {label}")
            elif photos[expression] == Photo.Status.FAILED:
                gaps.append(f"Photo to retake: {label}")
        if gaps:
            missing[visit.pk] = gaps
    return missing


def photo_has_value(visit, expression: str) -> bool:
    """Whether the visit has a current photo of the expression (then it cannot be coded missing)."""
    return Photo.objects.filter(visit=visit, expression=expression, is_current=True).exists()
