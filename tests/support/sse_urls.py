"""URLconf for the SSE mechanism test: the real API plus one demo stream."""

from django.urls import path

from core.sse import event_stream, stream_response
from sdhost.urls import urlpatterns as api_urlpatterns


@event_stream
def demo_stream(request):
    return stream_response(request, "demo", lambda: {"state": "initial"}, lambda data: data.get("final", False))


urlpatterns = [path("api/demo-stream", demo_stream), *api_urlpatterns]
