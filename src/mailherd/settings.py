"""Mailherd settings: one module, read from the environment.

Absent variables fall back to the embedded default (SQLite and a file-based
Celery broker under var/, console email); malformed ones stop start-up.
"""

from pathlib import Path

from mailherd.core.env import (
    env_bool,
    env_database,
    env_email,
    env_int,
    env_list,
    env_secret,
    env_str,
    load_or_create_rsa_key,
    load_or_create_secret,
)

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(env_str("MAILHERD_VAR_DIR", str(Path.cwd() / "var"))).resolve()

DEBUG = env_bool("MAILHERD_DEBUG", False)
SECRET_KEY = env_secret("MAILHERD_SECRET_KEY") or load_or_create_secret(VAR_DIR / "secret_key")
# Keys for secrets at rest (Fernet). Absent: one derived from SECRET_KEY. Several: rotation,
# the first encrypts and all decrypt.
ENCRYPTION_KEYS = env_list("MAILHERD_ENCRYPTION_KEYS")

ALLOWED_HOSTS = env_list(
    "MAILHERD_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("MAILHERD_CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("MAILHERD_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SECURE_COOKIES = env_bool("MAILHERD_SECURE_COOKIES", SITE_URL.startswith("https://"))
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI from local static files, not a CDN
    "template_partials",
    "django_celery_beat",
    "oauth2_provider",
    "mailherd.core",
    "mailherd.tenancy",
    "mailherd.plans",
    "mailherd.mailcow",
    "mailherd.hosting",
    "mailherd.imapwatch",
    "mailherd.dns",
    "mailherd.billing",
    "mailherd.rules",
    "mailherd.deliverability",
    "mailherd.webmail",
    "mailherd.notifications",
    "mailherd.portal",
    "mailherd.operator",
    "mailherd.api",
    "mailherd.webhooks",
    "mailherd.mcp",  # its `mailherd mcp` command (the MCP server process)
]

MIDDLEWARE = [
    "mailherd.core.middleware.EdgeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "mailherd.operator.middleware.OperatorEnrolmentMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "mailherd.operator.maintenance.HostingSwitchMiddleware",
    "mailherd.api.idempotency.IdempotencyMiddleware",
]

ROOT_URLCONF = "mailherd.urls"
WSGI_APPLICATION = "mailherd.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mailherd.core.context_processors.branding",
                "mailherd.operator.maintenance.hosting_context",
            ],
            "builtins": ["mailherd.core.templatetags.display"],
        },
    }
]

