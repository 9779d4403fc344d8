"""BuildCRM settings: every value comes from the environment (django-environ), with dev defaults."""
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key-change-me-in-production-0123456789")
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="dev-insecure-field-encryption-key")
PUBLIC_DOMAIN = env("PUBLIC_DOMAIN", default="localhost")
TENANT_BASE_DOMAIN = env("TENANT_BASE_DOMAIN", default="localhost")
PORT = env.int("PORT", default=8000)
LOG_LEVEL = env("LOG_LEVEL", default="INFO")

OPENAI_API_KEY = env("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env("OPENAI_BASE_URL", default="https://api.openai.com/v1")
OPENAI_MODEL = env("OPENAI_MODEL", default="gpt-4o-mini")
AI_TURN_BUDGET_SECONDS = env.float("AI_TURN_BUDGET_SECONDS", default=45.0)
AI_TEXT_PREFIX_CHARS = env.int("AI_TEXT_PREFIX_CHARS", default=4000)
# The WhatsApp Web bridge (bridge/whatsapp-web): where it listens and the secret each tenant's is derived from; the
# admin's "Start" fills a tenant's channels.wwebjs from them when the tenant has none of its own.
BRIDGE_URL = env("BRIDGE_URL", default="http://localhost:3100")
BRIDGE_SECRET = env("BRIDGE_SECRET", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"http://*.{TENANT_BASE_DOMAIN}", f"https://*.{TENANT_BASE_DOMAIN}"]
)

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "accounts",
    "daphne",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "buildcrm",  # the web layer: no models; management commands (seed_demo)
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework.authtoken",
    "accounts",
    "leads",
    "conversations",
    "aiagent",
    "followups",
    "integrations",
    "crmsync",
    "meetings",
    "knowledge",
    "tasks",
    "voicecalls",
    "notifications",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants clone this migrated schema instead of running every migration (setup_platform makes it).
TENANT_BASE_SCHEMA = "tenant_base"
TENANT_CREATION_FAKES_MIGRATIONS = True
# Set the search path once per connection and schema change, not before every query (halves round trips).
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "buildcrm.urls_public"
ROOT_URLCONF = "buildcrm.urls_tenant"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

MIDDLEWARE = [
    # Before the tenant lookup, which is the first thing to need the database: 503 while it is down.
    "buildcrm.middleware.DatabaseUnavailableMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    # A suspended tenant's host: a 503 page in Russian and English (the API: JSON), nothing else runs.
    "buildcrm.middleware.TenantSuspendedMiddleware",
    "buildcrm.middleware.BodySizeLimitMiddleware",
    "buildcrm.api_input.ApiInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "buildcrm.middleware.ContentSecurityPolicyMiddleware",
    "buildcrm.middleware.SyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # issue 16: the global admin in its user's language (ru / en)
    "buildcrm.middleware.AdminLanguageMiddleware",
]

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

WSGI_APPLICATION = "buildcrm.wsgi.application"
ASGI_APPLICATION = "buildcrm.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/buildcrm")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
if "host" in DATABASES["default"].get("OPTIONS", {}):  # unix socket given as ?host=/dir (embedded server)
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
# Under ASGI each request's sync code runs on a fresh thread, so persistent per-thread connections
# (CONN_MAX_AGE) would leak one connection per request. Servers and workers use psycopg's pool instead;
# the test suite turns it off (it drops its test databases, which idle pooled connections would block).
DB_POOL = env.bool("DB_POOL", default="pytest" not in sys.modules)
DATABASES["default"]["CONN_MAX_AGE"] = 0
# A server that does not answer a connection attempt (host down, packets dropped) fails it after this long.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
if DB_POOL:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DB_POOL_MIN", default=2),
        "max_size": env.int("DB_POOL_MAX", default=20),
        # How long a request waits for a connection, then fails (the web answers 503). With PostgreSQL down, only
        # the requests already in flight wait this long: the rest get 503 at once (buildcrm.middleware).
        "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
        # While PostgreSQL is down the pool retries a connection with growing pauses; it gives up after this
        # long, and the next request starts again at once — so a server back after a long outage is found
        # within seconds instead of at the end of a pause of minutes.
        "reconnect_timeout": env.float("DB_POOL_RECONNECT_SECONDS", default=5.0),
    }
    # A pooled connection is checked (one empty round trip) before it is handed out: the connections a
    # PostgreSQL restart broke are replaced instead of failing a request or a task each.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def _redis_url() -> str:
    url = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
    # Parallel test workers share one Redis server: give each its own database number so one
    # worker's Celery queue and channel groups never reach another's test database.
    worker = env("PYTEST_XDIST_WORKER", default="")
    if worker.startswith("gw"):
        base, _, _db = url.rpartition("/")
        url = f"{base}/{1 + int(worker[2:])}" if _db.isdigit() else url
    return url


