"""Django settings for SD-Host.

Every knob an operator may turn is an environment variable with the ``SDHOST_`` prefix
(docs/configuration.md lists them). The embedded default needs none: SQLite and the
content stores live under ``./data`` and the server binds 127.0.0.1:8000.
"""

import os
import tempfile
from pathlib import Path

from sdhost.model_roots import BadModelRoots, parse_model_roots

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    return os.environ.get(f"SDHOST_{name}", default)


def env_bool(name, default):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name, default):
    value = env(name)
    return default if value in (None, "") else int(value)


def env_float(name, default):
    value = env(name)
    return default if value in (None, "") else float(value)


DATA_DIR = Path(env("DATA_DIR", BASE_DIR / "data")).resolve()
try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:  # one clear line from every command instead of a traceback
    raise SystemExit(f"SD-Host cannot create its data directory {DATA_DIR}: {exc.strerror}; set SDHOST_DATA_DIR") from None

SDHOST = {
    # metadata keys with expression indexes for their filters and sorts (core/jsonapi/metadata_indexes.py)
    "METADATA_INDEXES": [key.strip() for key in env("METADATA_INDEXES", "rating").split(",") if key.strip()],
    # page[count]=estimate counts matches only this far past the page's end (core/jsonapi/pagination.py)
    "ESTIMATE_COUNT_CAP": env_int("ESTIMATE_COUNT_CAP", 1000),
    "HOST": env("HOST", "127.0.0.1"),
    "PORT": env_int("PORT", 8000),
    "API_TOKEN": env("API_TOKEN") or None,
    "ALLOW_INSECURE_BIND": env_bool("ALLOW_INSECURE_BIND", False),
    "DATA_DIR": DATA_DIR,
    "MODELS_PATH": Path(env("MODELS_PATH", DATA_DIR / "models")).resolve(),
    "IMAGES_PATH": Path(env("IMAGES_PATH", DATA_DIR / "images")).resolve(),
    "CACHE_PATH": Path(env("CACHE_PATH", DATA_DIR / "cache")).resolve(),
    # start-up store sweep: leftovers (temporary or unreferenced files) older than this are removed
    "SWEEP_GRACE_SECONDS": env_float("SWEEP_GRACE_SECONDS", 3600),
    # generation
    "DEFAULT_STEPS": env_int("DEFAULT_STEPS", 20),
    "DEFAULT_CFG_SCALE": env_float("DEFAULT_CFG_SCALE", 7.0),
    "MAX_BATCH_SIZE": min(env_int("MAX_BATCH_SIZE", 4), 10),
    "MAX_IMAGE_SIDE": env_int("MAX_IMAGE_SIDE", 2048),
    "MAX_OVERTAKE": env_int("MAX_OVERTAKE", 8),
    "PIPELINE_CACHE_SIZE": env_int("PIPELINE_CACHE_SIZE", 2),
    # images one pipeline call may render for several compatible tasks; None: from the device (1 = off)
    "MAX_MERGED_BATCH": env_int("MAX_MERGED_BATCH", 0) or None,
    # opt-in fast paths of the UNet (docs/rendering.md#fast-paths); a failure falls back to the plain path
    "COMPILE_UNET": env_bool("COMPILE_UNET", False),
    "COMPILE_MODE": env("COMPILE_MODE", "default"),
    "COMPILE_BACKEND": env("COMPILE_BACKEND", "inductor"),
    "COMPILE_CACHE": env_int("COMPILE_CACHE", 4),
    "CHANNELS_LAST": env_bool("CHANNELS_LAST", False),
    "SDPA_BACKEND": env("SDPA_BACKEND") or None,
    "DEVICE": env("DEVICE") or None,  # None = auto (cuda, mps, cpu)
    # live previews of running tasks (tasks_app/previews.py): off | approx, every N sampling steps
    "PREVIEW": (env("PREVIEW") or "approx").strip().lower(),
    "PREVIEW_EVERY": env_int("PREVIEW_EVERY", 5),
    "SAFETY_CHECKER": env_bool("SAFETY_CHECKER", False),
    "RENDER_WORKER": env_bool("RENDER_WORKER", True),  # in-process worker under `manage.py serve`
    # several workers (D41): a running task's lease, renewed by its worker; starts before it fails
    "TASK_LEASE_SECONDS": env_float("TASK_LEASE_SECONDS", 30.0),
    "TASK_MAX_ATTEMPTS": env_int("TASK_MAX_ATTEMPTS", 3),
    # uploads and bodies
    "MAX_UPLOAD_BYTES": env_int("MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": env_int("MAX_IMAGE_PIXELS", 8192 * 8192),  # uploaded/imported images, checked before decoding
    # Civitai
    "CIVITAI_ENABLED": env_bool("CIVITAI_ENABLED", True),
    "CIVITAI_BASE_URL": env("CIVITAI_BASE_URL", "https://civitai.com").rstrip("/"),
    "CIVITAI_TOKEN": env("CIVITAI_TOKEN") or None,
    "DOWNLOAD_CONCURRENCY": env_int("DOWNLOAD_CONCURRENCY", 2),
    "AUTO_DOWNLOAD": env_bool("AUTO_DOWNLOAD", True),
    # Civitai by hash (models_app/civitai/sync.py): catalogue lookups per second, at most
    "CIVITAI_SYNC_RATE": env_float("CIVITAI_SYNC_RATE", 1.0),
    # model folders scanned in place (sdhost/model_roots.py), and whether `serve` scans them at start
    "MODEL_ROOTS": [],
    "SCAN_ON_START": env_bool("SCAN_ON_START", False),
}

try:
    SDHOST["MODEL_ROOTS"] = parse_model_roots(env("MODEL_ROOTS"))
except BadModelRoots as exc:
    raise SystemExit(f"SDHOST_MODEL_ROOTS: {exc}") from None
if SDHOST["CIVITAI_SYNC_RATE"] <= 0:
    raise SystemExit(f"SDHOST_CIVITAI_SYNC_RATE must be a number of requests per second > 0 "
                     f"(got {SDHOST['CIVITAI_SYNC_RATE']})")

if SDHOST["PREVIEW"] not in ("off", "approx") or SDHOST["PREVIEW_EVERY"] < 1:
    raise SystemExit(f"SDHOST_PREVIEW must be off or approx (got {SDHOST['PREVIEW']!r}) and SDHOST_PREVIEW_EVERY "
                     f"a number of steps >= 1 (got {SDHOST['PREVIEW_EVERY']})")

if env("SECRET_KEY"):
    SECRET_KEY = env("SECRET_KEY")
else:
    from sdhost.secret_key import load_or_create

    SECRET_KEY = load_or_create(DATA_DIR)  # random, kept in DATA_DIR/secret_key (mode 0600)
DEBUG = env_bool("DEBUG", False)


def host_name(host: str) -> str:
    """`host` as a Host header names it (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


# DNS rebinding: only requests naming this machine by a loopback name or the configured host are served;
# SDHOST_ALLOWED_HOSTS (comma-separated) adds names, e.g. the LAN name of a server bound to 0.0.0.0.
ALLOWED_HOSTS = list(dict.fromkeys(
    ["localhost", "127.0.0.1", "[::1]", host_name(SDHOST["HOST"])]
    + [h.strip() for h in (env("ALLOWED_HOSTS") or "").split(",") if h.strip()]
))

# CORS (off by default): SDHOST_CORS_ORIGINS, comma-separated origins such as http://localhost:3000, or *.
CORS_ORIGINS = [o.strip() for o in (env("CORS_ORIGINS") or "").split(",") if o.strip()]
CORS_ALLOW_ALL_ORIGINS = CORS_ORIGINS == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else CORS_ORIGINS
CORS_URLS_REGEX = r"^/(api|sdapi|controlnet)(/.*)?$"  # the API and the A1111-compatible API (D39)
CORS_EXPOSE_HEADERS = ["Content-Disposition", "Content-Length", "Content-Range", "Accept-Ranges", "ETag", "Location"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served locally: /api/docs works offline
    "channels",
    "corsheaders",
    # Our apps, leaf first; this order also orders the tag resource's usage counts (model, image, task).
    "system_app",
    "models_app",
    "images_app",
    "tasks_app",
    "a1111_app",  # /sdapi/v1: the A1111-compatible API over the task, model and image services (D39)
    "ui_app",  # the web UI at / (a client of the API: static ES modules and one page)
    "sdhost",  # the composition root: serve, doctor, version and config
]

# Django's and corsheaders' middleware as sync-only subclasses (sdhost/middleware.py says why).
MIDDLEWARE = [
    "sdhost.middleware.CorsMiddleware",  # outermost: CORS headers on every answer, JSON errors included
    "core.middleware.MediaTypeMiddleware",  # JSON:API media types (406, 415, Content-Type) of every /api answer
    "core.middleware.ApiErrorMiddleware",  # before the others: also turns their HTML errors into JSON
    "core.middleware.AllowedHostMiddleware",
    "core.middleware.CrossOriginWriteMiddleware",  # CSRF of the cookie-less APIs: Origin, Sec-Fetch-Site
    "core.middleware.ApiTokenMiddleware",
    "sdhost.middleware.SecurityMiddleware",
    "sdhost.middleware.SessionMiddleware",
    "sdhost.middleware.CommonMiddleware",
    "sdhost.middleware.CsrfViewMiddleware",  # cookie and token, everywhere but the APIs
    "sdhost.middleware.AuthenticationMiddleware",
    "sdhost.middleware.MessageMiddleware",
    "sdhost.middleware.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sdhost.urls"
APPEND_SLASH = False

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

ASGI_APPLICATION = "sdhost.asgi.application"
WSGI_APPLICATION = None

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("DATABASE_PATH", DATA_DIR / "sdhost.sqlite3"),
        "OPTIONS": {
            # WAL + busy timeout: readers never block the writer, writers wait instead of
            # failing with "database is locked"; IMMEDIATE makes write transactions take the
            # lock up front so they queue rather than deadlock on upgrade.
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            # journal_mode=WAL is kept by the database file; setting it costs ~1.5 ms a connection,
            # so it is set once per process (sdhost/apps.py), not here on each request's connection.
            "init_command": (
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA busy_timeout=30000;"
                # 64 MiB page cache, memory-mapped reads and in-memory temp b-trees: list queries
                # over 100k rows scan ~2x faster (bench/query_bench.py).
                "PRAGMA cache_size=-65536;"
                "PRAGMA mmap_size=268435456;"
                "PRAGMA temp_store=MEMORY;"
            ),
        },
        # A file, not SQLite's shared-cache memory database: threads of one test (the render
        # worker, a live server) then wait on locks like in production instead of failing
        # with "database table is locked". One file per process, so parallel runs never clash.
        "TEST": {"NAME": env("TEST_DATABASE_PATH") or str(Path(tempfile.gettempdir()) / f"sdhost-test-{os.getpid()}.sqlite3")},
    }
}
if env("DATABASE_URL"):  # scale-out (D40): PostgreSQL, `pip install -e '.[scale]'`; docs/deployment.md
    from sdhost.database import DEFAULT_POOL, DEFAULT_POOL_TIMEOUT, database_from_url

    _conn_max_age = env_int("DATABASE_CONN_MAX_AGE", 0)
    DATABASES = {"default": database_from_url(
        env("DATABASE_URL"), _conn_max_age, env_int("DATABASE_POOL", 0 if _conn_max_age else DEFAULT_POOL),
        env_float("DATABASE_POOL_TIMEOUT", DEFAULT_POOL_TIMEOUT))}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# Whole request bodies above this are refused with 413 payload_too_large (JSON:API error).
DATA_UPLOAD_MAX_MEMORY_SIZE = SDHOST["MAX_UPLOAD_BYTES"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.FastJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser", "core.parsers.JSONAPIParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.JsonOnlyNegotiation",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": "core.options.RouteMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": None,
    "URL_FORMAT_OVERRIDE": None,
    "FORMAT_SUFFIX_KWARG": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "SD-Host API",
    "DESCRIPTION": "Self-hosted Stable Diffusion: models, tasks, images, system.",
    "VERSION": "1.0.0",
    # 3.1: JSON Schema 2020-12, so update bodies can say which key names the server takes (`propertyNames`);
    # core.openapi.postprocess turns the hand-written 3.0 idioms (`nullable`, boolean `exclusiveMinimum`) into 3.1's
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "PREPROCESSING_HOOKS": ["core.openapi.discover_schema_modules"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.openapi.postprocess"],
}

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
if env("REDIS_URL"):  # scale-out (D40): workers and servers in other processes, `pip install -e '.[scale]'`
    # Installations sharing a Redis server must not see each other's events or wake-ups: one
    # namespace per database (Redis Pub/Sub ignores the database number).
    _db = DATABASES["default"]
    EVENT_NAMESPACE = env("EVENT_NAMESPACE") or f"{_db.get('HOST') or 'local'}:{_db.get('PORT') or ''}/{_db['NAME']}"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [env("REDIS_URL")], "prefix": f"sdhost:{EVENT_NAMESPACE}"},
        }
    }
    SSE_REDIS_URL = env("REDIS_URL")  # live streams (core.sse): events cross processes through Redis Pub/Sub

# Without Redis the live streams reach the clients of this process only (core.sse); no event is stored: each
# stream's initial() sends the current state on connect.

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "sdhost.logs.OneLineFormatter", "format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "sdhost.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if env("LOG_FORMAT") == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}
