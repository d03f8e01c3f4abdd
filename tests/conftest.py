"""Personas and a study, built once per test through the same services the app uses.

coordinator_a works at site A (LON), coordinator_b at site B (MAN), the investigator
sees every site read-only, the data manager runs the study, the API client pulls
datasets, and the outsider has an account but no role.
"""

import copy
import hashlib
import time
import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from patients import services
from patients.demo import ensure_user
from patients.models import StudyRole
from tests.browser import browser, page, screenshot  # noqa: F401 - fixtures for tests/e2e and tests/integration

PASSWORD = "persona-password-123"


@pytest.fixture
def study(db):
    return services.study_set_up(
        code="FACE-1",
        title="Test study",
        sites=[("LON", "London"), ("MAN", "Manchester")],
        max_units_per_point=Decimal("10"),
        max_units_per_session=Decimal("50"),
    )


@pytest.fixture
def site_a(study):
    return study.sites.get(code="LON")


@pytest.fixture
def site_b(study):
    return study.sites.get(code="MAN")


@pytest.fixture
def bont_arm(study):
    return study.arms.get(code="bont-a")


@pytest.fixture
def control_arm(study):
    return study.arms.get(code="control")


def _persona(study, username, role, site_code=None, is_staff=False):
    return ensure_user(username, role=role, study=study, site_code=site_code, is_staff=is_staff, password=PASSWORD)


@pytest.fixture
def coordinator_a(study):
    return _persona(study, "coord_a", StudyRole.Role.COORDINATOR, "LON")


@pytest.fixture
def coordinator_b(study):
    return _persona(study, "coord_b", StudyRole.Role.COORDINATOR, "MAN")


@pytest.fixture
def investigator(study):
    return _persona(study, "investigator", StudyRole.Role.INVESTIGATOR)


@pytest.fixture
def data_manager(study):
    return _persona(study, "data_manager", StudyRole.Role.DATA_MANAGER, is_staff=True)


@pytest.fixture
def api_client_user(study):
    return _persona(study, "api_client", StudyRole.Role.API_CLIENT)


@pytest.fixture
def outsider(db):
    return get_user_model().objects.create_user("outsider", password=PASSWORD)


def make_patient(site, by, *, enrolled_days_ago=30, grade=3, mrn=None, enroll=True, **overrides):
    """Register (and by default enroll) a patient at `site`; dates relative to today."""
    today = timezone.localdate()
    enrollment = today - timedelta(days=enrolled_days_ago)
    fields = dict(
        site=site,
        by=by,
        sex="female",
        affected_side="left",
        aetiology="bells_palsy",
        months_since_onset=12,
        baseline_house_brackmann=grade,
        full_name="Ada Example",
        date_of_birth=today - timedelta(days=365 * 40),
        medical_record_number=mrn or f"MRN-{site.code}-{site.patients.count() + 1}-{timezone.now().timestamp()}",
        consent_date=enrollment - timedelta(days=1) if enroll else None,
        enrollment_date=enrollment if enroll else None,
    )
    fields.update(overrides)
    return services.patient_register(**fields)


def record_treatment(patient, by, *, points=None, **session_fields):
    """The baseline visit and an injection session on the enrollment day; the patient needs an injecting arm."""
    visit = services.visit_record(
        patient=patient,
        scheduled_visit=patient.study.schedule.get(day_offset=0),
        by=by,
        date_performed=patient.enrollment_date,
    )
    fields = dict(
        visit=visit,
        date=patient.enrollment_date,
        product="onabotulinumtoxinA",
        lot_number="C1234",
        diluent_ml_per_100_units=Decimal("2.5"),
        injector="Dr Test",
    )
    fields.update(session_fields)
    session = services.injection_session_record(
        patient=patient,
        by=by,
        points=points or [{"muscle": "depressor_anguli_oris", "side": "right", "units": "4"}],
        **fields,
    )
    return visit, session


