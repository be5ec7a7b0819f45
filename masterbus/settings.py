"""MasterBus settings, read from the environment (django-environ).

With no configuration at all the project runs on an embedded default: SQLite, an in-process
cache and eager Celery tasks. Set DATABASE_URL, REDIS_URL and CELERY_BROKER_URL to run on
PostgreSQL and Redis. MASTERBUS_ENV=production switches on the deployment hardening and
refuses to start without SECRET_KEY.
"""

from datetime import timedelta
from pathlib import Path

import environ
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from masterbus.logs import logging_config
from masterbus.queues import (
    DEFAULT,
    EVENTS,
    INGEST,
    PHOTOS,
    RECOMPUTE,
    VOLTMETRICS,
    QueueRoutes,
    task_queues,
)
from masterbus.secret_key import default_path as default_secret_key_path
from masterbus.secret_key import installation_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

MASTERBUS_ENV = env.str("MASTERBUS_ENV", default="development")
PRODUCTION = MASTERBUS_ENV == "production"

if PRODUCTION:
    try:
        SECRET_KEY = env.str("SECRET_KEY")
    except ImproperlyConfigured as exc:
        raise ImproperlyConfigured(
            "MASTERBUS_ENV=production needs SECRET_KEY in the environment"
        ) from exc
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
else:
    # No public literal: a random key generated once per installation, kept outside the
    # repository (masterbus/secret_key.py), unless SECRET_KEY is given.
    SECRET_KEY = env.str("SECRET_KEY", default="") or installation_key(
        Path(env.str("SECRET_KEY_FILE", default="") or default_secret_key_path())
    )

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="")

INSTALLED_APPS = [
    # django.contrib.admin, with the staff console's site (its index is the dashboard).
    "console.apps.ConsoleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "corsheaders",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "simple_history",
    "masterbus",
    "facilities",
    "equipment",
    "condoit",
    "voltmetrics",
    "consumers",
    "threatmap",
    "console",
]

