"""Request body parsers."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSONParser that also turns absurd nesting and lone UTF-16 surrogates into a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ParseError("JSON nested too deeply") from None
        except UnicodeEncodeError:
            raise ParseError("JSON string holds a lone UTF-16 surrogate") from None
        return data
