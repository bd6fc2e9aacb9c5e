"""The one settings module. Everything an operator may change comes from the environment,
with working defaults for the embedded mode (SQLite and files under ``var/``).

Documented in README.md, "Configuration".
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from countycare.keys import load_or_create_keys

PACKAGE_DIR = Path(__file__).resolve().parent


def _project_root() -> Path:
    # An editable install (``pip install -e .``, what ``make`` does) keeps var/ beside the
    # checkout; an installed wheel keeps it in the working directory.
    candidate = PACKAGE_DIR.parent.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = _project_root()
VAR_DIR = Path(os.environ.get("COUNTYCARE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

_keys = load_or_create_keys(VAR_DIR / "keys.json")
SECRET_KEY = os.environ.get("COUNTYCARE_SECRET_KEY") or _keys["secret_key"]
# Fernet keys for fields encrypted at rest (national ID). Comma-separated; the first encrypts,
# all decrypt, so a key can be rotated by prepending a new one.
COUNTYCARE_FIELD_KEYS = [
    k.strip()
    for k in (os.environ.get("COUNTYCARE_FIELD_KEYS") or _keys["field_keys"]).split(",")
    if k.strip()
]
# HMAC key for the lookup hash stored beside an encrypted value (exact search by national ID).
COUNTYCARE_HASH_KEY = os.environ.get("COUNTYCARE_HASH_KEY") or _keys["hash_key"]

DEBUG = env_bool("COUNTYCARE_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "COUNTYCARE_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver"
    ).split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("COUNTYCARE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "countycare.core",
    "countycare.organizations",
    "countycare.residents",
    "countycare.telemed",
    "countycare.ecg",
    "countycare.lab",
    "countycare.imaging",
    "countycare.referrals",
    "countycare.familydoctor",
    "countycare.outreach",
    "countycare.clinical",
    "countycare.indicators",
    "countycare.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "countycare.core.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "countycare.core.middleware.RequestContextMiddleware",
    "countycare.core.middleware.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "countycare.urls"
WSGI_APPLICATION = "countycare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "countycare.core.context_processors.platform",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DEFAULT_SQLITE = f"sqlite:///{VAR_DIR / 'countycare.sqlite3'}"
DATABASE_URL = os.environ.get("DATABASE_URL") or DEFAULT_SQLITE
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL lets readers work beside a writer (web workers + listeners are separate
    # processes); IMMEDIATE transactions take the write lock up front so concurrent writers
    # queue on busy_timeout instead of failing mid-transaction.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("COUNTYCARE_TEST_SQLITE", "")}
else:
    DATABASES["default"].setdefault("TEST", {})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth and security ----------------------------------------------------------------------
AUTH_USER_MODEL = "organizations.Staff"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "countycare.organizations.backends.RoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after this much inactivity (every request pushes the expiry forward).
SESSION_COOKIE_AGE = int(os.environ.get("COUNTYCARE_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env_bool("COUNTYCARE_SECURE_COOKIES", False)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("COUNTYCARE_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# django-axes: lock a username+IP pair after repeated failed logins.
AXES_FAILURE_LIMIT = int(os.environ.get("COUNTYCARE_LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- i18n -----------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("COUNTYCARE_STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise serves from it (collectstatic fills it)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("COUNTYCARE_MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if os.environ.get("COUNTYCARE_S3_BUCKET"):
    # S3-compatible object storage in production (pip install django-storages[s3]).
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ["COUNTYCARE_S3_BUCKET"],
            "endpoint_url": os.environ.get("COUNTYCARE_S3_ENDPOINT_URL"),
        },
    }
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "countycare.core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "countycare.core.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": "20/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CountyCare API",
    "DESCRIPTION": "The open information platform of a tight county medical community.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files (no CDN: village networks, CSP).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set where several models call their field "status".
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "countycare.telemed.models.OrderStatus",
        "ReferralStatusEnum": "countycare.referrals.models.ReferralStatus",
        "AppointmentStatusEnum": "countycare.referrals.models.AppointmentStatus",
        "AcceptModeEnum": "countycare.referrals.models.AcceptMode",
        "PackageKindEnum": "countycare.familydoctor.models.PackageKind",
        "CheckKindEnum": "countycare.familydoctor.models.CheckKind",
        "TerminationReasonEnum": "countycare.familydoctor.models.TerminationReason",
    },
}

# --- Background jobs ------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "")
# Without a broker every task runs in the calling process (embedded default).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = TIME_ZONE
# Periodic work for `celery beat` in production (embedded default: not needed, see telemed.tasks).
CELERY_BEAT_SCHEDULE = {
    "telemed-expire-leases": {"task": "telemed.expire_leases", "schedule": 60.0},
    "telemed-escalate-critical": {"task": "telemed.escalate_critical_alerts", "schedule": 60.0},
    # Store the periods that closed yesterday; recompute stale stored values a worker missed.
    "indicators-materialise-closed": {"task": "indicators.materialise_closed", "schedule": 86400.0},
    "indicators-recompute-stale": {"task": "indicators.recompute_stale", "schedule": 600.0},
    # DICOM receipts nobody holds (a listener stopped, a lease expired, a retry due).
    "imaging-index-receipts": {"task": "imaging.index_receipts", "schedule": 60.0},
    # Contracts past their end become expired (reads go by the dates either way).
    "familydoctor-expire-contracts": {"task": "familydoctor.expire_contracts", "schedule": 86400.0},
}

# --- Cache ----------------------------------------------------------------------------------
if os.environ.get("COUNTYCARE_REDIS_CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["COUNTYCARE_REDIS_CACHE_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("COUNTYCARE_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

COUNTYCARE_NAME = _("CountyCare")