@pytest.fixture
def patient_a(site_a, coordinator_a):
    """An enrolled, not yet randomized patient at site A."""
    return make_patient(site_a, coordinator_a)


@pytest.fixture
def patient_b(site_b, coordinator_b):
    return make_patient(site_b, coordinator_b)


@pytest.fixture(scope="session", autouse=True)
def _transactional_tests_empty_the_tables_by_delete():
    """After a transactional test (the browser, worker and live-server tests), Django empties every
    table with one TRUNCATE, which on PostgreSQL costs seconds (new files for some 80 tables) while
    the tables hold a few rows. DELETE empties them as well, in milliseconds; the foreign keys Django
    creates are deferred to the commit, so the order does not matter. A test that asks for its
    sequences reset still gets TRUNCATE ... RESTART IDENTITY."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = truncate


# Engine results by (photo bytes, arguments), kept for the whole run: see engine_results_reused.
_ENGINE_RESULTS: dict = {}


@pytest.fixture
def engine_results_reused(monkeypatch):
    """The engine scores each distinct photo once per test run: a test that builds the same demo
    photos again (same seed, same bytes) gets the first result, a copy of what the engine
    returned for those exact bytes. For the tests that need a scored demo, not those of the
    engine: the scoring service around it (claim, save, derived images) runs every time."""
    from measurements import engine

    score = engine.score_image_bytes

    def once(data: bytes, **arguments):
        key = (hashlib.sha256(data).digest(), tuple(sorted(arguments.items())))
        if key not in _ENGINE_RESULTS:
            _ENGINE_RESULTS[key] = score(data, **arguments)
        return copy.deepcopy(_ENGINE_RESULTS[key])

    monkeypatch.setattr(engine, "score_image_bytes", once)


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(scope="session", autouse=True)
def _plain_http_and_source_static_files():
    # Tests run with DEBUG off, as in production, but the test client and live_server speak
    # plain http and serve static files from the source tree: without this, a DEBUG=0 run
    # (make test) would redirect to https, mark cookies Secure and look for collectstatic's
    # manifest. Session-scoped, so it is in place before live_server builds its middleware.
    with override_settings(
        SECURE_SSL_REDIRECT=False,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    ):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    # Every persona logs in: MD5 keeps that fast. Only here, never through an environment
    # variable, so that no deployment can be switched to it (trialsite/settings.py).
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _a_cache_of_this_run_only():
    # The summary's cache keys are stamps of the data (analysis/cache.py); a fresh test database
    # repeats the stamps of an earlier run, so a Redis cache kept between runs could answer with
    # that run's numbers. A cache in this process's memory starts empty with every run.
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    ):
        yield


@pytest.fixture(scope="session", autouse=True)
def _no_session_left_on_the_test_database(request):
    """At the end of the run, wait for other connections to the PostgreSQL test database to end
    (a killed worker's backend takes a moment to exit), so that the database can be dropped; a
    connection that is still there after that is a leak, reported with what it last ran.
    Runs that use no database (tests/engine alone) do not create one for this."""
    if not any("django_db_setup" in item.fixturenames for item in request.session.items):
        yield
        return
    request.getfixturevalue("django_db_setup")  # torn down after this fixture
    django_db_blocker = request.getfixturevalue("django_db_blocker")
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        others = []
        for _ in range(100):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, application_name, state, left(query, 200) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                others = cursor.fetchall()
            if not others:
                return
            time.sleep(0.1)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    warnings.warn(f"connections left open on the test database at the end of the run: {others}", stacklevel=1)


def write_old_free_text_adverse_events(visit, text: str, *, by, reason: str = "Recorded") -> None:
    """The visit's old free-text adverse events, as data from before the field became read only: no form,
    serializer or service writes it any more (models.Visit), but old rows and their history hold it."""
    from patients.audit import set_history_reason, set_history_user

    visit.adverse_events = text
    set_history_user(visit, by)
    set_history_reason(visit, reason)
    visit.save(update_fields=["adverse_events"])
