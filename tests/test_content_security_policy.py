"""Every page carries the Content-Security-Policy, and no template holds what that policy forbids.

The URL patterns are walked, not listed by hand, so a page added later is checked too.
The browser tests (tests/e2e) fail on any CSP violation the browser reports (tests/browser.py).
"""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from measurements import services
from measurements.models import Photo
from tests.measurements.conftest import record_baseline
from tests.measurements.files import noise_jpeg

REPO = Path(__file__).resolve().parent.parent


def _has_policy(response) -> bool:
    directives = {part.strip() for part in response.get("Content-Security-Policy", "").split(";")}
    return "default-src 'self'" in directives


def _patterns(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith("admin/"):
                continue  # Django's admin: the index, login and one changelist below stand for it
            yield from _patterns(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def _concrete(route: str, ids: dict) -> str | None:
    if route.startswith("^") or "(?P" in route:
        return None  # a regex route (static files, DRF format suffixes): covered by its plain twin
    path = re.sub(r"<int:(\w+)>", lambda m: str(ids.get(m.group(1), ids["pk"])), route)
    path = re.sub(r"<(?:str|slug):(\w+)>", lambda m: ids.get(m.group(1), "view"), path)
    return "/" + path


@pytest.fixture
def some_of_everything(patient_a, coordinator_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    visit = record_baseline(patient_a, coordinator_a)
    photo = services.photo_upload(
        visit=visit, expression="rest", data=noise_jpeg(5), filename="rest.jpg", by=coordinator_a
    )
    return {"patient": patient_a, "visit": visit, "photo": photo}


@pytest.mark.django_db
def test_every_page_sends_the_content_security_policy(client, data_manager, coordinator_a, some_of_everything):
    ids = {"pk": some_of_everything["patient"].pk, "visit_pk": some_of_everything["visit"].pk}
    routes = [r for r in _patterns(get_resolver()) if r]
    assert len(routes) > 15, routes
    checked = []
    for user in (None, coordinator_a, data_manager):
        client.logout()
        if user:
            client.force_login(user)
        for route in routes:
            path = _concrete(route, ids)
            if path is None:
                continue
            if route.startswith("photos/<int:pk>"):
                path = path.replace(f"/photos/{ids['pk']}/", f"/photos/{some_of_everything['photo'].pk}/", 1)
            response = client.get(path)
            assert _has_policy(response), f"{path} ({response.status_code}) as {user}: no policy"
            checked.append(path)
        for path in ("/admin/", "/admin/login/", "/admin/patients/patient/", "/no-such-page/"):
            assert _has_policy(client.get(path)), path
    assert Photo.objects.count() == 1
    assert any("/photos/" in p for p in checked)


def test_the_policy_allows_nothing_from_elsewhere(settings):
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]

    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in str(directives)
    assert "'unsafe-eval'" not in str(directives)


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\sstyle=", re.I), "a style= attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an event-handler attribute"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


@pytest.mark.parametrize("template", sorted((REPO / "templates").rglob("*.html")), ids=lambda p: p.name)
def test_no_template_holds_what_the_policy_blocks(template):
    text = template.read_text()
    for pattern, what in INLINE:
        match = pattern.search(text)
        assert match is None, f"{template.relative_to(REPO)} has {what}: {match.group(0)!r}"
