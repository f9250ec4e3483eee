"""Settings, read from the environment (see the README's Configuration table)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from chatsite.storage_url import chat_storage

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CHAT_DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or a random key generated once and kept in the data dir."""
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_flag("DJANGO_DEBUG", True)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "chatsite.daphne_commands.DaphneCommands",  # daphne's runserver; listed before staticfiles
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "axes",
    "memory",
    "conversations",
    "teams",
    "review",
    "usage",
    "accounts",
    "workbench",
]

MIDDLEWARE = [
    "chatsite.logs.RequestIdMiddleware",
    "workbench.middleware.resume_runs",  # takes up open workbench runs after a restart
    "django.middleware.security.SecurityMiddleware",
    "chatsite.static.StaticFilesMiddleware",  # WhiteNoise, for /static/ only
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into chatsite.throttle's page
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"

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
                "conversations.context_processors.chat",
                "accounts.context_processors.accounts",
            ],
        },
    },
]

# SQLite (WAL) in the data dir unless DATABASE_URL says otherwise.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}", conn_max_age=0, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "chatsite.sqlite"  # one writer at a time per process
    # Kept open: a file connection is per thread and costs nothing to keep, while opening one (and
    # its PRAGMAs) cost every send and every reply start about a millisecond.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # A file, not shared-cache memory: tests of concurrent writers need SQLite's real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channels: in-memory for one process; Redis when REDIS_URL is set (several workers).
REDIS_URL = os.environ.get("REDIS_URL", "")
# Names this instance's keys, so two instances (or two test runs) can share one Redis database.
REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "chat")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A channel past `capacity` drops messages: room for several seconds of frames per tab.
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 2000, "expiry": 30, "prefix": REDIS_PREFIX},
        }
    }
    # Shared by every worker, so a logout, a lockout or a rate limit holds on all of them.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Sessions are read from the cache (a request then needs no session query) and written through
