"""Static files (the /api/docs Swagger UI assets, the admin's CSS), served by the ASGI app itself."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's handler, with a 404 (not a 500) for a path that leaves the static folders, such as
    `/static/../../etc/passwd` sent as is."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("No such static file") from None
