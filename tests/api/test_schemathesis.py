"""Schemathesis against our own schema: bounded generated requests, no 5xx, no response off-schema."""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance

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


@pytest.mark.parametrize("persona", ["api_client_user", "investigator", "coordinator_a"])
def test_generated_requests_get_no_5xx_and_match_the_schema(
    request, persona, django_wsgi, throttle_rates, study, patient_a, patient_b, issue_token
):
    throttle_rates("100000/min", "100000/day")  # a throttled answer would make the run flaky
    token = issue_token(request.getfixturevalue(persona), study)
    headers = {"Authorization": f"Token {token}"}
    # The schema as served (it needs a role, so the token reads it).
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", django_wsgi, headers=headers)
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
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()
