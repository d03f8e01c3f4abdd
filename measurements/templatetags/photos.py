from django import template

from measurements import selectors, services
from measurements.forms import VisitPhotosForm
from measurements.upload_report import report_for

register = template.Library()


def _visit_photos(patient):
    # The outcome panel and the photo section read the same photos: one set of queries per page.
    if not hasattr(patient, "_visit_photos"):
        patient._visit_photos = selectors.patient_photos(patient)
    return patient._visit_photos


@register.inclusion_tag("measurements/_patient_outcomes.html")
def patient_outcomes(patient):
    """The compact outcome panel: the primary outcome at each visit against baseline."""
    return {"trends": selectors.patient_outcome_trends(_visit_photos(patient))}


@register.inclusion_tag("measurements/_patient_photos.html", takes_context=True)
def patient_photos(context, patient):
    """The photo section of the patient page: one row per recorded visit, one slot per expression."""
    access = context["access"]
    request = context.get("request")
    report = None
    if request is not None:  # the upload redirects here with its report's key (?upload=)
        report = report_for(request.session, patient_id=patient.pk, key=request.GET.get("upload"))
    return {
        "patient": patient,
        "visits": _visit_photos(patient),
        # Withdrawn or completed patients, and closed studies, take no new photos; their photos stay visible.
        "can_edit": access.can_change(patient) and patient.accepts_new_data,
        "can_see_images": access.can_see_identifiers(patient),
        "upload_form": VisitPhotosForm(),
        "upload_report": report,
        "upload_rules": services.photo_upload_rules(),
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


@register.inclusion_tag("measurements/_scoring_progress.html", takes_context=True)
def scoring_progress(context):
    """The dashboard: how far the scoring of each study's photos has got, while some still wait."""
    return {"progress": selectors.scoring_progress(context["access"])}


@register.simple_tag
def photo_upload_rules() -> str:
    return services.photo_upload_rules()
