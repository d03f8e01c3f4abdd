"""API personas: tokens issued the way the admin issues them, a second study, a clean throttle."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils.crypto import get_random_string
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from patients import services
from patients.api_tokens import api_token_issue
from patients.models import StudyRole
from tests.conftest import _persona, make_patient


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counts live in the cache (Redis in the test run); each test starts with a full budget.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def study(db, study):
    """The suite's study, accepting k = 1 in its dataset: most API tests export one to three subjects,
    which the default min_k of 3 refuses with 409. tests/api/test_k_anonymity.py sets min_k itself."""
    study.min_k = 1
    study.save(update_fields=["min_k"])
    return study


@pytest.fixture
def issue_token(data_manager):
    """A token as the admin issues it (`api_token_issue`): only for an API-client account."""

    def _issue(user, study, *, days=90, client_name="Statistician's script"):
        _, token = api_token_issue(
            user=user, study=study, lifetime=timedelta(days=days), client_name=client_name, by=data_manager
        )
        return token

    return _issue


@pytest.fixture
def token_client():
    def _client(token):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return _client


@pytest.fixture
def session_client():
    """Staff (coordinators, investigators, data managers) use the API with their sign-in; tokens are
    for API-client accounts only."""

    def _client(user, *, csrf=False):
        client = APIClient()
        client.force_login(user)
        if csrf:
            # As a browser's script writes: the API's session authentication checks the CSRF pair
            # (the test client would otherwise skip the check), so a write must pass it to be tested.
            client.handler.enforce_csrf_checks = True
            secret = get_random_string(32)
            client.cookies[settings.CSRF_COOKIE_NAME] = secret
            client.credentials(HTTP_X_CSRFTOKEN=secret)
        return client

    return _client


@pytest.fixture
def other_study(db):
    return services.study_set_up(
        code="FACE-2",
        title="Another study",
        sites=[("OXF", "Oxford")],
        max_units_per_point=Decimal("10"),
        max_units_per_session=Decimal("50"),
    )


@pytest.fixture
def api_client_token(api_client_user, study, issue_token):
    return issue_token(api_client_user, study)


@pytest.fixture
def other_study_api_user(other_study):
    return _persona(other_study, "other_api_client", StudyRole.Role.API_CLIENT)


def subjects_url(study):
    return f"/api/v1/studies/{study.code}/dataset/subjects/"


def injections_url(study):
    return f"/api/v1/studies/{study.code}/dataset/injections/"


@pytest.fixture
def throttle_rates():
    """Low rates for one test. SimpleRateThrottle reads REST_FRAMEWORK's rates once, at import."""
    original = SimpleRateThrottle.THROTTLE_RATES

    def _set(burst, sustained="1000/day"):
        SimpleRateThrottle.THROTTLE_RATES = {"burst": burst, "sustained": sustained}

    yield _set
    SimpleRateThrottle.THROTTLE_RATES = original


def make_subject(site, by, **fields):
    """A patient who counts in the dataset: enrolled and randomized (docs/analysis.md, inclusion rules)."""
    patient = make_patient(site, by, **fields)
    services.patient_randomize(patient=patient, by=by)
    patient.refresh_from_db()
    return patient


@pytest.fixture
def patient_a(site_a, coordinator_a):
    """Here, unlike the suite-wide fixture, randomized: only randomized patients are subjects."""
    return make_subject(site_a, coordinator_a)


@pytest.fixture
def patient_b(site_b, coordinator_b):
    return make_subject(site_b, coordinator_b)