MIDDLEWARE = [
    # First: counts and times every answer, those of the middleware below included.
    "masterbus.metrics.middleware.MetricsMiddleware",
    "masterbus.api.request_id.RequestIdMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "masterbus.api.errors.BodySizeLimitMiddleware",
    "masterbus.api.throttling.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The strict Content-Security-Policy of the admin and its login (masterbus/csp.py).
    "masterbus.csp.ContentSecurityPolicyMiddleware",
    # Static files (the admin's, the API viewer's) served by the app itself, DEBUG or not.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who made a change recorded in the audit history (masterbus/audit.py).
    "simple_history.middleware.HistoryRequestMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "masterbus.api.errors.ApiExceptionMiddleware",
    # Last: turns a locked-out admin login into the lockout page (masterbus/api/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "masterbus.urls"
WSGI_APPLICATION = "masterbus.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    DATABASES["default"].setdefault("TEST", {})["NAME"] = BASE_DIR / "test-db.sqlite3"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="masterbus"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                # A cache outage must never take the API down: reads fall through to the DB.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Queues per workload (masterbus/queues.py; docs/deployment.md, "Queues"): every task of the
# project is routed by name in this one table, so a long recompute never delays a callback or
# a pull. A test checks that every registered task is named here. The queue "events" takes
# the outbound webhook deliveries.
CELERY_TASK_ROUTES = QueueRoutes(
    {
        # ingest: Condoit pulls (file imports and pushed events run in their requests and
        # commands; follow-up tasks of theirs go here).
        "facilities.tasks.condoit_pull_task": INGEST,
        # ... and the portfolio rules, re-applied after mirrored records change.
        "consumers.portfolio_tasks.portfolio_rules_apply_task": INGEST,
        # recompute: every risk recompute and snapshot (CPU-bound).
        "voltmetrics.tasks.recompute_pending_task": RECOMPUTE,
        "voltmetrics.tasks.recompute_all_task": RECOMPUTE,
        "voltmetrics.tasks.recompute_facilities_task": RECOMPUTE,
        "voltmetrics.tasks.recompute_chunk_task": RECOMPUTE,
        "voltmetrics.tasks.recompute_finish_task": RECOMPUTE,
        "voltmetrics.tasks.snapshot_month_task": RECOMPUTE,
        "voltmetrics.tasks.backfill_snapshots_task": RECOMPUTE,
        # voltmetrics: the integration's outbox drain, job polls, callbacks, job completion.
        "voltmetrics.integration.tasks.voltmetrics_drain_outbox_task": VOLTMETRICS,
        "voltmetrics.integration.tasks.voltmetrics_poll_jobs_task": VOLTMETRICS,
        "voltmetrics.integration.tasks.voltmetrics_handle_callback": VOLTMETRICS,
        "voltmetrics.integration.tasks.voltmetrics_complete_job_task": VOLTMETRICS,
        # photos: equipment photo fetching.
        "equipment.tasks.photos_fetch_pending_task": PHOTOS,
        "equipment.tasks.photo_fetch_task": PHOTOS,
        # events: webhook deliveries to subscribers (consumers.md §4).
        "consumers.webhooks.tasks.deliver_subscription_task": EVENTS,
        "consumers.webhooks.tasks.deliver_one_task": EVENTS,
        "consumers.webhooks.tasks.deliveries_sweep_task": EVENTS,
        # default: everything else.
        "masterbus.prune": DEFAULT,
    }
)
# Prepended to every queue name on the broker (routes, default, a worker's queues): several
# installations, or test runs, can share one broker. Empty in production.
CELERY_QUEUE_PREFIX = env.str("CELERY_QUEUE_PREFIX", default="")
CELERY_TASK_DEFAULT_QUEUE = CELERY_QUEUE_PREFIX + DEFAULT
# What a worker started without --queues consumes: every queue (a small installation's one
# worker).
CELERY_TASK_QUEUES = task_queues(CELERY_QUEUE_PREFIX)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- I18N / time ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Without collectstatic (the demo, development), WhiteNoise serves the apps' own static files.
WHITENOISE_USE_FINDERS = not PRODUCTION
# Files served at the site's root: /favicon.ico (browsers ask for it on every first visit).
WHITENOISE_ROOT = BASE_DIR / "masterbus" / "root_files"
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

# --- API ------------------------------------------------------------------------------------
# A request body larger than this answers 413 PAYLOAD_TOO_LARGE before it is read (bytes).
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=2_621_440)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
REST_FRAMEWORK = {
    # X-API-Key (service keys), then Bearer JWT (users), then the admin's staff session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "masterbus.api.auth.ApiKeyAuthentication",
        "masterbus.api.auth.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Reads need threatmap:read (keys) or a user; writes declare RequireScope(...) or need staff.
    "DEFAULT_PERMISSION_CLASSES": ["masterbus.api.permissions.HasReadScope"],
    "DEFAULT_THROTTLE_CLASSES": ["masterbus.api.throttling.PrincipalRateThrottle"],
    # Proxies in front of the app whose X-Forwarded-For entries are trusted for the per-address
    # token throttle; 0 = REMOTE_ADDR only (X-Forwarded-For is ignored, it can be forged).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["masterbus.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "masterbus.api.errors.exception_handler",
}
# Requests per minute per key or user (a key's own limit wins); keys holding condoit:push or
# voltmetrics:callback without their own limit get the signed-endpoint limit.
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=100)
API_SIGNED_RATE_LIMIT_PER_MINUTE = env.int("API_SIGNED_RATE_LIMIT_PER_MINUTE", default=6000)
# POST /auth/token (and /auth/token/refresh) per client address per minute.
API_TOKEN_RATE_LIMIT_PER_MINUTE = env.int("API_TOKEN_RATE_LIMIT_PER_MINUTE", default=10)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=24),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # Refresh tokens rotate; a spent one is blacklisted. Tokens carry the user's generation,
    # bumped by a password change or (de)activation (masterbus/api/tokens.py).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "TOKEN_OBTAIN_SERIALIZER": "masterbus.api.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "masterbus.api.tokens.TokenRefreshSerializer",
}
# Password doors (POST /auth/token and the admin login): this many failed attempts within
# this many minutes lock out the client address, and the username, for that long after the
# last of them (django-axes, counted in the database; staff unlock in the admin).
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=10)
LOGIN_LOCKOUT_MINUTES = env.int("LOGIN_LOCKOUT_MINUTES", default=15)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_LOCKOUT_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
# Either one locked blocks: the address (whatever the username) or the username (from anywhere).
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# The address as the token throttle sees it (NUM_PROXIES; X-Forwarded-For is not trusted at 0).
AXES_CLIENT_IP_CALLABLE = "masterbus.api.throttling.client_address"
AXES_USERNAME_CALLABLE = "masterbus.api.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "masterbus.api.lockout.lockout_response"
# A successful login does not clear the failures; attempts refused while locked are not counted.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Only failures are stored (and expire with the cool-off); successful logins are not logged.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
# Signed photo URLs (?exp=…&sig=…); empty = a key derived from SECRET_KEY.
PHOTO_URL_SECRET = env.str("PHOTO_URL_SECRET", default="")
PHOTO_URL_EXP_STEP = env.int("PHOTO_URL_EXP_STEP", default=300)
# Browsers: origins allowed to call the API directly (ThreatMap's pages). Empty = none.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (*default_headers, "x-api-key", "x-request-id", "if-none-match")
CORS_EXPOSE_HEADERS = [
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
    "ETag",
    "Last-Modified",
    "X-Data-Stale",
]
SPECTACULAR_SETTINGS = {
    "TITLE": "MasterBus API",
    "DESCRIPTION": (
        "ThreatMap read API, Condoit event push and VoltMetrics callbacks. Send a service key "
        "as `X-API-Key` or a user's JWT as `Authorization: Bearer …` (POST /api/v1/auth/token). "
        'Errors: `{"error": {"code", "message", "details", "request_id"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs viewer's assets are served by MasterBus itself (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # /schema and /docs need no credentials (and are not refused for bad ones).
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "masterbus.api.schema.strip_trailing_slashes",
        "masterbus.api.schema.add_components",
        "masterbus.api.schema.require_request_bodies",
    ],
}

# --- Condoit --------------------------------------------------------------------------------
CONDOIT_URL = env.str("CONDOIT_URL", default="")
CONDOIT_TOKEN = env.str("CONDOIT_TOKEN", default="")
CONDOIT_WEBHOOK_SECRET = env.str("CONDOIT_WEBHOOK_SECRET", default="")
CONDOIT_PHOTO_HOSTS = env.list("CONDOIT_PHOTO_HOSTS", default=[])
CONDOIT_PAGE_LIMIT = env.int("CONDOIT_PAGE_LIMIT", default=200)
CONDOIT_CONNECT_TIMEOUT = env.float("CONDOIT_CONNECT_TIMEOUT", default=3.05)
CONDOIT_READ_TIMEOUT = env.float("CONDOIT_READ_TIMEOUT", default=30.0)
CONDOIT_MAX_RETRIES = env.int("CONDOIT_MAX_RETRIES", default=5)
CONDOIT_BACKOFF_BASE = env.float("CONDOIT_BACKOFF_BASE", default=1.0)
CONDOIT_BACKOFF_CAP = env.float("CONDOIT_BACKOFF_CAP", default=60.0)
CONDOIT_SYNC_LOCK_TTL = env.int("CONDOIT_SYNC_LOCK_TTL", default=3600)
# A pulled page larger than this is refused (the page fails; nothing of it is written).
CONDOIT_MAX_PAGE_BYTES = env.int("CONDOIT_MAX_PAGE_BYTES", default=64 * 1024 * 1024)
# Signed webhooks: |now - t| beyond this many seconds is refused.
WEBHOOK_REPLAY_WINDOW = env.int("WEBHOOK_REPLAY_WINDOW", default=300)
# Rejected records keep at most this many bytes of their raw JSON.
REJECTED_RAW_MAX_BYTES = env.int("REJECTED_RAW_MAX_BYTES", default=16384)
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=2000)
# On PostgreSQL, large imports and recomputes overlap their database writes (and the next
# batch's reads) with Python work on a second connection (masterbus/overlap.py).
DB_OVERLAP = env.bool("DB_OVERLAP", default=True)
# Retention (operations.md §3, pruned nightly by masterbus.prune): sync runs and their
# rejected records are kept this many days (floor 7), but always the last 20 runs per source
# and every run with a rejection not re-run yet; processed Condoit event ids this many days
# (floor 7: longer than Condoit retries a delivery).
SYNC_RUN_RETENTION_DAYS = env.int("SYNC_RUN_RETENTION_DAYS", default=90)
PROCESSED_EVENT_RETENTION_DAYS = env.int("PROCESSED_EVENT_RETENTION_DAYS", default=14)

