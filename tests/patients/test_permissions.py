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


def urls(templates, record):
    return [t.format(**record) for t in templates]


def test_anonymous_visitor_is_sent_to_login_everywhere(client, record):
    for url in urls(STUDY_VIEWS + PATIENT_VIEWS, record):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/"), url


def test_outsider_without_a_role_is_refused_everywhere(login, outsider, record):
    client = login(outsider)
    for url in urls(STUDY_VIEWS + PATIENT_VIEWS, record):
        assert client.get(url).status_code == 403, url


def test_api_client_has_no_html_access(login, api_client_user, record):
    client = login(api_client_user)
    for url in urls(STUDY_VIEWS + PATIENT_VIEWS, record):
        assert client.get(url).status_code == 403, url


def test_coordinator_can_open_every_page_of_own_site_patient(login, coordinator_a, record):
    client = login(coordinator_a)
    for url in urls(STUDY_VIEWS + READ_VIEWS + WRITE_VIEWS, record):
        assert client.get(url).status_code == 200, url


def test_coordinator_cannot_assign_arms(login, coordinator_a, record):
    client = login(coordinator_a)
    for url in urls(DATA_MANAGER_VIEWS, record):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"arm": 1, "reason": "x"}).status_code == 403, url


def test_coordinator_cannot_see_other_site(login, coordinator_b, record, patient_a):
    client = login(coordinator_b)
    for url in urls(PATIENT_VIEWS, record):
        response = client.get(url)
        assert response.status_code == 404, url
        assert patient_a.study_code.encode() not in response.content, url
        assert client.post(url, {"reason": "x"}).status_code == 404, url
    listing = client.get("/patients/")
    assert listing.status_code == 200
    assert patient_a.study_code not in listing.content.decode()


def test_investigator_reads_every_site_but_writes_nothing(login, investigator, record, patient_a):
    client = login(investigator)
    for url in urls(["/", "/patients/"] + READ_VIEWS, record):
        assert client.get(url).status_code == 200, url
    assert patient_a.study_code in client.get("/patients/").content.decode()
    for url in urls(WRITE_VIEWS + DATA_MANAGER_VIEWS + ["/patients/new/"], record):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"reason": "x"}).status_code == 403, url


def test_investigator_never_sees_identifiers(login, investigator, record, patient_a):
    client = login(investigator)
    identifiers = patient_a.identifiers
    for url in urls(["/patients/"] + READ_VIEWS, record):
        page = client.get(url).content.decode()
        assert identifiers.full_name not in page, url
        assert identifiers.medical_record_number not in page, url


def test_coordinator_sees_identifiers_of_own_site(login, coordinator_a, record, patient_a):
    page = login(coordinator_a).get(f"/patients/{patient_a.pk}/").content.decode()
    assert patient_a.identifiers.full_name in page
    assert patient_a.identifiers.medical_record_number in page


def test_data_manager_reads_everything_and_only_assigns_arms(login, data_manager, record, patient_a):
    client = login(data_manager)
    for url in urls(["/", "/patients/"] + READ_VIEWS + DATA_MANAGER_VIEWS, record):
        assert client.get(url).status_code == 200, url
    assert patient_a.identifiers.full_name in client.get(f"/patients/{patient_a.pk}/").content.decode()
    for url in urls(WRITE_VIEWS + ["/patients/new/"], record):
        assert client.get(url).status_code == 403, url


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