# to the database, so they survive a restart.
SESSION_ENGINE = "chatsite.sessions"
# How often each worker closes the websockets of accounts deactivated in the meantime (seconds).
CHAT_ACCOUNT_CHECK_INTERVAL = float(os.environ.get("CHAT_ACCOUNT_CHECK_INTERVAL", 3))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in lockout and sign-up rate limit: chatsite/throttle.py, README "Security".
CHAT_LOGIN_FAILURES = int(os.environ.get("CHAT_LOGIN_FAILURES", 5))  # per account
CHAT_LOGIN_IP_FAILURES = int(os.environ.get("CHAT_LOGIN_IP_FAILURES", 20))  # per client address
CHAT_LOGIN_COOLOFF_MINUTES = int(os.environ.get("CHAT_LOGIN_COOLOFF_MINUTES", 15))
CHAT_SIGNUPS_PER_HOUR = int(os.environ.get("CHAT_SIGNUPS_PER_HOUR", 10))  # per client address
AUTHENTICATION_BACKENDS = ["chatsite.throttle.LoginBackend", "accounts.oidc.Backend"]
AXES_HANDLER = "chatsite.throttle.LoginFailureHandler"
# Either one locks; LoginFailureHandler gives each its own limit and relies on this order.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = CHAT_LOGIN_FAILURES
AXES_COOLOFF_TIME = timedelta(minutes=CHAT_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_CALLABLE = "chatsite.throttle.lockout_response"
AXES_CLIENT_IP_CALLABLE = "chatsite.throttle.client_ip"
AXES_USERNAME_CALLABLE = "chatsite.throttle.attempted_username"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", DATA_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Attachments and knowledge files (conversations/storage.py): local disk, or S3 (README).
    "chat": chat_storage(os.environ.get("CHAT_STORAGE_URL", "")),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# Security. Scripts and styles come only from our own static files.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Behind TLS (the default once DEBUG is off): secure cookies, HSTS and the https redirect.
HTTPS = env_flag("DJANGO_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_flag("DJANGO_HSTS_PRELOAD", False)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "chatsite.logs.ContextFilter"}},
    "formatters": {
        "text": {
            "()": "chatsite.logs.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "chatsite.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # httpx logs every request line; the SDK's own logger could print headers at DEBUG.
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "anthropic": {"level": "WARNING"},
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- The chat itself --------------------------------------------------------
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL", "")
# Neither set: the embedded local model (see conversations/claude/local_model.py).
CHAT_USE_LOCAL_MODEL = not (ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL)
CHAT_LOCAL_MODEL_URL = os.environ.get("CHAT_LOCAL_MODEL_URL", "http://127.0.0.1:8765")
# Where `manage.py localmodel` writes the key it generates at each start, and workers read it.
CHAT_LOCAL_MODEL_KEY_FILE = Path(os.environ.get("CHAT_LOCAL_MODEL_KEY_FILE", DATA_DIR / "local_model.key"))
CHAT_LOCAL_MODEL_NAME = "smollm2-135m-local"
CHAT_DEFAULT_MODEL = os.environ.get(
    "CHAT_DEFAULT_MODEL", CHAT_LOCAL_MODEL_NAME if CHAT_USE_LOCAL_MODEL else "claude-sonnet-4-6"
)
# Images and PDFs go to the endpoint's Files API once and are referenced by file_id; 0 for an
# endpoint (a gateway, a proxy) without it: they are then sent as base64 in every request.
CHAT_FILES_API = env_flag("CHAT_FILES_API", True)
# 0 turns the memory tool off for everyone (each person turns it on for themselves otherwise).
CHAT_MEMORY = env_flag("CHAT_MEMORY", True)

# --- Accounts: sign-up, single sign-on, retention (accounts/, README "Accounts and sign-in") ---
# open | invite | closed. CHAT_ALLOW_SIGNUP=0 (the older switch) means closed.
CHAT_SIGNUP = os.environ.get("CHAT_SIGNUP", "").strip().lower() or (
    "open" if env_flag("CHAT_ALLOW_SIGNUP", True) else "closed"
)
if CHAT_SIGNUP not in {"open", "invite", "closed"}:
    raise ValueError(f"CHAT_SIGNUP must be open, invite or closed, not {CHAT_SIGNUP!r}")
CHAT_ALLOW_SIGNUP = CHAT_SIGNUP == "open"
# US dollars per month for each new account; unset: no limit of its own.
CHAT_DEFAULT_USER_BUDGET = os.environ.get("CHAT_DEFAULT_USER_BUDGET") or None
# Off: only superusers may sign in with a password (the break-glass account); everyone else uses SSO.
CHAT_PASSWORD_LOGIN = env_flag("CHAT_PASSWORD_LOGIN", True)
CHAT_OIDC_ISSUER = os.environ.get("CHAT_OIDC_ISSUER", "")
CHAT_OIDC_CLIENT_ID = os.environ.get("CHAT_OIDC_CLIENT_ID", "")
CHAT_OIDC_CLIENT_SECRET = os.environ.get("CHAT_OIDC_CLIENT_SECRET", "")
CHAT_OIDC_PROVIDER_NAME = os.environ.get("CHAT_OIDC_PROVIDER_NAME", "single sign-on")
CHAT_OIDC_ALLOWED_DOMAINS = [d.lower() for d in env_list("CHAT_OIDC_ALLOWED_DOMAINS", "")]
CHAT_OIDC_GROUPS_CLAIM = os.environ.get("CHAT_OIDC_GROUPS_CLAIM", "groups")
CHAT_OIDC_STAFF_VALUES = env_list("CHAT_OIDC_STAFF_VALUES", "")
# When set, the same claim must hold one of these to use the chat at all; a sign-in without it
# deactivates the account (a leaver removed from the group).
CHAT_OIDC_REQUIRED_VALUES = env_list("CHAT_OIDC_REQUIRED_VALUES", "")
# Sent (with max_age=0) to make the provider ask again before an account is deleted.
CHAT_OIDC_REAUTH_PROMPT = os.environ.get("CHAT_OIDC_REAUTH_PROMPT", "login")
# mozilla-django-oidc's own settings (accounts/oidc.py finds the endpoints by discovery).
OIDC_RP_CLIENT_ID = CHAT_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = CHAT_OIDC_CLIENT_SECRET
OIDC_RP_SIGN_ALGO = os.environ.get("CHAT_OIDC_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = os.environ.get("CHAT_OIDC_SCOPES", "openid email profile")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = float(os.environ.get("CHAT_OIDC_TIMEOUT", 10))
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
# Retention: conversations untouched for this many days are purged (manage.py purge); 0 keeps all.
CHAT_RETENTION_DAYS = int(os.environ.get("CHAT_RETENTION_DAYS", 0))
# Email (invitations): the console by default; SMTP when CHAT_SMTP_HOST is set (README).
if os.environ.get("CHAT_SMTP_HOST"):
    _smtp = {
        "host": os.environ["CHAT_SMTP_HOST"],
        "port": int(os.environ.get("CHAT_SMTP_PORT", 587)),
        "username": os.environ.get("CHAT_SMTP_USER", ""),
        "password": os.environ.get("CHAT_SMTP_PASSWORD", ""),
        "use_tls": env_flag("CHAT_SMTP_TLS", True),
        "timeout": 20,
    }
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": _smtp}}
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = os.environ.get("CHAT_EMAIL_FROM", "chat@localhost")
# Staff see a transcript's files for this long after opening it (each opening is recorded).
CHAT_REVIEW_ATTACHMENT_HOURS = float(os.environ.get("CHAT_REVIEW_ATTACHMENT_HOURS", 8))
CHAT_MAX_MESSAGE_CHARS = int(os.environ.get("CHAT_MAX_MESSAGE_CHARS", 100_000))
# A project's knowledge files (conversations/projects/): how many, and their total size.
CHAT_PROJECT_MAX_FILES = int(os.environ.get("CHAT_PROJECT_MAX_FILES", 50))
CHAT_PROJECT_MAX_MB = int(os.environ.get("CHAT_PROJECT_MAX_MB", 50))
# The share of the model's context window a project's knowledge may fill when sent whole; beyond it
# each request carries the passages that match the question instead (projects/retrieval.py).
CHAT_PROJECT_KNOWLEDGE_SHARE = float(os.environ.get("CHAT_PROJECT_KNOWLEDGE_SHARE", 0.5))
CHAT_PROJECT_PASSAGES = int(os.environ.get("CHAT_PROJECT_PASSAGES", 8))  # passages per question, at most
# A team's own skill (conversations/skills/): its files' total size, as uploaded. A folder past the
# 200 files a skill may hold gets a form error up to Django's cap on files per request, then a 400.
CHAT_SKILL_MAX_BYTES = int(os.environ.get("CHAT_SKILL_MAX_BYTES", 8 * 2**20))
DATA_UPLOAD_MAX_NUMBER_FILES = 500
# A scraper sends it as "Authorization: Bearer <token>" to read /metrics; staff need none.
CHAT_METRICS_TOKEN = os.environ.get("CHAT_METRICS_TOKEN", "")
# Encrypts connector tokens at rest (conversations/connectors/secrets.py): any string; unset, a key
# derived from SECRET_KEY. Changing it makes stored tokens unreadable: people add theirs again.
CHAT_SECRETS_KEY = os.environ.get("CHAT_SECRETS_KEY", "")
# A few words from the cheapest model title a conversation after its first reply (titles.py).
CHAT_GENERATED_TITLES = env_flag("CHAT_GENERATED_TITLES", True)
CHAT_MAX_TOKENS = int(os.environ.get("CHAT_MAX_TOKENS", 4096))
# The prompt workbench (workbench/): cases per prompt (a CSV import included), max_tokens of a case's
# request, and how many of a live run's requests are out at once.
CHAT_WORKBENCH_MAX_CASES = int(os.environ.get("CHAT_WORKBENCH_MAX_CASES", 500))
CHAT_WORKBENCH_MAX_TOKENS = int(os.environ.get("CHAT_WORKBENCH_MAX_TOKENS", 1024))
CHAT_WORKBENCH_CONCURRENCY = int(os.environ.get("CHAT_WORKBENCH_CONCURRENCY", 4))
CHAT_MAX_TOOL_ITERATIONS = int(os.environ.get("CHAT_MAX_TOOL_ITERATIONS", 8))
# Web search and web fetch (Claude's server tools; conversations/claude/web.py). Off here: off for everyone.
CHAT_WEB_ACCESS = env_flag("CHAT_WEB_ACCESS", True)
CHAT_WEB_MAX_USES = int(os.environ.get("CHAT_WEB_MAX_USES", 5))  # per tool, per API call; 0: no limit
CHAT_WEB_ALLOWED_DOMAINS = env_list("CHAT_WEB_ALLOWED_DOMAINS", "")
CHAT_WEB_BLOCKED_DOMAINS = env_list("CHAT_WEB_BLOCKED_DOMAINS", "")
if CHAT_WEB_ALLOWED_DOMAINS and CHAT_WEB_BLOCKED_DOMAINS:
    raise ImproperlyConfigured("Set CHAT_WEB_ALLOWED_DOMAINS or CHAT_WEB_BLOCKED_DOMAINS, not both.")
# Code execution (Claude's server tool; conversations/claude/sandbox.py). Off here: off for everyone.
CHAT_CODE_EXECUTION = env_flag("CHAT_CODE_EXECUTION", True)
# Connectors (remote MCP servers through the API's MCP connector; conversations/claude/mcp.py). Off:
# none is offered. Over DEFER_OVER tools in one request they load deferred, found by tool search. A
# tool that writes waits this many seconds for the person's approval, then counts as denied.
CHAT_CONNECTORS = env_flag("CHAT_CONNECTORS", True)
CHAT_CONNECTOR_DEFER_OVER = int(os.environ.get("CHAT_CONNECTOR_DEFER_OVER", 20))
CHAT_APPROVAL_TIMEOUT = float(os.environ.get("CHAT_APPROVAL_TIMEOUT", 600))
CHAT_STALL_TIMEOUT = float(os.environ.get("CHAT_STALL_TIMEOUT", 20))
# Long conversations (conversations/claude/compaction.py): the API summarizes a chat's history past
# this share of the model's input limit, where the model supports it. Off: the oldest turns are left out.
CHAT_COMPACTION = env_flag("CHAT_COMPACTION", True)
CHAT_COMPACTION_TRIGGER = float(os.environ.get("CHAT_COMPACTION_TRIGGER", 0.75))
if not 0.1 <= CHAT_COMPACTION_TRIGGER <= 0.95:
    raise ImproperlyConfigured("CHAT_COMPACTION_TRIGGER is a share of the input limit, from 0.1 to 0.95.")
CHAT_API_MAX_RETRIES = int(os.environ.get("CHAT_API_MAX_RETRIES", 2))
# Streaming: frames are coalesced for at most this long; partial text is checkpointed this often.
CHAT_FRAME_INTERVAL = float(os.environ.get("CHAT_FRAME_INTERVAL", 0.03))
CHAT_CHECKPOINT_INTERVAL = float(os.environ.get("CHAT_CHECKPOINT_INTERVAL", 2.0))
# A `streaming` reply whose heartbeat is older than this is taken as orphaned (dead worker).
CHAT_ORPHAN_AFTER = float(os.environ.get("CHAT_ORPHAN_AFTER", 15.0))