# --- Photos ---------------------------------------------------------------------------------
# Equipment photos are fetched from CONDOIT_PHOTO_HOSTS only (condoit-source.md §1).
# Larger answers are refused, with or without Content-Length (bytes).
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=10 * 1024 * 1024)
# Seconds: the read timeout of each fetch and the cap on the whole download.
PHOTO_FETCH_TIMEOUT = env.float("PHOTO_FETCH_TIMEOUT", default=20.0)
PHOTO_CONNECT_TIMEOUT = env.float("PHOTO_CONNECT_TIMEOUT", default=3.05)
# Timeouts, connection errors, 429 and 5xx are retried this many times (backoff from 60 s).
PHOTO_FETCH_MAX_RETRIES = env.int("PHOTO_FETCH_MAX_RETRIES", default=3)
PHOTO_FETCH_RETRY_DELAY = env.int("PHOTO_FETCH_RETRY_DELAY", default=60)
# The beat task queues at most this many pending photos per run.
PHOTO_FETCH_BATCH = env.int("PHOTO_FETCH_BATCH", default=500)
# Longest side of the stored thumbnail (pixels).
PHOTO_THUMBNAIL_SIZE = env.int("PHOTO_THUMBNAIL_SIZE", default=320)
# Allow photo hosts on private, loopback or link-local addresses (tests, on-premises Condoit).
PHOTO_ALLOW_PRIVATE_HOSTS = env.bool("PHOTO_ALLOW_PRIVATE_HOSTS", default=False)
# Lifetime (seconds) of signed photo URLs in payloads; also the photos' Cache-Control max-age.
PHOTO_URL_TTL = env.int("PHOTO_URL_TTL", default=3600)
# Photo files under MEDIA_ROOT/photos that no row names are deleted once older than this
# many days (by modification time; floor 1).
PHOTO_ORPHAN_RETENTION_DAYS = env.int("PHOTO_ORPHAN_RETENTION_DAYS", default=1)

