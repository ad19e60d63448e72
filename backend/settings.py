"""Project settings: one module, driven by the environment.

Safe local defaults (SQLite file, console email, DEBUG off unless asked); production
sets DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DATABASE_URL. A bad value fails at start.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Local runs and tests get a throwaway key; production must set its own.
_INSECURE_KEY = "insecure-local-only-key-do-not-use-in-production-0123456789"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_KEY)
# Old keys, comma-separated, kept while rotating: they still decrypt webhook secrets and the
# responses kept for Idempotency-Key replays (and still check Django's signatures).
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
PRODUCTION = env.bool("DJANGO_PRODUCTION", default=False)
if PRODUCTION and SECRET_KEY == _INSECURE_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_PRODUCTION is on.")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off when DJANGO_PRODUCTION is on.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "accounts",
    "applicants",
    "cases",
    "partners",
    "webhooks",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "backend.csp.ContentSecurityPolicyMiddleware",  # HTML pages load from this server only
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads a body: refuses one over its limit from Content-Length alone (413).
    "api.bodies.RequestBodyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: a replayed response still gets every header the middleware above adds.
    "api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"
ASGI_APPLICATION = "backend.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite (the embedded default) runs in WAL mode with IMMEDIATE transactions and a busy
# timeout, so concurrent writers queue for the lock instead of failing with "database is
# locked". PostgreSQL is what production runs.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=30),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not :memory:, so threads of the live server share one database;
    # one per process, so concurrent runs (and xdist workers) never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"ipsupport-test-{os.getpid()}.sqlite3")}
# Persistent connections: opening one per request costs milliseconds, and on SQLite closing
# the last one forces a WAL checkpoint.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Language and time ----------------------------------------------------------------
LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Vietnamese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Without collectstatic (local runs, tests) WhiteNoise serves straight from the apps, so the
# Swagger UI and ReDoc assets of drf-spectacular-sidecar work offline either way.
WHITENOISE_USE_FINDERS = not PRODUCTION
# Case documents are private: they live in their own storage, which no URL serves; the API
# streams them after a permission check. Local disk by default (DOCUMENTS_ROOT); any
# S3-compatible object store when DOCUMENTS_S3_BUCKET is set (django-storages, see
# docs/operations.md for the other DOCUMENTS_S3_* settings).
DOCUMENTS_ROOT = env.path("DOCUMENTS_ROOT", default=BASE_DIR / "var" / "documents")
if env.str("DOCUMENTS_S3_BUCKET", default=""):
    _documents_storage: dict[str, object] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("DOCUMENTS_S3_BUCKET"),
            "endpoint_url": env.str("DOCUMENTS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("DOCUMENTS_S3_REGION", default=None),
            "access_key": env.str("DOCUMENTS_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("DOCUMENTS_S3_SECRET_ACCESS_KEY", default=None),
            "location": env.str("DOCUMENTS_S3_PREFIX", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            # a download spills to a temporary file past 1 MB instead of sitting in memory
            "max_memory_size": 1024 * 1024,
        },
    }
else:
    _documents_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DOCUMENTS_ROOT), "base_url": None},
    }
# Uploads: the most bytes one file may have (checked while it streams in) and how many
# files a case may hold, every version counted.
DOCUMENTS_MAX_UPLOAD_BYTES = env.int("DOCUMENTS_MAX_UPLOAD_MB", default=20) * 1024 * 1024
DOCUMENTS_MAX_PER_CASE = env.int("DOCUMENTS_MAX_PER_CASE", default=50)
# Every other request body (JSON, the admin's forms): refused above this, from its
# Content-Length, before a byte is read (api/bodies.py). The proxy's limit should match.
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_KB", default=1024) * 1024
# Per firm: how many drafts it may keep open, and how many bytes its documents may take in all
# (every case and version, deleted drafts included: their files stay; office slips excluded).
CASES_MAX_DRAFTS_PER_ENTERPRISE = env.int("CASES_MAX_DRAFTS_PER_ENTERPRISE", default=20)
DOCUMENTS_MAX_BYTES_PER_ENTERPRISE = env.int("DOCUMENTS_MAX_MB_PER_ENTERPRISE", default=2048) * 1024 * 1024
# The most work a ZIP-based upload (DOCX, XLSX, ODT) may cost to inspect: parts in the
# archive, and the sum of their declared expanded sizes.
DOCUMENTS_ZIP_MAX_ENTRIES = env.int("DOCUMENTS_ZIP_MAX_ENTRIES", default=2000)
DOCUMENTS_ZIP_MAX_EXPANDED_BYTES = env.int("DOCUMENTS_ZIP_MAX_EXPANDED_MB", default=200) * 1024 * 1024
# Stored files are readable by the server's user only (Django's default is 0644 in 0755).
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "documents": _documents_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# The login throttle counts in the default cache, which every worker must share: in
# production CACHE_URL (e.g. redis://...) must name one; the local default is per process.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if PRODUCTION and CACHES["default"]["BACKEND"].rsplit(".", 1)[-1] in ("LocMemCache", "DummyCache"):
    raise ImproperlyConfigured(
        "CACHE_URL must name a cache every worker shares (e.g. redis://127.0.0.1:6379/1) when "
        "DJANGO_PRODUCTION is on: the login throttle counts failures there."
    )

# --- Logins: one throttle for the API and the admin (accounts/login_throttle.py) ---------
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]
# Failed logins allowed per client address, and per username from addresses that failed for it.
LOGIN_THROTTLE_ADDRESS_RATE = env.str("AUTH_THROTTLE_RATE", default="20/min")
LOGIN_THROTTLE_USERNAME_RATE = env.str("AUTH_USERNAME_THROTTLE_RATE", default="10/min")
# Proxies in front of the app: 0 trusts only REMOTE_ADDR, so a client cannot pick its own
# address through X-Forwarded-For. Behind one load balancer, set NUM_PROXIES=1.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
# Short: without a broker a send happens in the request, after commit (three attempts).
EMAIL_TIMEOUT = env.int("DJANGO_EMAIL_TIMEOUT", default=5)
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="hotro-shtt@localhost")
# For DJANGO_EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend
EMAIL_FILE_PATH = env.str("DJANGO_EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))

# --- Background work ----------------------------------------------------------------------
# With CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) notifications go to Celery workers
# and the beat scheduler sends the reminders; without it they are sent in the web process
# right after commit, and reminders come from `manage.py send_reminders` (cron).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Ho_Chi_Minh"
# Retries wait up to an hour: a task must stay invisible to other workers for longer.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_BEAT_SCHEDULE = {
    "due-reminders": {"task": "cases.tasks.send_due_reminders", "schedule": crontab(hour=7, minute=0)},
    "overdue-digest": {"task": "cases.tasks.send_overdue_digest", "schedule": crontab(hour=7, minute=5)},
    "purge-idempotency-keys": {"task": "api.tasks.purge_idempotency_keys", "schedule": crontab(minute=17)},
}
# Officers are reminded this many working days before a case's appointment date.
REMINDER_WORKING_DAYS = env.int("REMINDER_WORKING_DAYS", default=2)

# --- REST framework -------------------------------------------------------------------
_RENDERERS = ["rest_framework.renderers.JSONRenderer"]
if DEBUG:
    _RENDERERS.append("rest_framework.renderers.BrowsableAPIRenderer")

REST_FRAMEWORK = {
    # A partner's API key and a person's token both come as `Authorization: Bearer`; the
    # partner class answers only for keys that start with `ipk_`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.PartnerKeyAuthentication",
        "api.authentication.BearerTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.PartnerScopes",
    ],
    "DEFAULT_RENDERER_CLASSES": _RENDERERS,
    # JSON only: a form or multipart body sent to a JSON operation is a 415, never parsed
    # into something else (a multipart case lost its cost lines). The upload views name
    # their own multipart parser, and the schema declares exactly what each accepts.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.SafeJSONParser"],
    # Refuses empty, repeated and unreadable filter values (api/filters.py), on every list.
    "DEFAULT_FILTER_BACKENDS": ["api.filters.FilterSetBackend"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.KeysetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.problem_exception_handler",
    # Logins are throttled by their authentication backend (accounts/login_throttle.py).
    "DEFAULT_THROTTLE_CLASSES": [],
    "NUM_PROXIES": NUM_PROXIES,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(hours=env.int("TOKEN_TTL_HOURS", default=10)),
    "TOKEN_LIMIT_PER_USER": None,
    "AUTO_REFRESH": False,
}

# Safe retries (docs/api.md): a POST's response is kept for its Idempotency-Key this many
# hours (the documented promise is at least 24), and a request still holding its key after
# IDEMPOTENCY_LOCK_SECONDS is taken to have died, so a retry may take the key over.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=300)
if IDEMPOTENCY_KEY_TTL_HOURS < 24 or IDEMPOTENCY_LOCK_SECONDS < 1:
    raise ImproperlyConfigured("IDEMPOTENCY_KEY_TTL_HOURS must be at least 24, IDEMPOTENCY_LOCK_SECONDS at least 1.")

# Partner systems' API keys: a key lives a year unless its manager says otherwise, at most two.
PARTNER_KEY_DEFAULT_DAYS = env.int("PARTNER_KEY_DEFAULT_DAYS", default=365)
PARTNER_KEY_MAX_DAYS = env.int("PARTNER_KEY_MAX_DAYS", default=730)

# --- Webhooks (webhooks/relay.py tells the whole story) -----------------------------------
# Sent by the Celery workers, never from a web request; without a broker, by
# `manage.py deliver_webhooks` (cron, or --loop).
# Outbound URLs: https only unless WEBHOOKS_ALLOW_HTTP (on by default only with DEBUG); only
# to public addresses, checked when saved and on every connection. WEBHOOKS_ALLOWED_NETWORKS
# (comma-separated CIDRs, e.g. 10.20.0.0/16) opens those networks, and only those, for a
# receiver on the province's own network: every partner may then reach them. Unspecified,
# multicast and reserved addresses stay closed whatever it says.
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=DEBUG)


def _webhooks_networks(values: list[str]) -> list[str]:
    import ipaddress  # only this block needs it

    try:
        return [str(ipaddress.ip_network(value.strip())) for value in values if value.strip()]
    except ValueError as error:
        raise ImproperlyConfigured(f"WEBHOOKS_ALLOWED_NETWORKS: {error}") from None


WEBHOOKS_ALLOWED_NETWORKS = _webhooks_networks(env.list("WEBHOOKS_ALLOWED_NETWORKS", default=[]))
if "WEBHOOKS_ALLOW_PRIVATE_NETWORKS" in os.environ:  # it opened every private network: name them instead
    raise ImproperlyConfigured(
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS is gone: list the receivers' networks in WEBHOOKS_ALLOWED_NETWORKS."
    )
# One attempt, connection to last byte read.
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10)
# A worker's hold on a subscription, renewed before each delivery: it must outlast one
# attempt, and is how long the deliveries of a worker that died wait for another one.
WEBHOOKS_LEASE_SECONDS = env.float("WEBHOOKS_LEASE_SECONDS", default=60)
if WEBHOOKS_LEASE_SECONDS < 2 * WEBHOOKS_TIMEOUT_SECONDS:
    raise ImproperlyConfigured("WEBHOOKS_LEASE_SECONDS must be at least twice WEBHOOKS_TIMEOUT_SECONDS.")
# Retries: base × 3^(n−1), at most the max, ±20%; the defaults spread 11 attempts over about
# three days. A Retry-After is honoured up to its own cap.
WEBHOOKS_BACKOFF_BASE_SECONDS = env.float("WEBHOOKS_BACKOFF_BASE_SECONDS", default=30)
WEBHOOKS_BACKOFF_MAX_SECONDS = env.float("WEBHOOKS_BACKOFF_MAX_SECONDS", default=24 * 3600)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=11)
WEBHOOKS_RETRY_AFTER_MAX_SECONDS = env.float("WEBHOOKS_RETRY_AFTER_MAX_SECONDS", default=24 * 3600)
# Failed attempts in a row (any message) that disable a subscription; a 410 Gone does at once.
WEBHOOKS_DISABLE_AFTER_FAILURES = env.int("WEBHOOKS_DISABLE_AFTER_FAILURES", default=WEBHOOKS_MAX_ATTEMPTS + 1)
if min(WEBHOOKS_MAX_ATTEMPTS, WEBHOOKS_DISABLE_AFTER_FAILURES) < 1 or WEBHOOKS_BACKOFF_BASE_SECONDS < 0:
    raise ImproperlyConfigured(
        "WEBHOOKS_MAX_ATTEMPTS and WEBHOOKS_DISABLE_AFTER_FAILURES must be at least 1, and"
        " WEBHOOKS_BACKOFF_BASE_SECONDS not negative."
    )
# How often the beat's sweep queues due retries and the work of workers that died.
WEBHOOKS_SWEEP_SECONDS = env.float("WEBHOOKS_SWEEP_SECONDS", default=30)
# A Celery queue of their own for the relay's tasks (a worker must consume it); empty: the default.
WEBHOOKS_QUEUE = env.str("WEBHOOKS_QUEUE", default="")
# Partners' signing secrets are stored encrypted (Fernet) with a key derived from this value.
# Comma-separated values: the first encrypts, every one decrypts (to change keys in turn).
# Unset, the keys are derived from SECRET_KEY (which encrypts) and SECRET_KEY_FALLBACKS
# (which still decrypt), so SECRET_KEY can be rotated the Django way. A stored secret keeps
# the key it was written with until the partner rotates it: keep the old SECRET_KEY in
# SECRET_KEY_FALLBACKS while such secrets exist. A secret no key decrypts is not sent.
WEBHOOKS_ENCRYPTION_KEY = env.list("WEBHOOKS_ENCRYPTION_KEY", default=[])
CELERY_BEAT_SCHEDULE["webhooks-sweep"] = {
    "task": "webhooks.tasks.sweep",
    "schedule": WEBHOOKS_SWEEP_SECONDS,
    # A sweep that waited longer than the next one is useless: drop it.
    "options": {"expires": WEBHOOKS_SWEEP_SECONDS, **({"queue": WEBHOOKS_QUEUE} if WEBHOOKS_QUEUE else {})},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "IP Support Case Manager API",
    "DESCRIPTION": (
        "Support applications (cases) for intellectual-property and startup programmes of a "
        "provincial Department of Science and Technology. Errors are application/problem+json "
        "(RFC 9457)."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CaseStateEnum": "cases.models.CaseState",
        "SupportTypeEnum": "cases.models.SupportType",
        "LegalFormEnum": "applicants.models.LegalForm",
        "SizeClassEnum": "applicants.models.SizeClass",
        "DocumentKindEnum": "cases.models.DocumentKind",
        "RuleChangeKindEnum": "cases.models.RuleChangeKind",
        "MilestoneKindEnum": "cases.models.MilestoneKind",
        "ClaimKindEnum": "cases.models.ClaimKind",
        # The checklist's was the only `status` enum before webhooks added theirs: its
        # component keeps the name clients were generated with.
        "StatusEnum": "api.serializers.CHECKLIST_STATUSES",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
        "WebhookEventTypeEnum": "webhooks.models.EventType",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.declare_problems",
    ],
    # What partners receive: OpenAPI 3.1 webhooks, so one document describes both directions.
    "WEBHOOKS": [
        f"api.webhook_events.{name}"
        for name in ("CASE_STATE_CHANGED", "CASE_DOCUMENT_ADDED", "CASE_MILESTONE_RECORDED", "CASE_UPDATED", "PING")
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Django's default config gives "django" a console handler of its own: each line twice.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        # fpdf2's font subsetting narrates every glyph at INFO, once per slip
        "fontTools": {"level": "WARNING"},
    },
}

# --- Production hardening (manage.py check --deploy passes with DJANGO_PRODUCTION=1) ---
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"
