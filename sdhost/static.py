"""Static files (the web UI's scripts, the /api/docs Swagger UI assets, the admin's CSS), served by the ASGI app
itself, before the middleware."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404

from core.middleware import host_refusal


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's handler, refusing a Host outside ALLOWED_HOSTS as every other answer does (AllowedHostMiddleware
    does not run for static files), with a 404 (not a 500) for a path that leaves the static folders, such as
    `/static/../../etc/passwd` sent as is."""

    def serve(self, request):
        refusal = host_refusal(request)
        if refusal:
            return refusal
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("No such static file") from None
