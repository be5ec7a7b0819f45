"""The API's JSON parser: orjson, so a body nested past orjson's 1024 levels (or otherwise
not JSON) is a 400 ``VALIDATION_ERROR``. DRF's own parser uses the standard library, which
raises ``RecursionError`` on a deeply nested body (a 500 before this parser)."""

import orjson
from django.http import HttpRequest
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class JSONParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # DRF hands over the Django request itself when nothing has read it yet: its ``body``
        # enforces DATA_UPLOAD_MAX_MEMORY_SIZE (RequestDataTooBig, a 413), ``read()`` does not.
        if isinstance(stream, HttpRequest):
            raw = stream.body
        else:
            raw = stream.read() if stream is not None else b""
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ParseError(f"Body is not valid JSON: {exc}") from None
