"""Settings for the OCR service, read from environment variables.

Defaults are safe for a laptop (SQLite, DEBUG off unless asked). Production differs
only by environment, never by code path. Every variable is listed in README.md.
"""

import os
import socket
from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from ocr_project import environment
from ocr_project.environment import env_bool, env_int, env_list
from ocr_project.openapi_errors import ERROR_COMPONENTS

BASE_DIR = Path(__file__).resolve().parent.parent

# Mutable state (SQLite database, uploads, generated keys) lives under one
# git-ignored directory so a checkout stays clean.
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

# Secrets an environment variable does not give are generated once under VAR_DIR; which
# ones were is GENERATED_SECRETS (audit.E006 refuses them once the site serves other hosts).
_secret_files = environment.SecretFiles(VAR_DIR)
GENERATED_SECRETS = _secret_files.generated
SECRET_KEY = _secret_files.persistent_secret("SECRET_KEY", "secret_key")
# Separate from SECRET_KEY so rotating one never invalidates the other's signatures.
AUDIT_SIGNING_KEY = _secret_files.persistent_secret("AUDIT_SIGNING_KEY", "audit_signing_key")
# The keys the audit chain's links are HMACs under: "newest_id:secret,older_id:secret".
# The newest links new events, every one verifies. A laptop gets one generated key, id
# "local". Its own setting, not AUDIT_SIGNING_KEY: see the README (Tamper evidence).
AUDIT_CHAIN_KEYS = os.environ.get("AUDIT_CHAIN_KEYS", "").strip() or (
    "local:" + _secret_files.persistent_secret("AUDIT_CHAIN_KEYS", "audit_chain_key")
)

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # django.contrib.admin with the project's site: the staff dashboard joins its URLs.
    "ocr_project.apps.OcrAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "audit",
    "ocr_project.apps.TasksDatabaseConfig",
    "ocr_project.apps.AxesConfig",
    "accounts",
    "tasks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "audit.recording.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Outside the error pages: the RateLimit headers of every throttle that counted the
    # request, on whatever answer it got (ocr_project.common.rate_limits).
    "ocr_project.common.rate_limits.RateLimitHeadersMiddleware",
    # Inside Locale and Authentication: error pages in the visitor's language, for them.
    "ocr_project.error_pages.ErrorPageMiddleware",
    # Sees every response to a signed-in user (inside the error pages, so it sees the
    # refusal as the view gave it): records refusals as access_denied.
    "audit.recording.middleware.AccessDeniedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before any view-phase middleware (CSRF) reads the body.
    "tasks.middleware.RequestBodyLimitMiddleware",
    # Password logins through the form and the admin share the API login's throttle.
    "accounts.throttling.PasswordLoginThrottleMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, as django-axes requires, so it sees the outcome of every login view.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "ocr_project.urls"
# A refused form gets the site's 403 page, not Django's bare one.
CSRF_FAILURE_VIEW = "ocr_project.error_pages.csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "ocr_project.wsgi.application"
ASGI_APPLICATION = "ocr_project.asgi.application"

# Database: SQLite under var/ unless DATABASE_URL says otherwise; how each engine is
# tuned (SQLite's write lock, PostgreSQL's application name) is environment.database_settings'.
DATABASES = {
    "default": environment.database_settings(
        url=os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
        application_name=os.environ.get("DB_APPLICATION_NAME", "").strip(),
        sqlite_busy_timeout=env_int("SQLITE_BUSY_TIMEOUT", 30),
        sqlite_test_name=str(VAR_DIR / "test-db.sqlite3"),
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A database cache: throttling counters are shared by every web worker process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "cache_entries",
    }
}

AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses locked-out username+IP pairs before any password check.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing service accounts a password login anywhere.
    "accounts.backends.PasswordBackend",
]

