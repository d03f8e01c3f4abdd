"""Settings for the trial site.

Every value comes from the environment through the small helpers below, which
fail loudly on a value they cannot parse: a typo in a deployment variable must
stop the process at start-up, not surface as odd behaviour in a clinic.

With DEBUG=1 and nothing else set, the app runs on SQLite under var/ and runs
background tasks in-process, so `make run` works straight after checkout.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# A development checkout works without knowing the environment: `make run` writes a git-ignored
# .env (DEBUG=1, a random SECRET_KEY, the SQLite path), read here when present. The process's own
# environment always wins over the file, and ENV_FILE="" (as `make test` sets it) reads no file, so
# a developer's .env never changes a test run or a deployment, which sets its variables itself.
_env_file = os.environ.get("ENV_FILE", str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    load_dotenv(_env_file, override=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_ROOT = env_str("SITE_ROOT", "http://127.0.0.1:8000")

# E-mail: the serious adverse event notices (patients/notifications.py). Printed to the console
# unless a backend is named, e.g. EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend with
# EMAIL_HOST and its credentials. SAE_NOTIFY_ALSO: addresses told of every serious event besides the
# study's investigators and data managers (a pharmacovigilance desk).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "trial@localhost")
SAE_NOTIFY_ALSO = env_list("SAE_NOTIFY_ALSO")

INSTALLED_APPS = [
    "trialsite.apps.TrialAdminConfig",  # django.contrib.admin with the data-manager gate
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # knox provides the hashed, expiring tokens; the token model itself is patients.ApiToken.
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: the CSP allows no CDN
    "simple_history",
    "axes",
    "csp",
    "patients",
    "measurements",
    "analysis",
]

MIDDLEWARE = [
    # First: refuses an oversized request from its Content-Length before anything reads the body.
    "measurements.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Nothing rendered for a signed-in caller stays in a browser's or proxy's cache.
    "trialsite.cache_control.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Axes must come last: it inspects the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trialsite.urls"

# Clinical records change only through their services; the admin's history pages are read, never
# "reverted" (patients.admin.HistoryReadOnly also refuses the post that the hidden button would send).
SIMPLE_HISTORY_REVERT_DISABLED = True

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "patients.context_processors.roles",
                "analysis.context_processors.outcomes_link",
            ],
        },
    },
]

WSGI_APPLICATION = "trialsite.wsgi.application"

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
        if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
            # As for the embedded default below: wait for SQLite's lock instead of failing, and WAL.
            DATABASES["default"].setdefault("OPTIONS", {}).update(
                timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL;"
            )
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # gitignored: a fresh clone has none
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "trialsite.sqlite3",
            # SQLite under concurrent requests (and the demo's scoring processes): wait for the lock
            # instead of failing, and take the write lock when a transaction starts, so that two
            # writers never deadlock on upgrading a read lock (which no timeout can resolve). In WAL
            # mode readers never wait for a writer: pages stay quick while `make run` scores the demo.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")} if env_str("TEST_DATABASE_NAME") else {}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Behind our own TLS-terminating proxy (docs/deployment.md): trust its X-Forwarded-Proto and
# the right-most X-Forwarded-For entry, which it appends. Never when clients can reach the app directly.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)

# Lock-out after repeated failed sign-ins, counted per user name from whatever address (a guess
# spread over many addresses still locks the account) and per address whatever the user name (one
# address trying many accounts is locked). A success resets both counts; a data manager unlocks an
# account in the admin (Axes > Access attempts). The address is the connection's: see
# trialsite/client_address.py.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 30) / 60
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "trialsite.client_address.client_address"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Collected, content-hashed and compressed static files, which whitenoise serves as immutable
# (cached for a year; the Swagger UI bundle alone is 1.6 MB). Always in production (collectstatic
# at build time); `make run` collects them too (STATIC_MANIFEST=1). Off, files come straight
# from the source folders, uncached, as a developer editing a script wants.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
if STATIC_MANIFEST:
    WHITENOISE_USE_FINDERS = False
    WHITENOISE_AUTOREFRESH = False
STATICFILES_DIRS = [BASE_DIR / "static"]

# Photos are private: stored through the storage API and served only by a view
# that checks access. MEDIA_URL is deliberately not routed anywhere.
# PHOTO_STORAGE=local keeps them on disk under MEDIA_ROOT (one machine, or a shared volume);
# PHOTO_STORAGE=s3 keeps them in an S3-compatible bucket, which workers on other machines read too.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
PHOTO_STORAGE = env_str("PHOTO_STORAGE", "local")
if PHOTO_STORAGE == "local":
    _photo_storage: dict = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif PHOTO_STORAGE == "s3":
    if not env_str("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("PHOTO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (and credentials)")
    _photo_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,  # unset: AWS itself
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "location": env_str("AWS_LOCATION", ""),
            # Private objects only: no public ACL, and never reuse a name (a retake is a new object).
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"PHOTO_STORAGE={PHOTO_STORAGE!r}: use 'local' or 's3'")
STORAGES = {
    "default": _photo_storage,
    "staticfiles": {
        "BACKEND": "trialsite.storage.HashedStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

PHOTO_MAX_UPLOAD_MB = env_int("PHOTO_MAX_UPLOAD_MB", 25)
# A photo queued longer ago than this and still pending was probably lost with the broker.
PHOTO_STALE_QUEUE_SECONDS = env_int("PHOTO_STALE_QUEUE_SECONDS", 600)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Background work goes to a Celery worker through CELERY_BROKER_URL. Without a broker, tasks
# would run inside web requests (scoring in a request thread): allowed only for the demo
# (DEBUG=1) and for the unit tests, which say so explicitly with TASKS_IN_PROCESS=1.
TASKS_IN_PROCESS = env_bool("TASKS_IN_PROCESS", False)
if not env_str("CELERY_BROKER_URL") and not (DEBUG or TASKS_IN_PROCESS):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must be set when DEBUG is off (e.g. redis://redis:6379/0): without a broker, "
        "photo scoring would run inside web requests. Only the demo (DEBUG=1) or the test suite "
        "(TASKS_IN_PROCESS=1) runs tasks in-process."
    )
CELERY_TASK_ALWAYS_EAGER = not env_str("CELERY_BROKER_URL")
# In-process mode never publishes; the in-memory transport keeps Celery from looking for AMQP.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that does not answer must not hang an upload request: fail fast,
# keep the photo as pending, and let the periodic sweep queue it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 1,
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "sweep-photos": {"task": "measurements.tasks.sweep_photos", "schedule": env_int("PHOTO_SWEEP_SECONDS", 30)},
}

# The cache holds the API's throttle counters; shared through Redis when there is one,
# so that every web worker counts the same requests.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
    if env_str("REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# The API's plumbing (authentication, permissions, throttles, errors, pagination) is in patients/api_plumbing.py.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "patients.api_plumbing.StudyTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Never just "is logged in": every view names the roles it serves (patients.api_plumbing.StudyRolePermission).
    "DEFAULT_PERMISSION_CLASSES": ["patients.api_plumbing.StudyRolePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["patients.api_plumbing.BurstThrottle", "patients.api_plumbing.SustainedThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "burst": env_str("API_THROTTLE_BURST", "60/min"),
        "sustained": env_str("API_THROTTLE_SUSTAINED", "5000/day"),
    },
    "EXCEPTION_HANDLER": "patients.api_plumbing.exception_handler",
    # Bodies are JSON objects (size-limited, never a 500); the photo upload declares its own multipart parsers.
    "DEFAULT_PARSER_CLASSES": ["patients.api_plumbing.JSONObjectParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "patients.api_plumbing.CursorPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
KNOX_TOKEN_MODEL = "patients.ApiToken"
# knox's own migrations create its default token table even when the model is swapped for
# ours; that orphan table would hold a foreign key to users and break `flush`. Nothing of
# knox's needs a table, so its migrations are skipped.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("API_TOKEN_DAYS", 90)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BoNT-A facial symmetry trial API",
    "DESCRIPTION": "Anonymized trial datasets for statisticians and registries. See docs/api.md.",
    "VERSION": "1.0.0",
    # Swagger UI from drf-spectacular-sidecar's local static files: the page loads nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["patients.api_plumbing.HasAnyStudyRole"],
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for a choice set used by several fields (the baseline grade and each visit's grade).
    "ENUM_NAME_OVERRIDES": {
        "HouseBrackmannEnum": "patients.models.HOUSE_BRACKMANN_CHOICES",
        # The records' writes and reads share these with the dataset's coded columns.
        "SexEnum": "patients.models.Sex",
        "AffectedSideEnum": "patients.models.Side",
        "AetiologyEnum": "patients.models.Aetiology",
        "ProductEnum": "patients.models.Product",
        "MuscleEnum": "patients.models.Muscle",
        "InjectionSideEnum": "patients.models.InjectionSide",
        # The dataset's age banding: in the response headers' schema and in each page's banding.
        "AgeBandingEnum": "analysis.dataset.anonymity.AGE_BANDINGS",
        "RecordStatusEnum": "patients.models.RecordStatus",
        "PatientStatusEnum": "patients.models.Patient.Status",
        "PhotoStatusEnum": "measurements.models.Photo.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "patients.api_plumbing.document_errors",
        "patients.api_plumbing.document_parameters",
    ],
}

# Security. Defaults are strict when DEBUG is off; each can be relaxed by
# environment for a deployment behind a TLS-terminating proxy that needs it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]  # health checks come over plain HTTP from inside
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A shared clinic workstation: the session ends after SESSION_IDLE_MINUTES without a request
# (each request pushes the expiry forward) and when the browser closes.
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# Content-Security-Policy (django-csp 4): scripts, styles, images and connections from this
# site only, so injected markup cannot run script or send data elsewhere. Templates carry no
# inline script, style attribute or event handler; their JavaScript lives in static/js.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],  # base.html's empty favicon (data:,) keeps browsers off /favicon.ico
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SILENCED_SYSTEM_CHECKS = ["security.W021"] if not SECURE_HSTS_PRELOAD else []

# No environment variable can weaken this: the tests switch to a fast hasher in their own
# session-wide settings override (tests/conftest.py), never through the environment.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per task is worker output; in-process (demo) mode it would flood the console.
        "celery.app.trace": {"level": "INFO" if env_str("CELERY_BROKER_URL") else "WARNING"},
    },
}
