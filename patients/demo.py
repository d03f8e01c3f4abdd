"""A demo trial: one study, two sites, both arms, a handful of patients, one login per role.

Used by `manage.py seed_demo` (make run) and by the browser tests. Idempotent:
running it again changes nothing that is already there.
"""

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from . import services
from .models import Aetiology, InjectionSide, Muscle, Patient, Product, Sex, Side, Study, StudyRole

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


@transaction.atomic
def seed_demo(*, patients_per_site: int = 6) -> tuple[Study, list[tuple[str, str, str]]]:
    study = Study.objects.filter(code=DEMO_STUDY_CODE).first()
    if study is None:
        study = services.study_set_up(
            code=DEMO_STUDY_CODE,
            title="BoNT-A for facial asymmetry after facial nerve injury (demo)",
            sites=[("LON", "London Facial Nerve Clinic"), ("MAN", "Manchester Facial Palsy Service")],
        )
    logins = []
    users = {}
    for username, role, site_code, is_staff in DEMO_USERS:
        users[username] = ensure_user(
            username, role=role, study=study, site_code=site_code, is_staff=is_staff, password=DEMO_PASSWORD
        )
        where = f" at {site_code}" if site_code else ""
        logins.append((username, DEMO_PASSWORD, f"{StudyRole.Role(role).label}{where}"))
    if not study.patients.exists():
        _demo_patients(study, users, patients_per_site)
    return study, logins


def _demo_patients(study: Study, users: dict, per_site: int) -> None:
    rng = random.Random(20261121)
    today = timezone.localdate()
    schedule = list(study.schedule.order_by("day_offset"))
    for site in study.sites.all():
        coordinator = users[f"coordinator.{site.code.lower()}"]
        for i in range(per_site):
            enrolled = today - timedelta(days=rng.choice([3, 20, 40, 100, 200]))
            patient = services.patient_register(
                site=site,
                by=coordinator,
                sex=rng.choice(Sex.values),
                affected_side=rng.choice(Side.values),
                aetiology=rng.choice(Aetiology.values),
                months_since_onset=rng.randint(6, 60),
                baseline_house_brackmann=rng.randint(2, 5),
                full_name=f"Demo Patient {site.code}{i + 1}",
                date_of_birth=today - timedelta(days=365 * rng.randint(20, 75)),
                medical_record_number=f"{site.code}-MRN-{1000 + i}",
                consent_date=enrolled - timedelta(days=2),
                enrollment_date=enrolled,
            )
            if i == per_site - 1:
                continue  # one enrolled patient left to randomize in the demo
            services.patient_randomize(patient=patient, by=coordinator)
            patient.refresh_from_db()
            for scheduled in schedule:
                performed = enrolled + timedelta(days=scheduled.day_offset)
                if performed > today:
                    break
                visit = services.visit_record(
                    patient=patient,
                    scheduled_visit=scheduled,
                    by=coordinator,
                    date_performed=performed,
                    house_brackmann=patient.baseline_house_brackmann,
                    sunnybrook_composite=rng.randint(40, 90),
                )
                if scheduled.is_baseline and patient.arm.receives_injections:
                    services.injection_session_record(
                        patient=patient,
                        by=coordinator,
                        visit=visit,
                        date=performed,
                        product=Product.ONABOTULINUMTOXIN_A,
                        lot_number=f"C{rng.randint(1000, 9999)}A",
                        diluent_ml_per_100_units=Decimal("2.5"),
                        injector="Dr Demo",
                        points=[
                            {"muscle": Muscle.DEPRESSOR_ANGULI_ORIS, "side": _unaffected(patient), "units": "4"},
                            {"muscle": Muscle.DEPRESSOR_LABII_INFERIORIS, "side": _unaffected(patient), "units": "2.5"},
                            {"muscle": Muscle.MENTALIS, "side": InjectionSide.MIDLINE, "units": "2"},
                        ],
                    )
    return None


def _unaffected(patient: Patient) -> str:
    return Side.LEFT if patient.affected_side == Side.RIGHT else Side.RIGHT