# --- VoltMetrics ----------------------------------------------------------------------------
VOLTMETRICS_URL = env.str("VOLTMETRICS_URL", default="")
VOLTMETRICS_API_KEY = env.str("VOLTMETRICS_API_KEY", default="")
VOLTMETRICS_WEBHOOK_SECRET = env.str("VOLTMETRICS_WEBHOOK_SECRET", default="")
# Connect and read timeouts (seconds) of each request to VoltMetrics.
VOLTMETRICS_CONNECT_TIMEOUT = env.float("VOLTMETRICS_CONNECT_TIMEOUT", default=3.05)
VOLTMETRICS_READ_TIMEOUT = env.float("VOLTMETRICS_READ_TIMEOUT", default=10.0)
# Timeouts, connection errors, 429, 5xx and malformed answers to GETs are retried this many
# times, with exponential backoff (base doubling up to the cap, with jitter; Retry-After
# honoured up to the cap).
VOLTMETRICS_MAX_RETRIES = env.int("VOLTMETRICS_MAX_RETRIES", default=3)
VOLTMETRICS_BACKOFF_BASE = env.float("VOLTMETRICS_BACKOFF_BASE", default=0.5)
VOLTMETRICS_BACKOFF_CAP = env.float("VOLTMETRICS_BACKOFF_CAP", default=30.0)
# This many failed calls in a row open the circuit breaker for the cool-down (seconds).
VOLTMETRICS_BREAKER_THRESHOLD = env.int("VOLTMETRICS_BREAKER_THRESHOLD", default=5)
VOLTMETRICS_BREAKER_COOLDOWN = env.float("VOLTMETRICS_BREAKER_COOLDOWN", default=60.0)
# At most this many items per ingest request.
VOLTMETRICS_BATCH_SIZE = env.int("VOLTMETRICS_BATCH_SIZE", default=500)
# A job's results (and the poll's job statuses) are fetched this many at a time, over one
# keep-alive session holding as many connections (1: one after another).
VOLTMETRICS_FETCH_CONCURRENCY = env.int("VOLTMETRICS_FETCH_CONCURRENCY", default=8)
# Jobs still processing this many seconds after submission are polled (no callback came).
VOLTMETRICS_POLL_AFTER = env.int("VOLTMETRICS_POLL_AFTER", default=300)
# A job whose results could not all be fetched (or whose status answer stayed malformed) is
# retried by the poll this many times, the nth retry VOLTMETRICS_POLL_AFTER × 2^(n-1) seconds
# (+ up to 20 % jitter) after the previous try: with the defaults, over about a day. Then it
# is left failed for staff.
VOLTMETRICS_JOB_RETRIES = env.int("VOLTMETRICS_JOB_RETRIES", default=8)
# calculation_settings.algorithm_version sent with each push; empty = VoltMetrics' current
# version (GET /algorithms, cached for an hour).
VOLTMETRICS_ALGORITHM_VERSION = env.str("VOLTMETRICS_ALGORITHM_VERSION", default="")
# Finished VoltMetrics jobs and received callback events are kept this many days (floor 2);
# a job still processing or awaiting a retry is never pruned.
VOLTMETRICS_RETENTION_DAYS = env.int("VOLTMETRICS_RETENTION_DAYS", default=30)

