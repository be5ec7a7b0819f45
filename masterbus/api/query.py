"""Query-parameter fields: one declaration validates a parameter and documents it.

The fields are DRF serializer fields, so a ``Serializer`` of them both parses a request's
query (``parse_query``) and, passed to ``extend_schema(parameters=[TheSerializer])``, becomes
the OpenAPI query parameters with the same bounds (drf-spectacular reads the validators: a
``RegexValidator`` becomes ``pattern``, min/max values ``minimum``/``maximum``, max length
``maxLength``). What the schema allows is accepted, and nothing else:

- ``QueryInteger``: ASCII digits only (no sign, spaces, decimals or other scripts' digits),
  within ``min_value``…``max_value``.
- ``QueryChoice``: one of ``choices``, ASCII case-insensitive, a space standing for an
  underscore ("Out of Compliance" is ``out_of_compliance``); cleaned to the canonical value.
  Documented as a ``pattern`` that spells exactly that (an ``enum`` cannot say
  case-insensitive), with the canonical values in the description.
- ``QueryText``: any text up to ``max_length`` characters; surrounding whitespace is dropped
  after the length check. NUL is valid text too: callers must not send it to the database
  (no stored text holds one, so such a search simply finds nothing).

An empty value (``?page=``) is invalid except for ``QueryText``.
"""

from __future__ import annotations

import re

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from rest_framework import serializers

_DIGITS = re.compile(r"[0-9]+")
# More digits than this is out of range for any bound used here (and never reaches int()).
_MAX_DIGITS = 18


class QueryInteger(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if not isinstance(data, str) or not _DIGITS.fullmatch(data):
            self.fail("invalid")
        if len(data.lstrip("0")) > _MAX_DIGITS:
            self.fail("max_value", max_value=self.max_value)
        return int(data)


def _case_insensitive(word: str) -> str:
    out = []
    for ch in word:
        if ch == "_":
            out.append("[_ ]")
        elif ch.isascii() and ch.isalpha():
            out.append(f"[{ch.upper()}{ch.lower()}]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


class QueryChoice(serializers.CharField):
    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        listed = ", ".join(self.choices)
        regex = r"\A(?:" + "|".join(_case_insensitive(c) for c in self.choices) + r")\Z"
        validator = RegexValidator(
            regex, message=f'"%(value)s" is not a valid choice; expected one of: {listed}.'
        )
        text = kwargs.pop("help_text", "")
        kwargs["help_text"] = f"{text} One of: {listed} (case-insensitive).".strip()
        super().__init__(trim_whitespace=False, validators=[validator], **kwargs)

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        return value.lower().replace(" ", "_") if isinstance(value, str) else value


class QueryText(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("default", "")
        super().__init__(allow_blank=True, trim_whitespace=False, **kwargs)
        # Any text is a valid search, NUL included (it matches nothing stored).
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]

    def run_validation(self, data=serializers.empty):
        value = super().run_validation(data)
        return value.strip() if isinstance(value, str) else value


def parse_query(serializer_class: type[serializers.Serializer], query) -> dict:
    """``query`` (a QueryDict) validated by ``serializer_class``: the clean values, or DRF's
    ValidationError (the 400 envelope) naming every bad parameter. The last value of a
    repeated parameter counts; unknown parameters are ignored."""
    # A plain dict: DRF treats an empty value in a QueryDict as "not given" for optional
    # fields, and an empty value is invalid here.
    serializer = serializer_class(data=query.dict() if hasattr(query, "dict") else dict(query))
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
