"""Settings for every environment, driven by environment variables (django-environ).

Quick start: nothing set → DEBUG on, SQLite file in the project folder, a dev-only secret key.
Production: see README "生产部署" (DJANGO_SETTINGS_MODULE=config.settings.production).
"""

from pathlib import Path

import environ
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A generated key is acceptable only for local development; production must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="") or (
    "django-insecure-dev-only-key-do-not-use-in-production" if DEBUG else ""
)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "households.logins.LoginsConfig",  # django-axes, its names in Chinese
    "import_export",
    "households.task_queue.TaskQueueConfig",  # django-tasks-db, the queue of `manage.py db_worker`
    "households",
    "subsidies",
    "disbursements",
    "enterprises",
    "collectives",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so that it sees the outcome of authentication (django-axes docs).
    "axes.middleware.AxesMiddleware",
]

# Content-Security-Policy (Django's own): scripts only from this site or with the page's nonce, nothing
# framed, no plugins, forms post only here. Inline style attributes stay allowed (the pages use them;
# style cannot run code), as are data: images (the admin's icons).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue instead of failing with "database is locked"; WAL lets readers go on meanwhile.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
    }

# Past one machine (issue 14): report pages read from a streaming replica when one is given
# (config/routers.py); without DATABASE_REPLICA_URL nothing is routed.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db_url("DATABASE_REPLICA_URL")
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["config.routers.ReplicaRouter"]
    MIDDLEWARE.append("config.routers.ReplicaReadsMiddleware")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "households.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "households.roles.RoleBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
FORMAT_MODULE_PATH = ["config.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    # Uploaded rosters wait in MEDIA_ROOT/imports between preview and confirm (they hold ID numbers, so
    # not /tmp; files 0600): removed on confirm or refusal, and by `manage.py purge_imports` after
    # IMPORT_LIMITS["UPLOAD_MAX_AGE_HOURS"].
    "import_export": {"BACKEND": "households.imports.ImportUploadStorage"},
}

# Uploaded scans and photos (households.uploads): the most a file may weigh, per kind of upload, before
# anything is read (a scan may be a phone photo of the signed sheet: phones give 5–10 MB); images are
# then stored at most `image_max_side` pixels on their longest side, re-encoded at `jpeg_quality`.
UPLOAD_LIMITS = {
    "max_mb": {"scan": 15, "photo": 15, "pdf": 20},
    "image_max_side": 2400,
    "jpeg_quality": 85,
}

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"

# Login throttling (django-axes): 5 failures lock the username+IP pair for 30 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "lockout.html"
# Behind reverse proxies, the client is the address the last trusted proxy saw: count the proxies that
# append to X-Forwarded-For (nginx: 1). With 0 (the default, no proxy) only REMOTE_ADDR counts, so a
# client cannot choose its address — and so cannot lock other people's usernames out.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "households.clientip.client_ip"

# The address printed under each 公示's QR code: the public notice page is PUBLIC_BASE_URL/gs/<code>/.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The public notice page: reads per address per minute, online objections per phone per day and per
# address per hour (disbursements/public.py).
PUBLIC_NOTICE_LIMITS = {"VIEWS_PER_MINUTE": 60, "OBJECTIONS_PER_PHONE_DAY": 3, "OBJECTIONS_PER_IP_HOUR": 5}

# django-import-export: imports are gated by our own permission, storage is not the temp folder.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "import"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"
IMPORT_EXPORT_TMP_STORAGE_CLASS = "import_export.tmp_storages.MediaStorage"
IMPORT_EXPORT_SKIP_ADMIN_LOG = True  # our ImportBatch + HouseholdChange are the record
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True

# What one Excel import may cost (households.imports.DEFAULT_LIMITS; any key may be left out). Checked
# while the file streams, in the admin and the import_* commands alike: the file's size before it is
# opened, the zip's parts (unzipped size, compression ratio) before any XML is parsed, rows and columns
# while they are read, and every mapped cell against its model field's max_length.
IMPORT_LIMITS = {
    "MAX_FILE_BYTES": 20 * 1024 * 1024,
    "MAX_ROWS": 200_000,
    "MAX_COLUMNS": 40,
    "MAX_CELL_CHARS": 200,
    "MAX_PART_BYTES": 160 * 1024 * 1024,  # one worksheet's XML, unzipped (200,000 roster rows ≈ 140 MB)
    "MAX_SHARED_STRINGS_BYTES": 40 * 1024 * 1024,  # the shared strings, unzipped (held in memory)
    "MAX_COMPRESSION_RATIO": 100,  # unzipped / zipped, parts over 1 MB (real sheets: 5–20; bombs: 1,000)
    "UPLOAD_MAX_AGE_HOURS": 24,  # an upload never confirmed is removed by purge_imports after this
    "BACKGROUND_FROM_BYTES": 512 * 1024,  # admin uploads this large are previewed/imported by the worker
}

# Background work (households.jobs): tasks wait in the database (django-tasks-db) and `manage.py db_worker`
# runs them, beside the web server (scripts/run; a systemd unit in production, see the README). Only the
# tests run them in the request (config/settings/test.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running job's worker writes a heartbeat every HEARTBEAT_SECONDS; a job silent for STALE_SECONDS is shown
# as interrupted (its worker was killed or the machine restarted) and may be retried. On SQLite a long import
# holds the only write lock for its whole transaction (100,000 rows ≈ 30 s), so keep STALE well above that.
JOBS = {
    "HEARTBEAT_SECONDS": env.float("JOBS_HEARTBEAT_SECONDS", default=2.0),
    "STALE_SECONDS": env.float("JOBS_STALE_SECONDS", default=120.0),
    "QUEUE_WARNING_SECONDS": 30.0,  # queued longer than this: say that no worker may be running
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