# --- Risk recompute -------------------------------------------------------------------------
# A burst of record changes within this many seconds makes one recompute, this long after
# the first change (the per-minute beat drain is the safety net).
RECOMPUTE_DEBOUNCE_SECONDS = env.int("RECOMPUTE_DEBOUNCE_SECONDS", default=5)
# A full recompute, and one of more facilities than this, runs as chunks of this many
# facilities, each a task on any worker of the recompute queue (voltmetrics.runs).
RECOMPUTE_CHUNK_FACILITIES = max(1, env.int("RECOMPUTE_CHUNK_FACILITIES", default=50))
# Portfolio rules are re-applied this many seconds after mirrored records change (a burst of
# changes makes one run; consumers.portfolio_tasks).
PORTFOLIO_RULES_DEBOUNCE_SECONDS = env.int("PORTFOLIO_RULES_DEBOUNCE_SECONDS", default=2)
# One refresh cycle (the debounce plus the per-minute drain): while a changed ThreatMap payload
# is rebuilt, the previous one is served (X-Data-Stale: true) at most this long after it changed.
THREATMAP_REFRESH_CYCLE_SECONDS = env.int(
    "THREATMAP_REFRESH_CYCLE_SECONDS", default=RECOMPUTE_DEBOUNCE_SECONDS + 60
)
# Record changes (the change outbox) handled by every consumer (the recompute and, when
# configured, the VoltMetrics push) are kept this many days (floor 1); unhandled ones always.
CHANGE_RETENTION_DAYS = env.int("CHANGE_RETENTION_DAYS", default=7)

# --- Consumers: webhooks (consumers.md §4) --------------------------------------------------
# Subscription URLs must be https unless this is set.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# Deliveries to loopback, private, link-local or multicast addresses are refused unless set.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# A delivery succeeds on any 2xx answered within this many seconds.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds before each retry (then the delivery fails and the subscription pauses).
WEBHOOK_RETRY_SCHEDULE = [
    float(x)
    for x in env.list("WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000",
                                                         "36000", "36000"])
]  # fmt: skip
# Key encrypting the subscriptions' signing secrets at rest; empty = derived from SECRET_KEY
# (so rotating SECRET_KEY then needs the secrets rotated too).
WEBHOOK_ENCRYPTION_KEY = env.str("WEBHOOK_ENCRYPTION_KEY", default="")

# --- Retention ------------------------------------------------------------------------------
# Outbound events and webhook delivery attempts (consumers.md) are kept this many days
# (floor 2: deliveries are retried for about a day).
EVENT_RETENTION_DAYS = env.int("EVENT_RETENTION_DAYS", default=30)
# The nightly prune (masterbus.prune, manage.py prune) deletes at most this many rows per
# statement, each batch in its own short transaction; capped at 5000.
PRUNE_BATCH_SIZE = env.int("PRUNE_BATCH_SIZE", default=5000)

# --- Audit history (masterbus/audit.py) ------------------------------------------------------
# Reasons are free text ("manage.py create_api_key (by OS user …)", an engine's pause reason).
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
# History is read-only: no revert of an old version from the admin.
SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Logging --------------------------------------------------------------------------------
# One handler, to stderr: "plain" text lines, or "json" (one object per line, the default in
# production); every line with its request id and no secret (masterbus/logs.py).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "plain").strip().lower()
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)

# --- Metrics (operations.md §1) -------------------------------------------------------------
# GET /metrics in the Prometheus text format. With METRICS_TOKEN set it needs
# "Authorization: Bearer <METRICS_TOKEN>"; production refuses to start without a token unless
# METRICS_ENABLED=false (then the route is absent). Several processes (gunicorn, Celery
# prefork) add up through PROMETHEUS_MULTIPROC_DIR, read by prometheus-client itself.
METRICS_ENABLED = env.bool("METRICS_ENABLED", default=True)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Application gauges (database and broker reads) are cached this long, at most 15 s.
METRICS_CACHE_SECONDS = env.int("METRICS_CACHE_SECONDS", default=15)
if PRODUCTION and METRICS_ENABLED and not METRICS_TOKEN:
    raise ImproperlyConfigured(
        "METRICS_TOKEN is required in production (or set METRICS_ENABLED=false)"
    )

# --- Content-Security-Policy (masterbus/csp.py) --------------------------------------------
# Responses under these path prefixes (the admin and its login) carry the strict policy.
CSP_PATH_PREFIXES = ["/admin/"]

# --- Production hardening -------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # /health, /ready and /metrics are probed over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
