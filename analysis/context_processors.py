from django.utils.functional import SimpleLazyObject

from patients.selectors import access_for

from .selectors import studies_for_analysis


def outcomes_link(request):
    """Whether the navigation shows "Outcomes": the rule of the outcome pages themselves
    (`studies_for_analysis`: investigators, data managers, and the coordinators of a closed study
    whose results a data manager opened to them). Asked only when a page shows the navigation."""
    user = getattr(request, "user", None)
    if user is None:
        return {}
    access = access_for(user)
    if access.is_investigator or access.is_data_manager:
        return {"shows_outcomes": True}
    return {"shows_outcomes": SimpleLazyObject(lambda: studies_for_analysis(access).exists())}
