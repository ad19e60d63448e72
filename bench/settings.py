"""Settings for the benchmark: the project's own, with a database of its own.

SQLite by default (bench/results/bench.sqlite3, gitignored, same options as the project's
SQLite: WAL, IMMEDIATE transactions). DATABASE_URL selects another database, e.g.
PostgreSQL; its name must contain "bench", so a run can never seed 100,000 cases into a
development or test database.
"""

from __future__ import annotations

import os
import warnings

from django.core.exceptions import ImproperlyConfigured

from backend.settings import *  # noqa: F403
from backend.settings import BASE_DIR, DATABASES, REST_FRAMEWORK

RESULTS_DIR = BASE_DIR / "bench" / "results"
SQLITE_PATH = RESULTS_DIR / "bench.sqlite3"

# What is measured is the production configuration: DEBUG off (no query log kept in
# memory), JSON renderer only.
DEBUG = False
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]}
ROOT_URLCONF = "bench.urls"
# WhiteNoise warns once per process when collectstatic has not run; nothing here serves static files.
warnings.filterwarnings("ignore", message=r"No directory at: .*staticfiles", category=UserWarning)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

if os.environ.get("DATABASE_URL"):
    # backend.settings has parsed it (engine, options, CONN_MAX_AGE); only guard the name.
    if "bench" not in str(DATABASES["default"]["NAME"]):
        raise ImproperlyConfigured(
            f"bench: DATABASE_URL names the database {DATABASES['default']['NAME']!r}; give the benchmark "
            "a database of its own whose name contains 'bench', e.g. "
            "postgres://postgres@127.0.0.1:5432/bench (created if missing)."
        )
else:
    DATABASES = {"default": {**DATABASES["default"], "NAME": str(SQLITE_PATH)}}
    DATABASES["default"].pop("TEST", None)
