"""Static files as the demo and production serve them: collected, content-hashed and cached for a
year as immutable (the Swagger UI bundle alone is 1.6 MB); uncollected only when asked for."""

import json
import os
import re
import subprocess
from pathlib import Path

from tests.test_settings import PRODUCTION_SECRET_KEY, _run

REPO = Path(__file__).resolve().parent.parent
BUNDLE = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"

SERVE = f"""
import json, django
django.setup()
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client
from django.test.utils import setup_test_environment
call_command("collectstatic", interactive=False, verbosity=0)
setup_test_environment()
url = static("{BUNDLE}")
response = Client().get(url)
print(json.dumps({{"url": url, "status": response.status_code, "cache": response.get("Cache-Control")}}))
"""


def _served(tmp_path, **env) -> dict:
    result = _run(["-c", SERVE], STATIC_ROOT=str(tmp_path / "static"), TASKS_IN_PROCESS="1", **env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_demo_serves_hashed_static_files_as_immutable(tmp_path):
    served = _served(tmp_path, DEBUG="1", STATIC_MANIFEST="1")

    assert re.search(r"swagger-ui-bundle\.[0-9a-f]{12}\.js$", served["url"]), served
    assert served["status"] == 200
    assert "immutable" in served["cache"] and "max-age=315360000" in served["cache"]


def _static_backend(**env) -> str:
    code = "from django.conf import settings as s; print(s.STORAGES['staticfiles']['BACKEND'])"
    result = _run(["-c", code], TASKS_IN_PROCESS="1", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_hashes_by_default_and_a_developer_can_opt_out():
    production = _static_backend(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY)
    assert production == "trialsite.storage.HashedStaticFilesStorage"
    assert _static_backend(DEBUG="1") == "django.contrib.staticfiles.storage.StaticFilesStorage"


def _target(makefile: str, name: str) -> str:
    return makefile.split(f"\n{name}:", 1)[1].split("\n\n", 1)[0]


def test_make_run_collects_before_it_serves():
    makefile = (REPO / "Makefile").read_text()
    run, static = _target(makefile, "run"), _target(makefile, "static")

    assert run.index("$(MAKE) --no-print-directory static") < run.index("manage.py run_demo")
    # run_demo starts runserver, which inherits both.
    assert 'STATIC_MANIFEST=1 STATIC_ROOT="$(STATIC_ROOT)" $(PY) manage.py run_demo' in run
    assert 'STATIC_MANIFEST=1 STATIC_ROOT="$(STATIC_ROOT)" $(PY) manage.py collectstatic' in static


def _make_static(root: Path) -> str:
    # PY=echo: the recipe's decision is under test, not collectstatic itself (20 s).
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "static", f"STATIC_ROOT={root}", "PY=echo"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def test_make_run_collects_only_when_a_source_changed_since_the_last_collect(tmp_path):
    root = tmp_path / "staticfiles"
    manifest = root / "staticfiles.json"

    root.mkdir()
    assert "manage.py collectstatic" in _make_static(root)  # never collected here
    assert manifest.exists()  # the stamp of a collect that succeeded

    assert "up to date" in _make_static(root)
    assert "collectstatic" not in _make_static(root)

    os.utime(manifest, (0, 0))  # a collect older than every source (static/, settings, packages)
    assert "manage.py collectstatic" in _make_static(root)
    assert "up to date" in _make_static(root)
