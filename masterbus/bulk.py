"""Set-based writes: one code path, fast on PostgreSQL.

On PostgreSQL rows go through ``COPY`` (into the table, or into a session-local staging
table followed by one ``INSERT … SELECT … ON CONFLICT DO UPDATE``), which skips Django's
per-value preparation and model instantiation — the dominant cost of ``bulk_create`` for
hundreds of thousands of rows. Elsewhere (SQLite, the embedded default) the same calls use
``bulk_create``. Rows are dicts keyed by column attribute names (``facility_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from operator import itemgetter

import orjson
from django.db import connection, models
from django.db.models import BigIntegerField, BooleanField, F, Func
from django.db.models.expressions import RawSQL

BATCH = 2000


def _columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _copy(cursor, table: str, fields: Sequence[models.Field], rows: Iterable[dict]) -> None:
    cols = ", ".join(_quote(f.column) for f in fields)
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    # Where each column's value is in a row dict (the attname, else the name, else the
    # field's default), worked out on the first row: the rows of one call share their keys.
    keys, defaults = [], {}
    for f in fields:
        if f.attname in first:
            keys.append(f.attname)
        elif f.name in first:
            keys.append(f.name)
        else:
            keys.append(f.attname)
            defaults[f.attname] = f.get_default()
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    pick = itemgetter(*keys)
    dumps = orjson.dumps
    with cursor.copy(f"COPY {_quote(table)} ({cols}) FROM STDIN") as copy:
        write_row = copy.write_row
        for row in chain((first,), rows):
            if defaults:
                row = {**defaults, **row}
            try:
                values = pick(row)
            except KeyError:  # a row shaped unlike the first: look each column up
                values = tuple(row.get(f.attname, row.get(f.name, f.get_default())) for f in fields)
            if len(keys) == 1:
                values = (values,)
            if json_at:
                values = list(values)
                for i in json_at:
                    if values[i] is not None:
                        values[i] = dumps(values[i]).decode()
            write_row(values)


def allocate_pks(model: type[models.Model], n: int) -> list[int] | None:
    """``n`` new primary keys from the table's identity sequence (PostgreSQL), for rows whose
    ids must be known before they are written; None where the database cannot do this."""
    if connection.vendor != "postgresql":
        return None
    if n == 0:
        return []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, n],
        )
        return [pk for (pk,) in cur.fetchall()]


def bulk_insert(model: type[models.Model], rows: list[dict], *, with_pk: bool = False) -> None:
    """Insert rows (no conflict handling). ``with_pk``: the rows carry their ids (as
    ``allocate_pks`` handed them out)."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        fields = [model._meta.pk, *_columns(model)] if with_pk else _columns(model)
        with connection.cursor() as cur:
            _copy(cur.cursor, model._meta.db_table, fields, rows)
        return
    model.objects.bulk_create([model(**r) for r in rows], batch_size=BATCH)


def bulk_upsert(
    model: type[models.Model],
    rows: list[dict],
    *,
    conflict: Sequence[str],
    update: Sequence[str],
    key: str | None = None,
) -> dict | None:
    """Insert or update rows on the unique ``conflict`` columns (attnames).

    ``update`` lists the attnames overwritten on conflict. With ``key`` (an attname, e.g.
    ``external_id``) returns {key value: pk} of every written row. Rows must not repeat a
    conflict key.
    """
    if not rows:
        return {} if key else None
    if connection.vendor == "postgresql":
        return _pg_upsert(model, rows, conflict, update, key)
    objs = [model(**r) for r in rows]
    by_name = {f.attname: f.name for f in _columns(model)}
    model.objects.bulk_create(
        objs,
        batch_size=BATCH,
        update_conflicts=True,
        unique_fields=[by_name.get(c, c) for c in conflict],
        update_fields=[by_name.get(c, c) for c in update],
    )
    if not key:
        return None
    pks = {getattr(o, key): o.pk for o in objs}
    if any(pk is None for pk in pks.values()):
        pks = dict(model.objects.filter(**{f"{key}__in": list(pks)}).values_list(key, "pk"))
    return pks


def _pg_upsert(model, rows, conflict, update, key):
    table = model._meta.db_table
    stage = f"_stage_{table}"
    fields = _columns(model)
    col_of = {f.attname: f.column for f in fields}
    cols = ", ".join(_quote(f.column) for f in fields)
    sets = ", ".join(f"{_quote(col_of[c])} = EXCLUDED.{_quote(col_of[c])}" for c in update)
    target = ", ".join(_quote(col_of[c]) for c in conflict)
    sql = (
        f"INSERT INTO {_quote(table)} ({cols}) SELECT {cols} FROM {_quote(stage)} "
        f"ON CONFLICT ({target}) DO UPDATE SET {sets}"
    )
    if key:
        sql += f" RETURNING {_quote(col_of[key])}, {_quote(model._meta.pk.column)}"
    with connection.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_quote(stage)} AS "
            f"SELECT {cols} FROM {_quote(table)} WITH NO DATA"
        )
        cur.execute(f"TRUNCATE {_quote(stage)}")
        _copy(cur.cursor, stage, fields, rows)
        cur.execute(sql)
        return dict(cur.fetchall()) if key else None


class _EqualsAny(Func):
    """``column = ANY(array)`` (PostgreSQL)."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def where_in(qs, field: str, values: list[int]):
    """``qs`` (a queryset or manager) filtered to rows whose integer ``field`` is one of
    ``values``, without the model's default ordering. On PostgreSQL the values go to the
    driver as one array parameter, like :func:`rows_where_in`: thousands of ``IN``
    parameters cost more to prepare, send and plan than the rows cost to read."""
    if connection.vendor == "postgresql":
        from django.contrib.postgres.fields import ArrayField

        array = RawSQL("%s::bigint[]", (values,), output_field=ArrayField(BigIntegerField()))
        return qs.filter(_EqualsAny(F(field), array)).order_by()
    return qs.filter(**{f"{field}__in": values}).order_by()


def rows_where_in(
    model: type[models.Model], key: str, values: Iterable, columns: Sequence[str]
) -> list[tuple]:
    """``SELECT columns FROM model WHERE key IN values`` for large value lists.

    On PostgreSQL one array parameter (``= ANY(%s)``) replaces thousands of placeholders,
    whose preparation otherwise dominates the query's cost.
    """
    values = list(values)
    if not values:
        return []
    if connection.vendor != "postgresql":
        return list(model.objects.filter(**{f"{key}__in": values}).values_list(*columns))
    col = {f.attname: f.column for f in model._meta.concrete_fields}
    select = ", ".join(_quote(col[c]) for c in columns)
    sql = f"SELECT {select} FROM {_quote(model._meta.db_table)} WHERE {_quote(col[key])} = ANY(%s)"
    with connection.cursor() as cur:
        cur.execute(sql, [values])
        rows = cur.fetchall()
    # Return what the ORM would: aware datetimes in UTC (psycopg already does with USE_TZ).
    return rows
