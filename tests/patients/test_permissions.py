"""Who may open which page: the permission matrix, persona by persona, over every HTML view.

URLs are hard-coded on purpose: they are public and pinned.
"""

import pytest

from patients import services
from tests.conftest import record_treatment

READ_VIEWS = ["/patients/{p}/", "/patients/{p}/history/"]
WRITE_VIEWS = [
    "/patients/{p}/edit/",
    "/patients/{p}/randomize/",
    "/patients/{p}/withdraw/",
    "/patients/{p}/complete/",
    "/patients/{p}/visits/new/",
    "/patients/{p}/visits/{v}/edit/",
    "/patients/{p}/visits/{v}/void/",
    "/patients/{p}/injections/new/",
    "/patients/{p}/injections/{s}/edit/",
    "/patients/{p}/injections/{s}/void/",
]
DATA_MANAGER_VIEWS = ["/patients/{p}/assign-arm/"]
STUDY_VIEWS = ["/", "/patients/", "/patients/new/"]
PATIENT_VIEWS = READ_VIEWS + WRITE_VIEWS + DATA_MANAGER_VIEWS


@pytest.fixture
def record(study, patient_a, coordinator_a, data_manager, bont_arm):
    """Patient A at site A with an arm, a baseline visit and an injection session."""
    services.patient_assign_arm_externally(patient=patient_a, arm=bont_arm, by=data_manager, reason="Test set-up")
    visit, session = record_treatment(patient_a, coordinator_a)
    return {"p": patient_a.pk, "v": visit.pk, "s": session.pk}


def cells(personas, templates):
    """One test per (persona, URL), so that a failure names its cell of the matrix."""
    return [pytest.param(persona, t, id=f"{persona}:{t}") for persona in personas for t in templates]


@pytest.mark.parametrize("template", STUDY_VIEWS + PATIENT_VIEWS)
def test_anonymous_visitor_is_sent_to_login(client, record, template):
    response = client.get(template.format(**record))
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize(("persona", "template"), cells(["outsider", "api_client_user"], STUDY_VIEWS + PATIENT_VIEWS))
def test_account_without_a_study_role_on_the_pages_is_refused(request, login, record, persona, template):
    """The outsider has no role at all; the API client's role gives no HTML access."""
    client = login(request.getfixturevalue(persona))
    assert client.get(template.format(**record)).status_code == 403


@pytest.mark.parametrize("template", STUDY_VIEWS + READ_VIEWS + WRITE_VIEWS)
def test_coordinator_can_open_every_page_of_own_site_patient(login, coordinator_a, record, template):
    assert login(coordinator_a).get(template.format(**record)).status_code == 200


@pytest.mark.parametrize("template", DATA_MANAGER_VIEWS)
def test_coordinator_cannot_assign_arms(login, coordinator_a, record, template):
    client, url = login(coordinator_a), template.format(**record)
    assert client.get(url).status_code == 403
    assert client.post(url, {"arm": 1, "reason": "x"}).status_code == 403


@pytest.mark.parametrize("template", PATIENT_VIEWS)
def test_coordinator_cannot_see_other_site(login, coordinator_b, record, patient_a, template):
    client, url = login(coordinator_b), template.format(**record)
    response = client.get(url)
    assert response.status_code == 404
    assert patient_a.study_code.encode() not in response.content
    assert client.post(url, {"reason": "x"}).status_code == 404


def test_coordinator_does_not_see_other_site_in_the_list(login, coordinator_b, record, patient_a):
    listing = login(coordinator_b).get("/patients/")
    assert listing.status_code == 200
    assert patient_a.study_code not in listing.content.decode()


@pytest.mark.parametrize("template", ["/", "/patients/"] + READ_VIEWS)
def test_investigator_reads_every_site(login, investigator, record, template):
    assert login(investigator).get(template.format(**record)).status_code == 200


def test_investigator_lists_patients_of_every_site(login, investigator, record, patient_a):
    assert patient_a.study_code in login(investigator).get("/patients/").content.decode()


@pytest.mark.parametrize("template", WRITE_VIEWS + DATA_MANAGER_VIEWS + ["/patients/new/"])
def test_investigator_writes_nothing(login, investigator, record, template):
    client, url = login(investigator), template.format(**record)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x"}).status_code == 403


@pytest.mark.parametrize("template", ["/patients/"] + READ_VIEWS)
def test_investigator_never_sees_identifiers(login, investigator, record, patient_a, template):
    page = login(investigator).get(template.format(**record)).content.decode()
    identifiers = patient_a.identifiers
    assert identifiers.full_name not in page
    assert identifiers.medical_record_number not in page


def test_coordinator_sees_identifiers_of_own_site(login, coordinator_a, record, patient_a):
    page = login(coordinator_a).get(f"/patients/{patient_a.pk}/").content.decode()
    assert patient_a.identifiers.full_name in page
    assert patient_a.identifiers.medical_record_number in page


@pytest.mark.parametrize("template", ["/", "/patients/"] + READ_VIEWS + DATA_MANAGER_VIEWS)
def test_data_manager_reads_everything_and_assigns_arms(login, data_manager, record, template):
    assert login(data_manager).get(template.format(**record)).status_code == 200


def test_data_manager_sees_identifiers(login, data_manager, record, patient_a):
    assert patient_a.identifiers.full_name in login(data_manager).get(f"/patients/{patient_a.pk}/").content.decode()


@pytest.mark.parametrize("template", WRITE_VIEWS + ["/patients/new/"])
def test_data_manager_edits_only_in_the_admin(login, data_manager, record, template):
    assert login(data_manager).get(template.format(**record)).status_code == 403


def test_visit_and_session_of_another_patient_are_not_found(login, coordinator_a, record, site_a):
    from tests.conftest import make_patient

    other = make_patient(site_a, coordinator_a)
    client = login(coordinator_a)
    for template in ["/patients/{o}/visits/{v}/edit/", "/patients/{o}/injections/{s}/edit/"]:
        assert client.get(template.format(o=other.pk, **record)).status_code == 404


def test_coordinator_can_register_only_at_own_site(login, coordinator_a, site_b, study):
    client = login(coordinator_a)
    response = client.post(
        "/patients/new/",
        {
            "site": site_b.pk,
            "sex": "female",
            "affected_side": "left",
            "aetiology": "trauma",
            "months_since_onset": 10,
            "baseline_house_brackmann": 3,
            "full_name": "Intruder Example",
            "date_of_birth": "1980-01-01",
            "medical_record_number": "X-1",
        },
    )
    assert response.status_code == 200  # the form is shown again with an error
    assert not site_b.patients.exists()


def test_only_the_studys_data_manager_may_assign_an_arm(patient_a, coordinator_a, investigator, data_manager):
    from patients.selectors import access_for

    personas = {"coordinator": coordinator_a, "investigator": investigator, "data manager": data_manager}
    allowed = {name: access_for(user).can_assign_arm(patient_a) for name, user in personas.items()}
    assert allowed == {"coordinator": False, "investigator": False, "data manager": True}


def test_api_client_is_told_it_uses_the_api_and_where_its_documentation_is(login, api_client_user):
    response = login(api_client_user).get("/")
    page = response.content.decode()
    assert response.status_code == 403
    assert "API client" in page and 'href="/api/docs/"' in page
    assert "You have no role in any study" not in page


def test_outsider_is_not_sent_to_the_api_documentation(login, outsider):
    page = login(outsider).get("/").content.decode()
    assert "You have no role in any study" in page and "/api/docs/" not in page
