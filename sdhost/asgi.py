"""ASGI entry point: HTTP (Django, including SSE) plus the `render` worker channel."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")

import django  # noqa: E402

django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does

from sdhost.serving import SDHostASGIHandler  # noqa: E402
from sdhost.static import StaticFilesHandler  # noqa: E402

# Static files (the /api/docs Swagger UI assets, the admin's CSS) come from the installed apps, DEBUG or not.
django_asgi_app = StaticFilesHandler(SDHostASGIHandler())

from channels.routing import ChannelNameRouter, ProtocolTypeRouter  # noqa: E402

from tasks_app.consumers import channel_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "channel": ChannelNameRouter(channel_routes()),
    }
)