REDIS_URL = _redis_url()
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}
# channels_redis waits for a socket's next event with a blocking BZPOPMIN of 5 s; redis-py 8 reads with a 5 s
# socket_timeout by default, so every idle socket died with TimeoutError (1011) after ~5.4 s. The read timeout
# must outlast the blocking pop; a finite one still notices a Redis that went away. Health checks PING a pooled
# connection idle longer than the interval before it is used again.
CHANNEL_REDIS_SOCKET_TIMEOUT = env.float("CHANNEL_REDIS_SOCKET_TIMEOUT", default=15.0)
# Connections one process's channel layer may hold; past them a caller waits (up to the timeout, s) for one.
CHANNEL_REDIS_MAX_CONNECTIONS = env.int("CHANNEL_REDIS_MAX_CONNECTIONS", default=100)
CHANNEL_REDIS_POOL_TIMEOUT = env.float("CHANNEL_REDIS_POOL_TIMEOUT", default=20.0)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "core.channel_layer.ChannelLayer",  # channels_redis with a pool that waits when busy
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_REDIS_SOCKET_TIMEOUT,
                       "socket_connect_timeout": 5, "socket_keepalive": True, "health_check_interval": 30}],
            "prefix": "buildcrm",
            # A socket's group memberships must outlive the socket: daphne closes sockets after 24 h
            # (--websocket_timeout), the PWA then reconnects and joins again.
            "group_expiry": 2 * 86400,
        },
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task a worker took but never acknowledged (the worker was killed) goes back to the queue once it is this old;
# workers look for such tasks every BROKER_RESTORE_INTERVAL seconds. Every task is safe to run twice (claims,
# locks, idempotent sweeps), and the beat sweeps below recover lost work long before the default hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("BROKER_VISIBILITY_TIMEOUT", default=3600),
    "unacked_restore_interval": env.int("BROKER_RESTORE_INTERVAL", default=60),
    "unacked_restore_throttle": 1,
}
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A follow-up sweep's time budget; with rows still due it queues its own continuation behind its deliveries.
FOLLOWUP_SWEEP_BUDGET_SECONDS = env.float("FOLLOWUP_SWEEP_BUDGET_SECONDS", default=2.0)
FOLLOWUP_CLAIM_TIMEOUT_SECONDS = env.float("FOLLOWUP_CLAIM_TIMEOUT_SECONDS", default=600.0)
# Beat runs in the public schema; each entry fans out to every tenant (tenants.tasks.dispatch_to_tenants).
CELERY_BEAT_SCHEDULE = {
    "followups-sweep": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("FOLLOWUP_SWEEP_SECONDS", default=5.0),
        "args": ("followups.tasks.sweep_due",),
    },
    "reengagement-daily": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": 3600.0,
        "args": ("followups.tasks.reengage",),
    },
    # Safety net of inbound storage: client messages whose processing kick was lost (Redis or broker down).
    "inbound-sweep": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("INBOUND_SWEEP_SECONDS", default=15.0),
        "args": ("conversations.process_inbound",),
    },
    # Safety net of the send pipeline: queued messages whose delivery task was never queued (broker down) or lost,
    # or whose attempt died with its worker.
    "outbound-requeue-stale": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("OUTBOUND_REQUEUE_SECONDS", default=60.0),
        "args": ("conversations.requeue_stale",),
    },
    # The client's meeting reminders (a day and two hours before; followups.reminders) and the hourly score decay.
    "meeting-reminders": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("MEETING_REMINDER_SWEEP_SECONDS", default=300.0),
        "args": ("followups.tasks.meeting_reminders",),
    },
    "score-decay": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("SCORE_DECAY_SWEEP_SECONDS", default=3600.0),
        "args": ("leads.tasks.decay_scores",),
    },
    # Safety net of the AI manager: a client message whose turn was never queued, or died with its worker, gets one.
    "ai-unanswered-sweep": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("AI_SWEEP_SECONDS", default=60.0),
        "args": ("aiagent.tasks.sweep_unanswered",),
    },
    # Tasks that came due: one `task.due` each (the assignee's reminder, notifications).
    "tasks-remind-due": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("TASK_DUE_SWEEP_SECONDS", default=30.0),
        "args": ("tasks.tasks.remind_due",),
    },
    # Pushes and Telegram messages held by a user's quiet hours, sent once they end.
    "notifications-release-held": {
        "task": "tenants.tasks.dispatch_to_tenants",
        "schedule": env.float("NOTIFICATIONS_HELD_SWEEP_SECONDS", default=60.0),
        "args": ("notifications.tasks.release_held",),
    },
    # Tenants marked for deletion whose grace period (TENANT_DELETE_GRACE_DAYS) is over: schema and media dropped.
    "tenants-purge-deleted": {"task": "tenants.tasks.purge_deleted", "schedule": 3600.0},
}
# A queued outbound message untouched this long is handed to the workers again (its task was lost, or its worker
# died mid-attempt). Keep it above the longest attempt (the adapters' 10 s HTTP timeout per request).
OUTBOUND_STALE_SECONDS = env.float("OUTBOUND_STALE_SECONDS", default=300.0)
# Notifications: a task's reminder goes this many minutes before it is due; Web Push names the platform by this
# VAPID subject (a mailto: or https: URL the push services may contact).
TASK_DUE_REMIND_BEFORE_MINUTES = env.int("TASK_DUE_REMIND_BEFORE_MINUTES", default=10)
WEBPUSH_SUBJECT = env("WEBPUSH_SUBJECT", default="mailto:admin@buildcrm.local")
# Push endpoints come from browsers (https, a push service's host name); an http:// or IP-literal/localhost endpoint is
# refused (our workers would POST wherever a user points them) unless this is on — development and local stand-ins.
WEBPUSH_ALLOW_LOCAL = env.bool("WEBPUSH_ALLOW_LOCAL", default=DEBUG)
# A client message unanswered this long gets a turn from the AI sweep (well above ai.debounce_seconds).
AI_UNANSWERED_AFTER_SECONDS = env.float("AI_UNANSWERED_AFTER_SECONDS", default=90.0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling, per account (failures for one e-mail) and per client address, each with a growing lock:
# LOGIN_LOCK_SECONDS after the limit is reached, doubling with every further failure, at most LOGIN_LOCK_MAX_SECONDS.
# A locked address still lets through accounts that signed in from it before (LOGIN_KNOWN_ADDRESS_DAYS), so
# spraying random e-mails from an office's shared address locks out nobody who works there.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=50)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
LOGIN_LOCK_SECONDS = env.int("LOGIN_LOCK_SECONDS", default=60)
LOGIN_LOCK_MAX_SECONDS = env.int("LOGIN_LOCK_MAX_SECONDS", default=3600)
LOGIN_KNOWN_ADDRESS_DAYS = env.int("LOGIN_KNOWN_ADDRESS_DAYS", default=30)
# Reverse proxies in front of the app (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

LANGUAGE_CODE = "ru"
LANGUAGES = [("ru", "Русский"), ("en", "English")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / ".data" / "static"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# The PWA (service worker, manifest, assets) is served at the tenant host's root.
WHITENOISE_ROOT = FRONTEND_DIST if FRONTEND_DIST.exists() else None
WHITENOISE_USE_FINDERS = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
WEBHOOK_MAX_BODY = 1024 * 1024
# Threads of the ASGI webhook fast path (buildcrm/asgi_webhooks.py); each holds a database connection while it works.
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", default=8)
# Webhooks per second one webhook URL (a tenant's token of one provider) may post, with a burst on top; over
# it → 429 with Retry-After. 0 switches the limit off. Counted in Redis; Redis down → not limited.
WEBHOOK_RATE_PER_SECOND = env.float("WEBHOOK_RATE_PER_SECOND", default=100.0)
WEBHOOK_RATE_BURST = env.int("WEBHOOK_RATE_BURST", default=1000)
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media"))
MEDIA_URL = "/media/"
# How a browser reaches a tenant's host (<slug>.TENANT_BASE_DOMAIN), for links made without a request (a worker
# storing a client's media): scheme and port (a scheme's default port is left out; behind a TLS proxy: https, 443).
PUBLIC_URL_SCHEME = env("PUBLIC_URL_SCHEME", default="http")
PUBLIC_URL_PORT = env.int("PUBLIC_URL_PORT", default=PORT)
# Inbound media (Cloud API, Telegram) fetched by a worker: the size limit (bigger files are recorded, not fetched)
# and the attempts on 5xx / timeouts (backoff as for sends: SEND_RETRY_BASE_SECONDS, doubling, jittered).
MEDIA_FETCH_MAX_BYTES = env.int("MEDIA_FETCH_MAX_BYTES", default=16 * 1024 * 1024)
MEDIA_FETCH_MAX_ATTEMPTS = env.int("MEDIA_FETCH_MAX_ATTEMPTS", default=5)
# Uploaded photos (chat composer): the largest file accepted, and the most pixels one may decode to (a small
# PNG can claim 100,000 × 100,000 pixels: a decompression bomb).
MEDIA_UPLOAD_MAX_BYTES = env.int("MEDIA_UPLOAD_MAX_BYTES", default=10 * 1024 * 1024)
MEDIA_IMAGE_MAX_PIXELS = env.int("MEDIA_IMAGE_MAX_PIXELS", default=40_000_000)
# Voice notes (issue 15): the platform's speech-to-text (an OpenAI-compatible POST {url}/audio/transcriptions) for
# tenants without their own `ai.speech_to_text`; empty URL: none. A client's note longer than VOICE_MAX_SECONDS is
# not transcribed (the AI asks for text); a transcript is kept to TRANSCRIPT_MAX_CHARS; a failing server is tried
# TRANSCRIBE_MAX_ATTEMPTS times. Voice replies without `ai.text_to_speech` use ESPEAK_NG (Debian's espeak-ng).
SPEECH_TO_TEXT_URL = env("SPEECH_TO_TEXT_URL", default="")
SPEECH_TO_TEXT_API_KEY = env("SPEECH_TO_TEXT_API_KEY", default="")
SPEECH_TO_TEXT_MODEL = env("SPEECH_TO_TEXT_MODEL", default="whisper-1")
VOICE_MAX_SECONDS = env.int("VOICE_MAX_SECONDS", default=600)
TRANSCRIPT_MAX_CHARS = env.int("TRANSCRIPT_MAX_CHARS", default=20_000)
TRANSCRIBE_MAX_ATTEMPTS = env.int("TRANSCRIBE_MAX_ATTEMPTS", default=4)
ESPEAK_NG = env("ESPEAK_NG", default="espeak-ng")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "core.api_schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["buildcrm.api_input.JSONParser", "buildcrm.api_input.FormParser",
                               "buildcrm.api_input.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BuildCRM API",
    "DESCRIPTION": "Tenant API of BuildCRM: leads, pipeline, conversations, team, analytics, sandbox.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies get their own components, so that they can say what a request may not send (blank text).
    "COMPONENT_SPLIT_REQUEST": True,
    # Bodies are documented as JSON (forms are still parsed; an upload view names multipart itself).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "ENUM_NAME_OVERRIDES": {"TemperatureEnum": "leads.models.Temperature", "StageKindEnum": "leads.models.StageKind",
                            "TaskKindEnum": "tasks.models.TaskKind"},
}