DATABASES = {"default": env_database("DATABASE_URL", VAR_DIR / "mailherd.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"

# django-allauth: email is the login; verification is mandatory before the first login.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "mailherd.tenancy.forms.SignupForm"  # name; platform address username
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Failed sign-ins: per address, per address + account, and per account only far higher (an
# outsider needs many addresses to reach it); see tenancy.adapters.AccountAdapter.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,60/h/ip",
    "login_failed_address_account": "5/5m/key",
    "login_failed_account": "300/h/key",
    "signup": "20/h/ip",
}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https://") else "http"
# Branded account emails (sender, subject, site name) that land in the notification log.
ACCOUNT_ADAPTER = "mailherd.notifications.adapters.BrandedAccountAdapter"
MFA_ADAPTER = "mailherd.notifications.adapters.BrandedMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MAILHERD_PRODUCT_NAME", "Mailherd")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders too, so a fresh clone works before collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Email: console unless EMAIL_URL names an SMTP server.
globals().update(env_email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env_str("MAILHERD_FROM_EMAIL", "Mailherd <no-reply@mailherd.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# One cache for every process (web workers, Celery workers): rate limits and sign-in throttles
# count together. Embedded default: files under var/cache (mailherd.core.cache); Redis when set.
CACHES = {
    "default": {
        "BACKEND": "mailherd.core.cache.SharedFileCache",
        "LOCATION": str(VAR_DIR / "cache"),
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    }
}
_REDIS_URL = env_str("REDIS_URL")
if _REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _REDIS_URL,
    }

# Celery: an embedded file-based broker by default (no server needed); any
# Celery broker URL (redis://, amqp://) for workers on many machines.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_EMBEDDED_BROKER = CELERY_BROKER_URL is None
if CELERY_EMBEDDED_BROKER:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "mailherd.core.broker:Transport"  # messages written whole
    _queue_dir = VAR_DIR / "celery" / "queue"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
        # An idle worker looks for work 10 times a second (kombu's default: once), so a change
        # reaches Mailcow within ~0.1 s of its commit; a look at an empty folder costs microseconds.
        "polling_interval": 0.1,
    }
    CELERY_RESULT_BACKEND = "file://" + str(VAR_DIR / "celery" / "results")
    for _folder in (
        _queue_dir,
        *(VAR_DIR / "celery" / name for name in ("processed", "results", "control")),
    ):
        _folder.mkdir(parents=True, exist_ok=True)
    # The file transport has no broadcast exchange for remote control.
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
else:
    CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("MAILHERD_CELERY_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Mailherd
MAILHERD_PRODUCT_NAME = env_str("MAILHERD_PRODUCT_NAME", "Mailherd")
MAILHERD_DNS_NAMESERVERS = env_list("MAILHERD_DNS_NAMESERVERS")
MAILHERD_DNS_TIMEOUT = env_int("MAILHERD_DNS_TIMEOUT", 5, minimum=1)
# Days of DNS check history kept per domain (older checks are pruned daily; the newest stays).
MAILHERD_DNS_CHECK_HISTORY_DAYS = env_int("MAILHERD_DNS_CHECK_HISTORY_DAYS", 90, minimum=1)
MAILHERD_INVITATION_DAYS = env_int("MAILHERD_INVITATION_DAYS", 7, minimum=1)
# Invitations an organization / one sender may send per hour (0: no limit); hitting one alerts the
# operator (MAILHERD_OPERATOR_ALERT_EMAILS, else every active operator), once an hour per organization.
MAILHERD_INVITATIONS_PER_ORG_HOUR = env_int("MAILHERD_INVITATIONS_PER_ORG_HOUR", 20, minimum=0)
MAILHERD_INVITATIONS_PER_SENDER_HOUR = env_int("MAILHERD_INVITATIONS_PER_SENDER_HOUR", 10, minimum=0)
MAILHERD_OPERATOR_ALERT_EMAILS = env_list("MAILHERD_OPERATOR_ALERT_EMAILS")
MAILHERD_DEFAULT_PLAN = env_str("MAILHERD_DEFAULT_PLAN", "starter")
MAILHERD_API_RATE = env_str("MAILHERD_API_RATE", "3000/m")  # per API token
# Wrong bearer tokens per client address; past it the API answers 429 without checking tokens.
MAILHERD_API_AUTH_FAILURE_RATE = env_str("MAILHERD_API_AUTH_FAILURE_RATE", "20/m")
# Behind a reverse proxy: the header with the client's address (e.g. X-Forwarded-For), how many
# proxies append to it, and the header that says the original scheme (e.g. X-Forwarded-Proto).
MAILHERD_TRUSTED_PROXY_HEADER = env_str("MAILHERD_TRUSTED_PROXY_HEADER", "")
MAILHERD_TRUSTED_PROXY_COUNT = env_int("MAILHERD_TRUSTED_PROXY_COUNT", 1, minimum=1)
_SCHEME_HEADER = env_str("MAILHERD_TRUSTED_PROXY_SCHEME_HEADER", "")
if _SCHEME_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _SCHEME_HEADER.upper().replace("-", "_"), "https")
# Customer-supplied URLs (webhooks) may not point at loopback/private/link-local addresses unless allowed:
# Where the web process forwards /mcp (`mailherd mcp`; `mailherd run` starts it on --port + 1).
MAILHERD_MCP_URL = env_str("MAILHERD_MCP_URL", "http://127.0.0.1:8001")
MAILHERD_ALLOW_PRIVATE_TARGETS = env_bool("MAILHERD_ALLOW_PRIVATE_TARGETS", False)
MAILHERD_ALLOWED_TARGETS = env_list("MAILHERD_ALLOWED_TARGETS")  # CIDRs and host names
# Cloudflare's API (automatic DNS set-up); tests point it at a local stand-in.
MAILHERD_CLOUDFLARE_API_URL = env_str(
    "MAILHERD_CLOUDFLARE_API_URL", "https://api.cloudflare.com/client/v4"
)
# Outbox rows of one batch a worker sends to Mailcow side by side (hosting.provisioning).
MAILHERD_OUTBOX_THREADS = env_int("MAILHERD_OUTBOX_THREADS", 8, minimum=1)
# bcrypt cost of mailbox passwords ({BLF-CRYPT}); 10 is Mailcow's default. Tests lower it.
MAILHERD_BCRYPT_COST = env_int("MAILHERD_BCRYPT_COST", 10, minimum=4)
# Size of the DKIM keys Mailherd generates (and keeps, to restore them): 2048 as Mailcow. Tests lower it.
MAILHERD_DKIM_KEY_BITS = env_int("MAILHERD_DKIM_KEY_BITS", 2048, minimum=1024)
# DKIM rotation (hosting.services.dkim_rotation): every N days (0: only by hand), and how long the
# previous key's record stays published after the switch.
MAILHERD_DKIM_ROTATION_DAYS = env_int("MAILHERD_DKIM_ROTATION_DAYS", 0, minimum=0)
MAILHERD_DKIM_ROTATION_OVERLAP_DAYS = env_int("MAILHERD_DKIM_ROTATION_OVERLAP_DAYS", 7, minimum=1)
# Platform mailboxes (hosting.services.platform): days between a member leaving (or the subscription
# ending) and the removal of their platform address; its quota; room on the platform domain.
MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS = env_int("MAILHERD_PLATFORM_MAILBOX_GRACE_DAYS", 14, minimum=0)
MAILHERD_PLATFORM_MAILBOX_QUOTA_MB = env_int("MAILHERD_PLATFORM_MAILBOX_QUOTA_MB", 1024, minimum=1)
MAILHERD_PLATFORM_DOMAIN_MAX_MAILBOXES = env_int("MAILHERD_PLATFORM_DOMAIN_MAX_MAILBOXES", 10000, minimum=1)

# OpenID Connect / OAuth 2 provider (django-oauth-toolkit) under /o/. Generic on purpose: the
# webmail SSO clients and any other OAuth client (e.g. MCP) share it; what is particular to
# a client lives in its own app (webmail: mailbox binding, PKCE exemption).
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    # The signing key: MAILHERD_OIDC_RSA_KEY (PEM), else a 2048-bit key kept in var/ (0600).
    "OIDC_RSA_PRIVATE_KEY": env_secret("MAILHERD_OIDC_RSA_KEY")
    or load_or_create_rsa_key(VAR_DIR / "oidc_rsa_key.pem"),
    "OAUTH2_VALIDATOR_CLASS": "mailherd.webmail.oidc.MailherdOAuth2Validator",
    "SCOPES": {
        "openid": "Sign you in",
        "profile": "Your name",
        "email": "Your email address",
        "introspection": "Check tokens issued by this server",
        "mcp": "Manage your organization's mail through an AI agent",
    },
    "DEFAULT_SCOPES": ["openid"],
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("MAILHERD_OAUTH_ACCESS_TOKEN_SECONDS", 900, minimum=60),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int(
        "MAILHERD_OAUTH_REFRESH_TOKEN_SECONDS", 30 * 86400, minimum=600
    ),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # Tokens are kept as SHA-256 checksums only (RFC 9700). DOT's own grace period needs the
    # plaintext, so it is off and mailherd.webmail replays a rotation's answer for
    # OAUTH_REFRESH_GRACE_SECONDS instead (encrypted, see webmail.models.RefreshReplay).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    # AI agents register themselves (RFC 7591) as public clients with PKCE (mailherd.mcp.oauth).
    "DCR_ENABLED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": [
        "none",
        "client_secret_basic",
        "client_secret_post",
    ],
}
MAILHERD_AGENT_REGISTRATIONS_PER_HOUR = env_int(
    "MAILHERD_AGENT_REGISTRATIONS_PER_HOUR", 20, minimum=1
)
# DOT's models, named explicitly because other apps' migrations point at them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH_REFRESH_GRACE_SECONDS = env_int("MAILHERD_OAUTH_REFRESH_GRACE_SECONDS", 60, minimum=0)
# IMAP watcher (docs/imap-watcher.md): mailboxes one process holds at most, poll interval for
# servers without IDLE and for folders besides INBOX, TLS also on ports other than 993.
MAILHERD_IMAP_WATCH_CAPACITY = env_int("MAILHERD_IMAP_WATCH_CAPACITY", 2000, minimum=1)
MAILHERD_IMAP_WATCH_POLL_SECONDS = env_int("MAILHERD_IMAP_WATCH_POLL_SECONDS", 60, minimum=1)
MAILHERD_IMAP_WATCH_TLS = env_bool("MAILHERD_IMAP_WATCH_TLS", False)

