"""CSV export of any filtered admin list, streamed.

:class:`CsvExportMixin` gives a ModelAdmin an ``export.csv`` URL beside its changelist and an
"Export CSV" link in the changelist's object tools that carries the list's current query
string (filters, search, ordering). The export builds the ModelAdmin's own ChangeList from
that query string, so it holds exactly the rows the list holds, in the list's order: a
subclass that adds list filters, search fields or annotated columns (``get_queryset``) gets
them in the export too. Rows are read with ``queryset.iterator(chunk_size=…)`` and written as
they are read (a ``StreamingHttpResponse``), never built in memory; the query count does not
depend on the number of rows.

Columns come from ``csv_columns``: each is a name (a model field, an annotation, a
``__``-separated path through foreign keys such as ``facility__external_id``, or a method of
the ModelAdmin taking the row) or a ``(header, source)`` pair whose source is such a name or
a callable taking the row. A subclass extends them::

    csv_columns = (*EquipmentAdmin.csv_columns, "risk_score", ("risk", "risk_rating"))

or overrides ``get_csv_columns(request)``.

The filters are run once with ``exists()`` before the answer starts (so a value the database
refuses is a 400); the rows' cursor opens when the body is read and closes when the
response is closed, as every WSGI server does — an answer nobody reads holds no cursor.

Cells that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) get a leading ``'``; numbers, dates and booleans are written as
values. Only users with view permission on the model may export; filters the list refuses
(IncorrectLookupParameters) or the database refuses answer 400 with the reason.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import DatabaseError, DataError, models
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.safestring import SafeData

log = logging.getLogger(__name__)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_URL_SUFFIX = "_export_csv"
CHUNK_SIZE = 2000
ROWS_PER_WRITE = 500


def is_list_request(request) -> bool:
    """The request is a changelist's or its CSV export's (both show the list's columns, so
    both want the list's annotations)."""
    match = getattr(request, "resolver_match", None)
    name = getattr(match, "url_name", None) or ""
    return name.endswith(("_changelist", EXPORT_URL_SUFFIX))


def escape_formula(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(value: Any) -> str:
    """One value as a CSV cell (formula-like text escaped)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value.total_seconds())
    if isinstance(value, dict | list):
        return escape_formula(json.dumps(value, sort_keys=True, ensure_ascii=False))
    if isinstance(value, SafeData):  # a ModelAdmin display method's HTML
        value = strip_tags(str(value))
    return escape_formula(str(value))


@dataclass(frozen=True)
class CsvColumn:
    header: str
    source: str | Callable[[Any], Any]

    @classmethod
    def of(cls, spec) -> CsvColumn:
        if isinstance(spec, CsvColumn):
            return spec
        if isinstance(spec, str):
            return cls(spec, spec)
        header, source = spec
        return cls(header, source)


class _Reader:
    """Reads one column's value from a row: a callable, a path of attributes (a field, an
    annotation, a foreign key's field), or a method of the ModelAdmin."""

    def __init__(self, column: CsvColumn, model_admin):
        self.column = column
        self.model_admin = model_admin
        self.parts = column.source.split("__") if isinstance(column.source, str) else None
        self.from_admin: bool | None = None  # decided on the first row

    def __call__(self, obj) -> Any:
        if self.parts is None:
            return self.column.source(obj)
        if self.from_admin is None:
            self.from_admin = not hasattr(obj, self.parts[0]) and callable(
                getattr(self.model_admin, self.column.source, None)
            )
        if self.from_admin:
            return getattr(self.model_admin, self.column.source)(obj)
        value = obj
        for part in self.parts:
            if value is None:
                return None
            value = getattr(value, part)
            if callable(value) and not isinstance(value, models.Model):
                value = value()
        return value


def related_paths(model: type[models.Model], columns: Sequence[CsvColumn]) -> list[str]:
    """The foreign-key paths the columns read through, for ``select_related``."""
    paths = set()
    for column in columns:
        if not isinstance(column.source, str) or "__" not in column.source:
            continue
        current, walked = model, []
        for part in column.source.split("__"):
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                break
            if not (field.many_to_one or field.one_to_one) or field.related_model is None:
                break
            walked.append(part)
            current = field.related_model
        if walked:
            paths.add("__".join(walked))
    return sorted(paths)


def value_paths(queryset, columns: Sequence[CsvColumn]) -> list[str] | None:
    """The columns as paths ``values_list`` reads (fields, annotations, fields of records
    reached by foreign keys), or None when one is not (a ModelAdmin method, a property, a
    callable, a related record itself) or the list is DISTINCT (which values would change)."""
    if queryset.query.distinct:
        return None
    paths = []
    for column in columns:
        source = column.source
        if not isinstance(source, str):
            return None
        if source in queryset.query.annotations:
            paths.append(source)
            continue
        current, parts = queryset.model, source.split("__")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                field = current._meta.get_field(part)
            except FieldDoesNotExist:
                return None
            if field.is_relation and part == getattr(field, "attname", None) != field.name:
                if not last:  # facility_id: the key itself, a column of its own
                    return None
            elif field.is_relation:
                if last or not (field.many_to_one or field.one_to_one):
                    return None
                current = field.related_model
            elif not last or not field.concrete:
                return None
        paths.append(source)
    return paths


def csv_rows(
    columns: Sequence[CsvColumn], rows: Iterator, model_admin, *, tuples: bool = False
) -> Iterator[str]:
    """The CSV text of a header and ``rows`` (records, or with ``tuples`` the columns'
    values in order), a few hundred rows per piece."""
    readers = [_Reader(c, model_admin) for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([escape_formula(c.header) for c in columns])
    try:
        for n, row in enumerate(rows, start=1):
            if tuples:
                writer.writerow([csv_cell(value) for value in row])
            else:
                writer.writerow([csv_cell(read(row)) for read in readers])
            if n % ROWS_PER_WRITE == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate(0)
        yield buffer.getvalue()
    finally:  # a download cut short closes the database cursor now, not when collected
        close = getattr(rows, "close", None)
        if close is not None:
            close()


def _refused_by_database(exc: DatabaseError) -> bool:
    """The database refused the filters' values (a bad pattern, a value out of range), as
    opposed to failing."""
    if isinstance(exc, DataError):
        return True
    # SQLite reports an exception of a Python-implemented function (REGEXP) this way.
    return "user-defined function raised exception" in str(exc)


def _without_results(changelist_class):
    """The ModelAdmin's ChangeList class, without the page's counts and slice: the export
    takes the whole filtered queryset."""

    def get_results(self, request):
        self.result_count = self.full_result_count = None
        self.result_list = self.queryset
        self.can_show_all, self.multi_page, self.paginator = True, False, None

    return type(
        f"Csv{changelist_class.__name__}", (changelist_class,), {"get_results": get_results}
    )


class CsvExportMixin:
    """ModelAdmin mixin: a streamed CSV export of the changelist as filtered, and its link."""

    csv_columns: Sequence = ()
    csv_chunk_size = CHUNK_SIZE

    def get_csv_columns(self, request) -> list[CsvColumn]:
        specs = self.csv_columns or [f.attname for f in self.model._meta.concrete_fields]
        return [CsvColumn.of(spec) for spec in specs]

    def csv_export_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}{EXPORT_URL_SUFFIX}"

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.csv_export_view),
                name=self.csv_export_url_name(),
            ),
            *super().get_urls(),
        ]

    def get_changelist(self, request, **kwargs):
        changelist_class = super().get_changelist(request, **kwargs)
        if getattr(request, "_csv_export", False):
            return _without_results(changelist_class)
        return changelist_class

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context is not None and "cl" in context:
            url = reverse(f"{self.admin_site.name}:{self.csv_export_url_name()}")
            context["csv_export_url"] = url + context["cl"].get_query_string()
        return response

    def csv_export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.GET = request.GET.copy()
        request.GET.pop("p", None)  # the export is the whole list, not a page of it
        request._csv_export = True
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters as exc:
            return HttpResponseBadRequest(
                f"Export refused: the list's filters are not valid ({exc}).",
                content_type="text/plain; charset=utf-8",
            )
        columns = self.get_csv_columns(request)
        queryset = changelist.queryset
        paths = value_paths(queryset, columns)
        if paths is not None:  # plain values: no model instances to build
            queryset = queryset.values_list(*paths)
        elif related := related_paths(self.model, columns):
            queryset = queryset.select_related(*related)
        try:
            # The filters run once, cheaply, before the answer starts: a value the database
            # refuses is a 400, not a file cut short.
            queryset.exists()
        except DatabaseError as exc:
            if not _refused_by_database(exc):
                raise
            return HttpResponseBadRequest(
                f"Export refused: the database refused the list's filters ({exc}).",
                content_type="text/plain; charset=utf-8",
            )
        # The cursor opens when the body is read, and closes when the response is closed
        # (a server always closes it): never left open by an answer nobody reads.
        body = queryset.iterator(chunk_size=self.csv_chunk_size)
        response = StreamingHttpResponse(
            csv_rows(columns, body, self, tuples=paths is not None),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        filename = f"{self.opts.verbose_name_plural}-{stamp}.csv".replace(" ", "-")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        log.info(
            "CSV export of %s by %s (%s)",
            self.opts.label,
            request.user.get_username(),
            changelist.get_query_string() or "unfiltered",
        )
        return response
