"""Request body parsers."""

import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import invalid_request, json_pointer
from .jsondata import scalars, too_deep

# Objects and arrays in a JSON body nest at most this deep (docs/input.md): metadata values (D3) are the only free
# shapes, and json.dumps, Python's recursion limit and the databases' JSON functions give out near 1,000 levels
MAX_JSON_DEPTH = 100


class StrictJSONParser(JSONParser):
    """JSONParser that turns what JSON cannot mean into a 400, not a 500: nesting beyond MAX_JSON_DEPTH, numbers
    that are not finite (`1e400`, `NaN`, `Infinity`) and lone UTF-16 surrogates, with their pointer."""

    strict = False  # NaN/Infinity parse, so that they are refused below with their pointer

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels of objects and arrays)") from None
        if (path := too_deep(data, MAX_JSON_DEPTH)) is not None:
            raise invalid_request(f"JSON nested too deeply (at most {MAX_JSON_DEPTH} levels of objects and arrays)",
                                  json_pointer(*path) or None)
        for path, item in scalars(data):
            if isinstance(item, float) and not math.isfinite(item):
                raise invalid_request("Numbers must be finite (no NaN, Infinity or values beyond 1.8e308)",
                                      json_pointer(*path) or None)
            if isinstance(item, str) and not is_encodable(item):
                raise invalid_request("JSON string holds a lone UTF-16 surrogate", json_pointer(*path) or None)
        return data


class JSONAPIParser(StrictJSONParser):
    """The JSON:API media type is JSON too."""

    media_type = "application/vnd.api+json"


def is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