STRIPE_SECRET_KEY = env_secret("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env_str("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env_secret("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_str("STRIPE_API_BASE")

# Content-Security-Policy on every page (django-csp): scripts from here or with the request's
# nonce (`{{ request.csp_nonce }}`), Stripe.js on the card page; styles may be inline (branding
# colours, style attributes). HSTS when the site is served over https.
from csp.constants import NONCE, NONE, SELF  # noqa: E402

_STRIPE_ORIGINS = ["https://js.stripe.com", "https://*.stripe.com"]
if STRIPE_API_BASE:
    _STRIPE_ORIGINS.append(STRIPE_API_BASE.rstrip("/"))
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, *_STRIPE_ORIGINS],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF, *_STRIPE_ORIGINS],
        "frame-src": [SELF, *_STRIPE_ORIGINS],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [SELF],
    }
}
if SITE_URL.startswith("https://"):
    SECURE_HSTS_SECONDS = env_int("MAILHERD_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MAILHERD_HSTS_INCLUDE_SUBDOMAINS", False)

from mailherd.schedule import CELERY_BEAT_SCHEDULE  # noqa: E402,F401

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MAILHERD_LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "mcp": {"level": "WARNING"},  # the MCP SDK logs each session manager start and stop
        "parsedmarc": {"level": "WARNING"},
        # The file transport has no host name: kombu warns about it on every connection.
        "kombu.connection": {"level": "ERROR"},
        # 4xx answers are the visitor's business (and the web server logs each request once).
        "django.request": {"level": "ERROR"},
    },
}
