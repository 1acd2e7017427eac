"""Gaodi settings: embedded defaults (SQLite under ./var) overridable by environment variables.

Every setting that differs between a laptop demo and production is read from the environment so the
same code runs both; `GAODI_ENV=production` turns on the secure defaults that `check --deploy` wants.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent  # src/gaodi
VAR_DIR = Path(os.environ.get("GAODI_VAR_DIR", Path.cwd() / "var")).resolve()
PRODUCTION = os.environ.get("GAODI_ENV", "development") == "production"


def _secret_key() -> str:
    """Use GAODI_SECRET_KEY, or a key generated once and kept in var/ (never a constant in code)."""
    if key := os.environ.get("GAODI_SECRET_KEY"):
        return key
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = _secret_key()
(VAR_DIR / "static").mkdir(parents=True, exist_ok=True)  # whitenoise expects STATIC_ROOT to exist
DEBUG = os.environ.get("GAODI_DEBUG", "0" if PRODUCTION else "1") == "1"
ALLOWED_HOSTS = _env_list("GAODI_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("GAODI_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "ninja",  # serves its own Swagger UI assets for /api/v1/docs (no CDN)
    "gaodi.apps.core",
    "gaodi.apps.algorithms",
    "gaodi.apps.compute",
    "gaodi.apps.data",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

# GAODI_URLCONF lets bench/ mount its baseline view beside the real site; nothing else sets it.
ROOT_URLCONF = os.environ.get("GAODI_URLCONF", "gaodi.config.urls")
WSGI_APPLICATION = "gaodi.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gaodi.apps.core.context_processors.platform",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gaodi.sqlite3'}",
        conn_max_age=int(os.environ.get("GAODI_DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE avoids lock-upgrade deadlocks.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    DATABASES["default"].setdefault("TEST", {})["NAME"] = os.environ.get("GAODI_TEST_SQLITE", "")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "core:home"

# Login rate limit: 5 failures per username+IP locks for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("GAODI_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "config" / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# Uploads: the security self-assessment report and later model files. Kept small in memory.
GAODI_MAX_REPORT_BYTES = int(os.environ.get("GAODI_MAX_REPORT_BYTES", str(20 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Rate limits and other short-lived counters live in the cache. The embedded default is a file cache
# under var/, which the server and the worker processes of one host share; at scale, point
# GAODI_CACHE_URL at Redis (redis://host:6379/0, needs the redis package) for all hosts.
_CACHE_URL = os.environ.get("GAODI_CACHE_URL", "")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
    if _CACHE_URL.startswith(("redis://", "rediss://"))
    else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
}

TASKS = {
    "default": {
        "BACKEND": os.environ.get("GAODI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

# Model endpoints (evaluation) pass an SSRF guard: private, loopback and link-local targets are refused
# unless an operator lists the host or address here (comma-separated).
EVALUATION_ENDPOINT_ALLOWLIST = _env_list("GAODI_EVALUATION_ENDPOINT_ALLOWLIST", "")
EVALUATION_MAX_DATA_BYTES = int(os.environ.get("GAODI_EVALUATION_MAX_DATA_BYTES", str(2**30)))
EVALUATION_MAX_MODEL_BYTES = int(os.environ.get("GAODI_EVALUATION_MAX_MODEL_BYTES", str(200 * 2**20)))
# A run whose worker has not reported for this long may be retried by the institution.
EVALUATION_RUN_TIMEOUT_S = int(os.environ.get("GAODI_EVALUATION_RUN_TIMEOUT_S", "3600"))
# Data resource uploads (dataset versions, compliance assessments): storing stops at this size.
GAODI_DATA_MAX_UPLOAD_BYTES = int(os.environ.get("GAODI_DATA_MAX_UPLOAD_BYTES", str(50 * 1024 * 1024)))

# Compute jobs: a job whose pool's backend stays unreachable this long moves to the next feasible pool
# (an empty value: never; the job waits for its pool).
GAODI_COMPUTE_FAILOVER_AFTER_S = os.environ.get("GAODI_COMPUTE_FAILOVER_AFTER_S", "900")

# Region code of the platform's administrative area (Shanghai), the first part of filing numbers.
GAODI_REGION_CODE = os.environ.get("GAODI_REGION_CODE", "310000")
GAODI_SITE_NAME = "高地 Gaodi"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "gaodi.apps.core.views.csrf_failure"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = os.environ.get("GAODI_SSL_REDIRECT", "1") == "1"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("GAODI_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GAODI_LOG_LEVEL", "WARNING")},
    "loggers": {"django_tasks_db": {"level": "INFO"}},
}
