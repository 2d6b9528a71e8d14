"""The JSON renderer of every DRF view (settings.REST_FRAMEWORK): DRF's JSONRenderer, encoded by orjson.

orjson encodes a 50-item JSON:API page several times faster than `json.dumps` with DRF's encoder class
(docs/performance.md, "Request path"). The bytes are what DRF's renderer makes, as configured here (compact
separators, UTF-8 rather than `\\u` escapes, U+2028/U+2029 escaped): orjson is told to hand every value it
would format differently from DRF (datetimes, subclasses of str/int/dict/list, dataclasses) to DRF's own
encoder (`default`), so datetimes keep DRF's format (milliseconds, `Z`), Decimals become floats, UUIDs and
lazy strings strings. Whatever orjson refuses (an integer beyond 64 bits) and an indented answer go to DRF's
renderer, unchanged. One difference: a float NaN or infinity, which JSON cannot hold, is written as null where
DRF's strict mode raised (a 500); the API's inputs refuse them, so none is stored.
"""

import orjson
from rest_framework.renderers import JSONRenderer

OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS
LINE_SEPARATORS = ("\u2028".encode(), "\u2029".encode())


class FastJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer, same output, encoded by orjson where it can be."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.ensure_ascii or not self.compact or self.get_indent(accepted_media_type, renderer_context or {}):
            return super().render(data, accepted_media_type, renderer_context)
        encoder = self.encoder_class()
        try:
            content = orjson.dumps(data, default=encoder.default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        for separator in LINE_SEPARATORS:
            if separator in content:
                content = content.replace(separator, separator.decode().encode("unicode_escape"))
        return content
