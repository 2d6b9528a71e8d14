"""/controlnet routes of A1111's ControlNet extension that clients read before sending ControlNet units (D39):
the version, the ControlNet models (`name [hash8]`, as the extension lists them) and the preprocessors (none: a
unit's image is used as the control image as given)."""

from django.urls import path, re_path

from . import catalogue, views
from .errors import not_found_response

CONTROLNET_VERSION = 2  # the extension's API version its clients check


def version():
    return {"version": CONTROLNET_VERSION}


def model_list():
    return {"model_list": [f"{model.name} [{model.hash[:8]}]" for model in catalogue.ready("controlnet")]}


def module_list():
    return {"module_list": ["none"]}


urlpatterns = [
    path("version", views.listing(version), name="controlnet-version"),
    path("model_list", views.listing(model_list), name="controlnet-model-list"),
    path("module_list", views.listing(module_list), name="controlnet-module-list"),
    re_path(r"^.*$", not_found_response),
]
