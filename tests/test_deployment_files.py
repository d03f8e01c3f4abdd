"""The files that build, check and deploy the app say what the docs promise.

docker-compose.yml is validated by the real `docker-compose config` (Debian's
docker-compose, which `make test` installs); no Docker engine is needed for that.
"""

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
ALL_SERVICES = ("postgres", "redis", *APP_SERVICES)

COMPOSE_SECRETS = {
    "SECRET_KEY": "compose-config-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
    "POSTGRES_PASSWORD": "compose-config-test-password",
}


def _compose_env(**overrides: str) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    env.update(overrides)
    return env


def _compose_config(env: dict[str, str]) -> subprocess.CompletedProcess:
    executable = shutil.which("docker-compose")
    if executable is None:
        pytest.fail(
            "docker-compose is not installed, so docker-compose.yml cannot be validated. "
            "`make test` installs Debian's package (apt-get install --no-install-recommends docker-compose)."
        )
    # An empty env file: otherwise docker-compose reads the project's .env, which `make run` writes
    # for development (with a SECRET_KEY), and the deployer's environment is no longer what is tested.
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.env"
        empty.write_text("")
        command = [executable, "--project-directory", str(REPO), "--env-file", str(empty)]
        command += ["-f", str(REPO / "docker-compose.yml"), "config"]
        return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def compose() -> dict:
    result = _compose_config(_compose_env(**COMPOSE_SECRETS))
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def _named_volume_mounts(service: dict) -> dict[str, str]:
    """Named volume -> mount target, for both the short and the long volume syntax."""
    mounts = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            if volume.get("type", "volume") != "volume":
                continue
            source, target = volume.get("source", ""), volume.get("target", "")
        if source and not source.startswith(("/", ".", "~")):
            mounts[source] = target
    return mounts


def test_compose_file_is_valid_and_has_every_service(compose):
    assert set(ALL_SERVICES) <= set(compose["services"])


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_every_service_has_a_healthcheck(compose, name):
    healthcheck = compose["services"][name].get("healthcheck")

    assert healthcheck, f"{name} has no healthcheck"
    assert healthcheck.get("test"), f"{name}'s healthcheck has no test"
    assert not healthcheck.get("disable")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_database_and_broker(compose, name):
    depends_on = compose["services"][name]["depends_on"]

    for dependency in ("postgres", "redis"):
        assert depends_on[dependency]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_configuration(compose, name):
    environment = compose["services"][name]["environment"]

    assert environment["DEBUG"] == "0"
    assert environment["SECRET_KEY"] == COMPOSE_SECRETS["SECRET_KEY"]
    assert environment["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert environment == compose["services"]["web"]["environment"]


def test_web_and_worker_share_the_photo_volume_at_media_root(compose):
    services = compose["services"]
    web_mounts = _named_volume_mounts(services["web"])
    worker_mounts = _named_volume_mounts(services["worker"])
    media_root = services["web"]["environment"]["MEDIA_ROOT"]

    shared = [name for name, target in web_mounts.items() if target == media_root]
    assert shared, f"web mounts no named volume at MEDIA_ROOT={media_root}: {web_mounts}"
    assert worker_mounts.get(shared[0]) == media_root
    assert shared[0] in compose["volumes"]


def test_web_runs_migrations_and_gunicorn(compose):
    command = compose["services"]["web"]["command"]
    command = " ".join(command) if isinstance(command, list) else command

    assert "migrate" in command
    assert "collectstatic" in command
    assert "gunicorn trialsite.wsgi" in command
    assert "0.0.0.0:8000" in command


def test_web_healthcheck_calls_healthz(compose):
    assert "/healthz/" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_compose_refuses_to_start_without_a_secret_key():
    env = _compose_env(POSTGRES_PASSWORD=COMPOSE_SECRETS["POSTGRES_PASSWORD"])

    result = _compose_config(env)

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_dockerfile_runs_as_non_root_and_collects_static_files():
    dockerfile = (REPO / "Dockerfile").read_text()

    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    user_lines = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user_lines and user_lines[-1] not in ("root", "0")
    assert "collectstatic" in dockerfile


def test_ci_runs_make_test():
    ci_run = REPO / ".ci" / "run"
    lines = [line.strip() for line in ci_run.read_text().splitlines()]

    assert lines[0].startswith("#!") and "bash" in lines[0]
    assert "set -euo pipefail" in lines
    assert "make test" in lines
    assert ci_run.stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("target", ["venv", "run", "services", "chromium", "test", "bench", "lint", "fmt", "clean"])
def test_makefile_has_target(target):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

    result = subprocess.run(
        ["make", "--dry-run", target], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr


def test_services_script_is_executable():
    script = REPO / "scripts" / "ensure_services.sh"

    assert script.stat().st_mode & stat.S_IXUSR
    assert "set -euo pipefail" in script.read_text()


def test_readme_names_the_two_commands():
    readme = (REPO / "README.md").read_text()

    assert "make run" in readme
    assert "make test" in readme
