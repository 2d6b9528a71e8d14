"""The web UI's one page: the application shell; everything else is static ES modules calling /api."""

from django.shortcuts import render
from django.views.decorators.http import require_safe


@require_safe
def index(request):
    response = render(request, "ui_app/index.html")
    response["Cache-Control"] = "no-cache"  # the shell names the current static files; always revalidate
    return response