# The longest an API token may live; every token has an expiry (accounts.api_tokens).
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 365)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions carry their user id in an indexed column so "log out everywhere" is one query.
SESSION_ENGINE = "accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie: forms carry the token, Swagger UI gets it from its page.
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "tasks:list"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
# One timestamp format in every language ("2026-11-27 14:47:05 UTC"): ocr_project/formats.
FORMAT_MODULE_PATH = ["ocr_project.formats"]
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# WhiteNoise warns at start-up when the directory is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Where uploads wait, on this host only, while they are checked; never shared storage.
OCR_STAGING_DIR = Path(os.environ.get("OCR_STAGING_DIR", VAR_DIR / "staging"))
# Uploaded documents go through Django's Storage API. A local folder by default; a
# deployment on several hosts names an object store instead, for example
# storages.backends.s3.S3Storage (pip install django-storages[s3]); see the README.
FILE_STORAGE_BACKEND = os.environ.get(
    "FILE_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
)
# S3's credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (read by boto3
# itself) or the host's instance role; only where the bucket is goes through settings.
FILE_STORAGE_OPTIONS = environment.file_storage_options(
    FILE_STORAGE_BACKEND,
    s3_bucket_name=os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
    s3_endpoint_url=os.environ.get("AWS_S3_ENDPOINT_URL") or None,
    s3_region_name=os.environ.get("AWS_S3_REGION_NAME") or None,
)
STORAGES = {
    "default": {"BACKEND": FILE_STORAGE_BACKEND, "OPTIONS": FILE_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security headers -------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The load balancer checks each backend over plain HTTP: a redirect would mark it down.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Client identification --------------------------------------------------
# How many reverse proxies in front of the app append to X-Forwarded-For. 0 means the
# app is reached directly and REMOTE_ADDR is the client: headers are then ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- REST API ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: it takes only `Bearer ocrs_…` and leaves every other credential to JWT.
        "accounts.api_tokens.authentication.ApiTokenAuthentication",
        "accounts.authentication.RevocableJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # An API token passes only where a view names its scopes (accounts.api_tokens).
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.api_tokens.permissions.TokenScopePermission",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Bodies are JSON, one media type per operation as the schema declares it (the upload
    # sets its own multipart parser); another media type is 415. Deeply nested JSON is a
    # 400, not a RecursionError (500).
    "DEFAULT_PARSER_CLASSES": ["accounts.parsers.JSONParser"],
    # drf-spectacular's AutoSchema, plus the error responses each operation can give.
    "DEFAULT_SCHEMA_CLASS": "ocr_project.openapi.ErrorDocumentingAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Password logins per client address (form, admin and API share it); refreshes per
    # token family; logouts per user. See accounts.throttling.
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("AUTH_THROTTLE_RATE", "20/min"),
        "refresh": os.environ.get("REFRESH_THROTTLE_RATE", "12/min"),
        "logout": os.environ.get("LOGOUT_THROTTLE_RATE", "30/min"),
        "upload": os.environ.get("UPLOAD_THROTTLE_RATE", "60/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Every API error is {"detail", "code"}, like the 404/405/500 answers of error_pages.
    "EXCEPTION_HANDLER": "ocr_project.api_errors.api_exception_handler",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_LIFETIME_SECONDS", 300)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_LIFETIME_SECONDS", 86400)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "SIGNING_KEY": SECRET_KEY,
    "ALGORITHM": "HS256",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OCR service API",
    "DESCRIPTION": "Upload scans and PDFs for OCR; staff read the tamper-evident audit trail.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No link inside each operation's expand button, out of keyboard reach (nested-interactive).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    # The JSON bodies of error responses (ocr_project/openapi.py).
    "APPEND_COMPONENTS": ERROR_COMPONENTS,
}

# --- Background tasks -------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# --- Brute-force protection (django-axes) -----------------------------------
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# Username AND IP together: an attacker elsewhere cannot lock a user out of their own IP.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "audit.recording.client.client_ip"
AXES_RESET_ON_SUCCESS = True
# Refused attempts during a lockout are audited (auth_login, reason locked_out) but do
# not extend it: one lockout, one auth_lockout event, and a cool-off that really ends.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# API clients get JSON (429, Retry-After) rather than django-axes' text response.
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Attempted usernames cut to axes' 255-character column: Django's login forms pass any
# length, and PostgreSQL refuses the insert (a 500 for a failed login).
AXES_USERNAME_CALLABLE = "accounts.lockout.lockout_username"
AXES_VERBOSE = False

# --- Audit ------------------------------------------------------------------
AUDIT_USER_AGENT_MAX_LENGTH = 512
# Processes verify_audit_chain spreads a long chain over (1: verify in this process).
# "background": record_event is one INSERT with no shared lock and a sealer
# (manage.py audit_sealer, started by `make run`) links committed events into the chain.
# "inline": the locked design, each event linked in its writer's transaction under the
# chain head lock (one writer at a time; kept for comparison and single-process installs).
AUDIT_SEALING = os.environ.get("AUDIT_SEALING", "background")
AUDIT_SEAL_INTERVAL_SECONDS = float(os.environ.get("AUDIT_SEAL_INTERVAL_SECONDS", "0.2"))
AUDIT_SEAL_WINDOW_SECONDS = float(os.environ.get("AUDIT_SEAL_WINDOW_SECONDS", "2"))
AUDIT_SEAL_BATCH = env_int("AUDIT_SEAL_BATCH", 2000)
# The sealer holds a lease this long and renews it every round; a sealer whose host
# died is taken over once its lease expired (audit/lease.py). Above the interval.
AUDIT_SEALER_LEASE_SECONDS = float(os.environ.get("AUDIT_SEALER_LEASE_SECONDS", "5"))
# The worker signs the chain head every so many events, or every so many minutes when
# the chain grew at all (see audit/worker_duties.py).
AUDIT_CHECKPOINT_EVERY_EVENTS = max(1, env_int("AUDIT_CHECKPOINT_EVERY_EVENTS", 1000))
AUDIT_CHECKPOINT_EVERY_MINUTES = max(1, env_int("AUDIT_CHECKPOINT_EVERY_MINUTES", 5))
# The directory outside the database every checkpoint is also written to, never
# overwritten: the signed tree heads as tree-<size>.checkpoint and the HMAC checkpoints
# as checkpoint-<sequence>-<time>.json. verify_audit_chain reads it by default. Point it
# at another disk or a mount off this machine; "" writes none (the trail is unanchored).
AUDIT_CHECKPOINT_DIR = os.environ.get("AUDIT_CHECKPOINT_DIR", str(VAR_DIR / "checkpoints"))
# Signed tree heads (C2SP tlog-checkpoints, Ed25519): the worker signs one at least this
# often while the Merkle tree grows, with the signer key in this file (manage.py
# audit_keys makes it; only worker hosts need it). Verifiers take the public keys of
# AUDIT_CHECKPOINT_VERIFIER_KEYS (comma-separated verifier keys), by default the one of
# the local key file when it exists. The origin names the log in every checkpoint: set
# it to the same value on every host.
AUDIT_CHECKPOINT_EVERY_SECONDS = max(
    1.0, float(os.environ.get("AUDIT_CHECKPOINT_EVERY_SECONDS", "10"))
)
AUDIT_CHECKPOINT_SIGNER_KEY_FILE = os.environ.get(
    "AUDIT_CHECKPOINT_SIGNER_KEY_FILE", str(VAR_DIR / "audit_checkpoint_signer.key")
)
AUDIT_CHECKPOINT_VERIFIER_KEYS = env_list("AUDIT_CHECKPOINT_VERIFIER_KEYS", [])
AUDIT_LOG_ORIGIN = os.environ.get("AUDIT_LOG_ORIGIN", "").strip() or (
    f"{socket.gethostname() or 'localhost'}/ocr-audit"
)
# Witnesses (manage.py audit_witness, another party's process): the cosignature keys
# (C2SP verifier keys of type 0x04, comma-separated) whose cosignatures the service
# accepts at POST /api/v2/audit-log/cosignatures and verify_audit_chain counts; and how
# many of them verify_audit_chain requires on the newest checkpoint (0: none).
AUDIT_WITNESS_KEYS = env_list("AUDIT_WITNESS_KEYS", [])
AUDIT_REQUIRE_WITNESSES = max(0, env_int("AUDIT_REQUIRE_WITNESSES", 0))
# The witness's own key and state (last cosigned size and root per log), on its host.
AUDIT_WITNESS_STATE_DIR = os.environ.get("AUDIT_WITNESS_STATE_DIR", str(VAR_DIR / "witness"))
AUDIT_VERIFY_PROCESSES = max(1, env_int("AUDIT_VERIFY_PROCESSES", min(4, os.cpu_count() or 1)))

# The SIEM stream (audit/siem, docs/siem.md): the sealer writes each sealed event once,
# with its link, to this sink and nothing else: file:/PATH (reopened after logrotate),
# syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT, syslog+unix:/dev/log (RFC 5424),
# stdout (the sealer's; all its other output is on stderr) or off. Format: json (ours),
# ocsf (OCSF 1.3) or cef (ArcSight CEF, for syslog collectors).
AUDIT_STREAM = os.environ.get("AUDIT_STREAM", f"file:{(VAR_DIR / 'audit-stream.log').absolute()}")
AUDIT_STREAM_FORMAT = os.environ.get("AUDIT_STREAM_FORMAT", "json").strip().lower()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        # Standard error: standard output is the audit stream's when AUDIT_STREAM=stdout.
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # pikepdf says at import that its C++ logger bridge is up: noise in every log.
        "pikepdf": {"level": "WARNING"},
    },
}

