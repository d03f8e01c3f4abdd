from django import template

from measurements import selectors
from measurements.forms import VisitPhotosForm

register = template.Library()


@register.inclusion_tag("measurements/_patient_photos.html", takes_context=True)
def patient_photos(context, patient):
    """The photo section of the patient page: one row per recorded visit, one slot per expression."""
    access = context["access"]
    return {
        "patient": patient,
        "visits": selectors.patient_photos(patient),
        # Withdrawn or completed patients take no new photos; their photos stay visible.
        "can_edit": access.can_edit(patient) and patient.accepts_new_data,
        "can_see_images": access.can_see_identifiers(patient),
        "upload_form": VisitPhotosForm(),
        "request": context.get("request"),
    }


@register.inclusion_tag("measurements/_scoring_errors.html", takes_context=True)
def scoring_errors(context):
    """The data manager's dashboard: photos the scoring service gave up on, each with a retry button."""
    access = context["access"]
    return {
        "photos": list(selectors.photos_scoring_errors(access)),
        "request": context.get("request"),
        "access": access,
    }
