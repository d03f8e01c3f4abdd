"""The demo's accounts: one login per role, and the data managers' admin permissions.

The demo study itself (records, photos, the known answer) is built by
analysis/demo_trial.py (`manage.py seed_demo`, which `make run` calls); the
tests build their personas with ``ensure_user``.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from .models import Study, StudyRole

DEMO_STUDY_CODE = "BONT-FP"
DEMO_PASSWORD = "demo-trial-2026"
DEMO_USERS = (
    # username, role, site code (coordinators only), is_staff
    ("coordinator.lon", StudyRole.Role.COORDINATOR, "LON", False),
    ("coordinator.man", StudyRole.Role.COORDINATOR, "MAN", False),
    ("investigator", StudyRole.Role.INVESTIGATOR, None, False),
    ("datamanager", StudyRole.Role.DATA_MANAGER, None, True),
    ("apiclient", StudyRole.Role.API_CLIENT, None, False),
)
DATA_MANAGERS_GROUP = "Data managers"

# The demo study's eligibility checklist, modelled on the published adult trial; every demo
# patient is built to pass it (inclusion criteria met, exclusion criteria absent).
DEMO_ELIGIBILITY_CRITERIA = (
    ("inclusion", "Aged 18 or over at consent"),
    ("inclusion", "Unilateral facial nerve palsy with House–Brackmann grade II to V"),
    ("inclusion", "Facial asymmetry or synkinesis for at least 6 months since onset"),
    ("inclusion", "Written informed consent to the study and to facial photographs"),
    ("exclusion", "Botulinum toxin injected into the face in the last 3 months"),
    ("exclusion", "Pregnant or breastfeeding"),
    ("exclusion", "Neuromuscular junction disorder (e.g. myasthenia gravis) or current aminoglycoside treatment"),
    ("exclusion", "Known allergy to botulinum toxin or to any excipient"),
)


def data_managers_group() -> Group:
    """Django-admin permissions for data managers: the trial's records, users and API tokens."""
    group, _ = Group.objects.get_or_create(name=DATA_MANAGERS_GROUP)
    perms = Permission.objects.filter(
        content_type__app_label__in=["patients", "measurements", "analysis"]
    ) | Permission.objects.filter(content_type__app_label="auth", content_type__model__in=["user", "group"])
    group.permissions.set(perms.exclude(codename__startswith="delete_"))
    return group


def ensure_user(username: str, *, role: str, study: Study, site_code: str | None, is_staff: bool, password: str):
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username, defaults={"is_staff": is_staff})
    if created:
        user.set_password(password)
        user.save()
    if role == StudyRole.Role.DATA_MANAGER:
        user.groups.add(data_managers_group())
    site = study.sites.get(code=site_code) if site_code else None
    StudyRole.objects.get_or_create(user=user, study=study, role=role, site=site)
    return user
