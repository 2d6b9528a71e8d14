from django.apps import AppConfig


class SDHostConfig(AppConfig):
    """The composition root as an app, for its management commands (`serve`) and API schema module."""

    name = "sdhost"
    verbose_name = "SD-Host"
