"""The middleware stack, synchronous only (settings.MIDDLEWARE).

Under ASGI, Django runs an async-capable middleware's `process_request`/`process_response` through
`sync_to_async`, a hop to a thread and back for each, and adapts again wherever a sync-only one (ours)
sits between them. With every middleware sync-only the whole stack runs in one hop: a trivial GET
takes ~3 ms less on the 2-vCPU VM (docs/performance.md, "Request floor"). Streaming responses (SSE,
downloads) are still sent by the ASGI handler, so nothing else changes.
"""

from corsheaders.middleware import CorsMiddleware as _CorsMiddleware
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware as _XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware as _CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware as _CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware as _SecurityMiddleware

from core.middleware import is_any_api


def sync_only(middleware):
    """`middleware` (a sync-and-async MiddlewareMixin class) as a sync-only subclass of the same name."""
    return type(middleware.__name__, (middleware,), {
        "async_capable": False, "__module__": __name__, "__qualname__": middleware.__name__,
        "__doc__": f"{middleware.__module__}.{middleware.__name__}, sync only.",
    })


def pages_only(middleware):
    """`middleware`, sync only, passed over for the APIs (/api, /sdapi, /controlnet): sessions, `request.user` and
    messages serve the admin and the pages; the APIs use no cookies (core.middleware.ApiTokenMiddleware guards them),
    so for them these would only build lazy objects nobody reads (docs/performance.md, "Request path")."""
    base = sync_only(middleware)

    def __call__(self, request):
        if is_any_api(request):
            return self.get_response(request)
        return base.__call__(self, request)

    return type(middleware.__name__, (base,), {
        "__call__": __call__, "__module__": __name__, "__qualname__": middleware.__name__,
        "__doc__": f"{middleware.__module__}.{middleware.__name__}, sync only, not for the APIs.",
    })


CorsMiddleware = sync_only(_CorsMiddleware)
SecurityMiddleware = sync_only(_SecurityMiddleware)
SessionMiddleware = pages_only(_SessionMiddleware)
CommonMiddleware = sync_only(_CommonMiddleware)


class CsrfViewMiddleware(sync_only(_CsrfViewMiddleware)):
    """Django's CSRF check (cookie and token) for what uses cookies: the admin. The APIs (/api, /sdapi,
    /controlnet) use no cookies and are guarded by core.middleware.CrossOriginWriteMiddleware (Origin,
    Sec-Fetch-Site) instead, so none of their views is marked csrf_exempt: one rule, by path."""

    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_any_api(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


AuthenticationMiddleware = pages_only(_AuthenticationMiddleware)
MessageMiddleware = pages_only(_MessageMiddleware)
XFrameOptionsMiddleware = sync_only(_XFrameOptionsMiddleware)
