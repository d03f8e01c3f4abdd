"""Schemathesis against our own schema: bounded generated requests, no 5xx, no response off-schema."""

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

MAX_EXAMPLES = 30


@pytest.fixture
def django_wsgi():
    """The project's WSGI app, keeping the test's database connection open between requests
    (as Django's test client does: the handler would close it at the end of each request)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


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


@pytest.mark.parametrize("persona", ["api_client_user", "investigator", "coordinator_a"])
def test_generated_requests_get_no_5xx_and_match_the_schema(
    request, persona, django_wsgi, throttle_rates, study, patient_a, patient_b, issue_token
):
    throttle_rates("100000/min", "100000/day")  # a throttled answer would make the run flaky
    app, headers = _signed_in(django_wsgi, request.getfixturevalue(persona), study, issue_token)
    excluded = [positive_data_acceptance]
    if app is not django_wsgi:  # the session comes with every request, whatever header schemathesis spoils
        excluded.append(ignored_auth)
    # The schema as served (it needs a role, so the persona reads it).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists no operation"
    for operation in operations:

        @given(case=operation.as_strategy(), real_study=st.booleans())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case, real_study):
            if real_study and "study_code" in (case.path_parameters or {}):
                case.path_parameters["study_code"] = study.code  # so that 200 responses are checked too
            # Arm and visit codes depend on the study's set-up, which a schema cannot enumerate:
            # a well-formed but unknown code is rightly refused (400), not a schema violation.
            case.call_and_validate(headers=headers, excluded_checks=excluded)

        check()
