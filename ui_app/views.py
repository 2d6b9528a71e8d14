"""The web UI's one page: the application shell; everything else is static ES modules calling /api."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

# Everything comes from this server (no CDN); images shown from blobs when a token is used (docs/ui.md).
CSP = ("default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


@require_safe
def index(request):
    response = render(request, "ui_app/index.html")
    response["Cache-Control"] = "no-cache"  # the shell names the current static files; always revalidate
    response["Content-Security-Policy"] = CSP
    return response
