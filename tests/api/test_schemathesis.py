"""Schemathesis against our own schema: every operation, for every role, a few derandomized examples
each; no 5xx and no response off-schema. The API client comes with its token; staff sign in (tokens
are for API-client accounts only). Writes run as a coordinator on their own patient (on the test
database), so that they reach the forms and services, not only the permission check."""

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import ignored_auth, positive_data_acceptance

from patients import services
from tests.conftest import make_patient, record_treatment

READ_EXAMPLES = 6
WRITE_EXAMPLES = 12
PERSONAS = ["api_client_user", "investigator", "data_manager", "coordinator_a"]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def django_wsgi():
    """The project's WSGI app, keeping the test's database connection open between requests
    (as Django's test client does: the handler would close it at the end of each request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def records(study, site_a, coordinator_a, data_manager, bont_arm, tmp_path, settings):
    """A treated patient of the coordinator's site with a visit and a session: real ids for the paths."""
    settings.MEDIA_ROOT = tmp_path / "media"
    patient = make_patient(site_a, coordinator_a)
    patient = services.patient_assign_arm_externally(patient=patient, arm=bont_arm, by=data_manager, reason="Set-up")
    visit, session = record_treatment(patient, coordinator_a)
    return {"study_code": study.code, "id": patient.pk, "visit_pk": visit.pk, "session_pk": session.pk}


def _signed_in(app, user, study, issue_token):
    """The app and headers for `user`: a token for the API client; staff sign in (tokens are for
    API-client accounts only), with the CSRF pair the API's session authentication asks of a write.
    The session cookie is put into each request's environ: the WSGI test client keeps its own jar."""
    if user.study_roles.filter(role="api_client").exists():
        return app, {"Authorization": f"Token {issue_token(user, study)}"}
    client = Client()
    client.force_login(user)
    csrf = get_random_string(32)
    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    cookies = f"{django_settings.SESSION_COOKIE_NAME}={session}; {django_settings.CSRF_COOKIE_NAME}={csrf}"

    def with_session(environ, start_response):
        environ["HTTP_COOKIE"] = cookies
        return app(environ, start_response)

    return with_session, {"X-CSRFToken": csrf}


@pytest.mark.parametrize("persona", PERSONAS)
def test_generated_requests_get_no_5xx_and_match_the_schema(
    request, persona, django_wsgi, throttle_rates, study, records, patient_b, issue_token
):
    throttle_rates("100000/min", "100000/day")  # a throttled answer would make the run flaky
    app, headers = _signed_in(django_wsgi, request.getfixturevalue(persona), study, issue_token)
    # A generated body the schema allows may still break a rule of the trial (a date before
    # enrollment, a visit recorded twice): rightly a 400, not a schema violation.
    excluded = [positive_data_acceptance]
    if app is not django_wsgi:  # the session comes with every request, whatever header schemathesis spoils
        excluded.append(ignored_auth)
    # The schema as served (it needs a role, so the persona reads it; it lists the study's codes).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19, "the schema lists fewer operations than the API has"
    for operation in operations:
        writes = operation.method.upper() in WRITE_METHODS
        if writes and persona != "coordinator_a":
            examples = 2  # refused by role (403), still checked against the schema
        else:
            examples = WRITE_EXAMPLES if writes else READ_EXAMPLES

        @given(case=operation.as_strategy(), real_ids=st.booleans())
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case, real_ids):
            # Mostly the real study and records, so that 200s and the forms' 400s are checked too.
            for name, value in records.items():
                if name in (case.path_parameters or {}) and (real_ids or name == "study_code"):
                    case.path_parameters[name] = value
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        check()
