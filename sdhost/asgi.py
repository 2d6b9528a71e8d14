"""ASGI entry point: HTTP (Django, including SSE) plus the `render` worker channel."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sdhost.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

from sdhost.static import StaticFilesHandler  # noqa: E402

# Static files (the /api/docs Swagger UI assets, the admin's CSS) come from the installed apps, DEBUG or not.
django_asgi_app = StaticFilesHandler(get_asgi_application())

from channels.routing import ChannelNameRouter, ProtocolTypeRouter  # noqa: E402

from tasks_app.consumers import channel_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "channel": ChannelNameRouter(channel_routes()),
    }
)
