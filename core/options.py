"""What OPTIONS answers on the API's routes (#23 item 6).

DRF's SimpleMetadata describes the POST/PUT body by instantiating the view's serializer (and, on a detail route,
by fetching the object): our views declare no serializer (bodies are checked by the apps' validators and described
in the OpenAPI document), so that introspection failed with an AssertionError, a 500. The answer here is the
route's name, description and media types, with the `Allow` header DRF sets; the bodies are in GET /api/schema.
"""

from rest_framework.metadata import SimpleMetadata


class RouteMetadata(SimpleMetadata):
    """SimpleMetadata without the serializer introspection of `actions`."""

    def determine_actions(self, request, view):
        return {}
