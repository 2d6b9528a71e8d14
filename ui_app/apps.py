from django.apps import AppConfig


class UiAppConfig(AppConfig):
    """The web UI at `/` (issue 15): one page and static ES modules, a client of the REST API only."""

    name = "ui_app"
    verbose_name = "Web UI"