# LOG_FORMAT=json: one JSON object per line (time, level, logger, message, tenant) for a log collector.
LOG_FORMAT = env("LOG_FORMAT", default="line")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "core.logjson.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler",
                             "formatter": "json" if LOG_FORMAT == "json" else "line"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
    },
}

# The send pipeline: attempts per outbound message and the backoff base (jittered, doubling).
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=5)
SEND_RETRY_BASE_SECONDS = env.float("SEND_RETRY_BASE_SECONDS", default=2.0)
# A lead shows the "no answer" flag once our message has waited this long (the card's timer runs before).
NO_ANSWER_AFTER_MINUTES = env.float("NO_ANSWER_AFTER_MINUTES", default=10.0)

# Operations (issue 17). /metrics on the platform host answers only with `Authorization: Bearer METRICS_TOKEN`
# (unset: 404). The Celery queues whose depth it reports. METRICS_TENANT_LABELS=1 (read by core.metrics) adds a
# tenant label to per-tenant series: one series per tenant, so only where their number stays small.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_CELERY_QUEUES = env.list("METRICS_CELERY_QUEUES", default=["celery"])
# Each web and worker process group also serves its host's samples on this port (same token) when set: Prometheus
# scrapes every replica there (deploy/prometheus.yml). Unset: only /metrics on the platform host.
METRICS_PORT = env.int("METRICS_PORT", default=0)
# A tenant marked for deletion keeps its schema and media this many days (suspended meanwhile), then beat drops it.
TENANT_DELETE_GRACE_DAYS = env.float("TENANT_DELETE_GRACE_DAYS", default=30.0)
