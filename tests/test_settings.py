"""Settings come from the environment and refuse bad values at start-up.

Each case runs in a fresh interpreter with a controlled environment: settings
are read once per process, so the test process's own settings prove nothing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# A production-like key: long, varied, and not Django's "django-insecure-" prefix.
PRODUCTION_SECRET_KEY = "v9#Qm2!xT7r@Lp4^Wz8&Kc1*Hs6(Nd3)Bf5-Gj0=Ya+Ue~Ro" + "t2Zk"
BROKER = "redis://127.0.0.1:6379/0"  # never contacted: settings only
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def _base_env(**overrides: str) -> dict[str, str]:
    # Only what the interpreter needs: the caller's DEBUG, DATABASE_URL and the
    # like must not leak into a case that is about their absence.
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    env["DJANGO_SETTINGS_MODULE"] = "trialsite.settings"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # A developer's .env (written by make run) must not reach a case; the .env cases name their file.
    env["ENV_FILE"] = ""
    env.update(overrides)
    return env


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=_base_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(**env: str) -> dict:
    """Import the settings module alone in a fresh process and return a few values."""
    code = (
        "import json; from django.conf import settings as s; "
        "db = s.DATABASES['default']; "
        "print(json.dumps({"
        "'DEBUG': s.DEBUG, 'ENGINE': db['ENGINE'], 'NAME': str(db['NAME']), "
        "'ALWAYS_EAGER': s.CELERY_TASK_ALWAYS_EAGER, 'BROKER': s.CELERY_BROKER_URL, "
        "'ALLOWED_HOSTS': s.ALLOWED_HOSTS, 'MEDIA_ROOT': str(s.MEDIA_ROOT), "
        "'PROXY_SSL_HEADER': s.SECURE_PROXY_SSL_HEADER, 'HASHERS': s.PASSWORD_HASHERS, "
        "'SSL_REDIRECT': s.SECURE_SSL_REDIRECT}))"
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _settings_error(**env: str) -> str:
    result = _run(["-c", "from django.conf import settings; settings.DEBUG"], **env)
    assert result.returncode != 0, f"settings loaded although they should not have: {result.stdout}"
    return result.stderr


def test_debug_off_without_secret_key_refuses_to_start():
    stderr = _settings_error(DEBUG="0")

    assert "ImproperlyConfigured" in stderr
    assert "SECRET_KEY" in stderr


def test_debug_unset_means_off_and_also_needs_secret_key():
    stderr = _settings_error()

    assert "SECRET_KEY" in stderr


def test_unparseable_debug_fails_loudly():
    stderr = _settings_error(DEBUG="maybe", SECRET_KEY=PRODUCTION_SECRET_KEY)

    assert "ImproperlyConfigured" in stderr
    assert "DEBUG" in stderr
    assert "maybe" in stderr


def test_unparseable_number_fails_loudly():
    stderr = _settings_error(DEBUG="1", PHOTO_MAX_UPLOAD_MB="lots")

    assert "PHOTO_MAX_UPLOAD_MB" in stderr


def test_debug_on_runs_without_secret_key():
    values = _settings(DEBUG="1")

    assert values["DEBUG"] is True


def test_without_database_url_uses_sqlite_under_var():
    values = _settings(DEBUG="1")

    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(values["NAME"]).parent == REPO / "var"


def test_var_dir_moves_the_sqlite_database_and_media():
    values = _settings(DEBUG="1", VAR_DIR="/srv/trial-var")

    assert values["NAME"] == "/srv/trial-var/trialsite.sqlite3"
    assert values["MEDIA_ROOT"] == "/srv/trial-var/media"


def test_database_url_selects_postgresql():
    values = _settings(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, DATABASE_URL=POSTGRES_URL, CELERY_BROKER_URL=BROKER)

    assert values["ENGINE"] == "django.db.backends.postgresql"
    assert values["NAME"] == "postgres"


def test_invalid_database_url_fails_loudly():
    stderr = _settings_error(DEBUG="1", DATABASE_URL="not-a-database://nowhere")

    assert "DATABASE_URL" in stderr


def test_without_broker_tasks_run_in_process():
    values = _settings(DEBUG="1")

    assert values["BROKER"] == "memory://"  # never published to: tasks run in-process
    assert values["ALWAYS_EAGER"] is True


def test_debug_off_without_a_broker_refuses_to_start():
    stderr = _settings_error(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY)

    assert "ImproperlyConfigured" in stderr
    assert "CELERY_BROKER_URL must be set when DEBUG is off" in stderr


def test_in_process_tasks_with_debug_off_must_be_asked_for_by_name():
    values = _settings(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, TASKS_IN_PROCESS="1")

    assert values["ALWAYS_EAGER"] is True


def test_with_broker_tasks_go_to_the_worker():
    values = _settings(DEBUG="1", CELERY_BROKER_URL="redis://127.0.0.1:6379/0")

    assert values["ALWAYS_EAGER"] is False


def test_allowed_hosts_is_a_comma_separated_list():
    values = _settings(DEBUG="1", ALLOWED_HOSTS=" trial.example.org, localhost ,")

    assert values["ALLOWED_HOSTS"] == ["trial.example.org", "localhost"]


def test_production_defaults_redirect_to_https_and_trust_no_proxy_header():
    values = _settings(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, CELERY_BROKER_URL=BROKER)

    assert values["SSL_REDIRECT"] is True
    assert values["PROXY_SSL_HEADER"] is None


def test_behind_tls_proxy_trusts_x_forwarded_proto():
    values = _settings(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, BEHIND_TLS_PROXY="1", CELERY_BROKER_URL=BROKER)

    assert values["PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_no_environment_variable_switches_password_hashing_to_md5():
    for environment in ({}, {"FAST_PASSWORD_HASHER": "1"}):
        hashers = _settings(DEBUG="0", SECRET_KEY=PRODUCTION_SECRET_KEY, CELERY_BROKER_URL=BROKER, **environment)[
            "HASHERS"
        ]
        assert hashers[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
        assert "django.contrib.auth.hashers.MD5PasswordHasher" not in hashers


def test_only_the_tests_hash_passwords_with_md5(settings):
    # Set by the session-wide override in tests/conftest.py: fast logins for the personas.
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.mark.slow
def test_deploy_check_is_clean_with_production_variables():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        ALLOWED_HOSTS="trial.example.org",
        DATABASE_URL=POSTGRES_URL,
        CELERY_BROKER_URL=BROKER,
    )

    assert result.returncode == 0, f"check --deploy reported:\n{result.stdout}\n{result.stderr}"


# --- The development .env ---------------------------------------------------------------------------


def _write_env_file(tmp_path, text: str) -> str:
    path = tmp_path / "dev.env"
    path.write_text(text)
    return str(path)


def test_a_development_env_file_is_read_when_present(tmp_path):
    env_file = _write_env_file(tmp_path, f"DEBUG=1\nSECRET_KEY=from-the-file\nVAR_DIR={tmp_path / 'var'}\n")
    values = _settings(ENV_FILE=env_file)
    assert values["DEBUG"] is True
    assert values["NAME"] == str(tmp_path / "var" / "trialsite.sqlite3")


def test_the_environment_wins_over_the_env_file(tmp_path):
    env_file = _write_env_file(tmp_path, "DEBUG=1\nSECRET_KEY=from-the-file\n")
    values = _settings(
        ENV_FILE=env_file,
        DEBUG="0",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        DATABASE_URL=POSTGRES_URL,
        CELERY_BROKER_URL=BROKER,
    )
    assert values["DEBUG"] is False


def test_without_an_env_file_production_stays_strict(tmp_path):
    assert "SECRET_KEY must be set" in _settings_error(ENV_FILE=str(tmp_path / "missing.env"))


def test_make_run_writes_a_development_env_once(tmp_path):
    import shutil

    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    first = _run([str(tmp_path / "scripts" / "write_dev_env.py")])
    assert first.returncode == 0, first.stderr
    written = (tmp_path / ".env").read_text()
    assert "DEBUG=1" in written and "SECRET_KEY=" in written and f"VAR_DIR={tmp_path / 'var'}" in written
    _run([str(tmp_path / "scripts" / "write_dev_env.py")])
    assert (tmp_path / ".env").read_text() == written, "an existing .env (and its key) is kept"
    assert ".env" in (REPO / ".gitignore").read_text().split()


# --- Photo storage ------------------------------------------------------------------------------------


def test_photo_storage_s3_needs_a_bucket():
    stderr = _settings_error(DEBUG="1", PHOTO_STORAGE="s3")
    assert "AWS_STORAGE_BUCKET_NAME" in stderr


def test_an_unknown_photo_storage_is_refused():
    assert "PHOTO_STORAGE='nfs'" in _settings_error(DEBUG="1", PHOTO_STORAGE="nfs")


def test_photo_storage_s3_is_a_private_bucket():
    code = "import json; from django.conf import settings as s; print(json.dumps(s.STORAGES['default']))"
    result = _run(
        ["-c", code],
        DEBUG="1",
        PHOTO_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="photos",
        AWS_S3_ENDPOINT_URL="https://s3.example.org",
    )
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout.strip().splitlines()[-1])
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "photos"
    assert storage["OPTIONS"]["default_acl"] is None and storage["OPTIONS"]["querystring_auth"] is True
    assert storage["OPTIONS"]["file_overwrite"] is False
