"""Content negotiation."""

from rest_framework.negotiation import DefaultContentNegotiation


class JsonOnlyNegotiation(DefaultContentNegotiation):
    """Every API view answers JSON (or a file): an `Accept` header we cannot match, such as
    application/vnd.api+json, still gets the answer, never a 406."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return (renderers[0], renderers[0].media_type)