# --- OCR tasks --------------------------------------------------------------
OCR_MAX_FILE_BYTES = env_int("OCR_MAX_FILE_BYTES", 25 * 1024 * 1024)
OCR_MAX_FILES_PER_REQUEST = env_int("OCR_MAX_FILES_PER_REQUEST", 10)
OCR_MAX_PAGES = env_int("OCR_MAX_PAGES", 50)
# Bulk actions on the task list (tasks/bulk.py): the most tasks one delete, re-run or
# download takes (a list page's worth, 20, and then some; more is refused with a 413,
# never cut short), and the most a zip of results may carry, counted before it is built.
OCR_BULK_MAX_TASKS = env_int("OCR_BULK_MAX_TASKS", 100)
OCR_BULK_DOWNLOAD_MAX_BYTES = env_int("OCR_BULK_DOWNLOAD_MAX_BYTES", 512 * 1024 * 1024)
# Recognised words (RapidOCR: lines) the engine trusts less than this (0..100) are dropped:
# junk read off pictures. 20 kept every word of the scan corpus but one misreading.
OCR_MIN_WORD_CONFIDENCE = env_int("OCR_MIN_WORD_CONFIDENCE", 20)
# Per page or image frame; an A4 page at 300 dpi is about 8.7 million pixels.
OCR_MAX_PIXELS = env_int("OCR_MAX_PIXELS", 50_000_000)
# PDF pages with no scanned image (vector text) are rendered at OCR_PDF_DPI; scanned pages
# at their images' own resolution, kept within OCR_PDF_MIN_DPI..OCR_PDF_MAX_DPI.
OCR_PDF_DPI = env_int("OCR_PDF_DPI", 300)
# A PDF page is drawn by a child process killed past this time or memory (RLIMIT_AS);
# previews and thumbnails, drawn for a web request, get at most PREVIEW_RENDER_SECONDS.
OCR_RENDER_TIMEOUT_SECONDS = env_int("OCR_RENDER_TIMEOUT_SECONDS", 120)
OCR_RENDER_MEMORY_MB = env_int("OCR_RENDER_MEMORY_MB", 2048)
# Pages of one task read at once, each in a child process; 1 reads them in the worker
# itself. N workers on one machine use up to N x OCR_PAGE_PROCESSES cores.
# os.process_cpu_count (3.13) honours the CPU affinity a container or taskset gives us.
_CORES = getattr(os, "process_cpu_count", os.cpu_count)() or 1
OCR_PAGE_PROCESSES = env_int("OCR_PAGE_PROCESSES", _CORES)
# Fault hook for tests only, not read from the environment: the child reading the page
# with this index dies with os._exit, as a crashing engine would.
OCR_PAGE_CHILD_EXIT_ON: int | None = None
OCR_PDF_MIN_DPI = env_int("OCR_PDF_MIN_DPI", 150)
OCR_PDF_MAX_DPI = env_int("OCR_PDF_MAX_DPI", 400)
OCR_DEFAULT_ENGINE = os.environ.get("OCR_DEFAULT_ENGINE", "tesseract")
# Searchable PDF (tasks/pdf/images.py): page images that must be encoded (drawn pages, and
# grey or colour images stored losslessly when JPEG is smaller) are JPEG at this quality;
# OCR_OUTPUT_KEEP_LOSSLESS keeps lossless images lossless (Flate) at the cost of size.
OCR_OUTPUT_JPEG_QUALITY = env_int("OCR_OUTPUT_JPEG_QUALITY", 85)
OCR_OUTPUT_KEEP_LOSSLESS = env_bool("OCR_OUTPUT_KEEP_LOSSLESS", False)
# Write the searchable PDF as PDF/A-2b (tasks/pdf/pdfa.py): XMP identification, sRGB OutputIntent.
OCR_OUTPUT_PDFA = env_bool("OCR_OUTPUT_PDFA", False)
# A task whose worker sent no progress for this long is taken back and retried.
OCR_STALE_AFTER_SECONDS = env_int("OCR_STALE_AFTER_SECONDS", 60)
OCR_MAX_ATTEMPTS = env_int("OCR_MAX_ATTEMPTS", 3)
OCR_CLEANUP_DAYS = env_int("OCR_CLEANUP_DAYS", 30)
# Files younger than this are never treated as orphans: their upload may still be committing.
OCR_ORPHAN_GRACE_SECONDS = env_int("OCR_ORPHAN_GRACE_SECONDS", 3600)
# Whole request bodies above files x size (+1 MiB of form fields) are refused unread.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640
# Uploads over FILE_UPLOAD_MAX_MEMORY_SIZE are spooled here, not to /tmp: beside the rest
# of the service's state, and swept by cleanup when a killed worker leaves one behind.
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
