"""One write for the many rows of a message (benchmarks/hl7_ingest.py: an analyzer's CBC is
22 observations and 22 lab records). On PostgreSQL the keys come from the table's sequence
and the rows go in by ``COPY`` of the model's own columns, with the values as Python holds
them: neither Python nor PostgreSQL spends time formatting, parsing and planning a
statement per message, which is most of what ``bulk_create`` costs a listener. Elsewhere
(SQLite), ``bulk_create``.

:func:`insert_values` takes the rows as tuples of values rather than instances (building a
model instance costs more than the row's share of the COPY), with their keys reserved
beforehand from the sequences of several tables in one query (:func:`reserve`).
:class:`Prepared` runs the queries of every message as prepared statements.

Only for models whose fields need no preparation beyond what psycopg does (numbers, text,
dates, booleans, foreign keys) — ``tests/lab/test_rows.py`` checks the ones used here.
"""

from __future__ import annotations

import enum

import psycopg
from django.db import connection, models

SIMPLE = (
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.CharField,
    models.DateTimeField,
    models.DecimalField,
    models.ForeignKey,
    models.IntegerField,
    models.PositiveIntegerField,
    models.PositiveSmallIntegerField,
    models.TextField,
    models.OneToOneField,
)


def columns(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def supported(model: type[models.Model]) -> bool:
    """True when every field is one psycopg adapts as the instance holds it."""
    return all(isinstance(f, SIMPLE) and not getattr(f, "auto_now", False)
               and not getattr(f, "auto_now_add", False) for f in columns(model))  # fmt: skip


def _value(value):
    return value.value if isinstance(value, enum.Enum) else value


_sequences: dict[str, str] = {}
RESERVE = "SELECT %s::int, nextval(%s::regclass) FROM generate_series(1, %s::int)"


def _sequence(cursor, model: type[models.Model]) -> str:
    """The name of the table's key sequence, asked once per process."""
    table = model._meta.db_table
    name = _sequences.get(table)
    if name is None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, model._meta.pk.column])
        name = _sequences[table] = cursor.fetchone()[0]
    return name


def reserve(counts: list[tuple[type[models.Model], int]]) -> list[list[int]] | None:
    """Keys for ``n`` new rows of each model, from the tables' sequences in one query; None
    where keys are not reserved ahead (not PostgreSQL: :func:`insert_values` lets the
    database number the rows)."""
    if connection.vendor != "postgresql":
        return None
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        names = [_sequence(cursor, model) for model, _n in counts]
        sql = " UNION ALL ".join([RESERVE] * len(counts))
        params = [
            p for i, (name, (_m, n)) in enumerate(zip(names, counts, strict=True))
            for p in (i, name, n)
        ]  # fmt: skip
        cursor.execute(sql, params, prepare=True)
        found: list[list[int]] = [[] for _c in counts]
        for i, key in cursor.fetchall():
            found[i].append(key)
    return found


def insert_values(
    model: type[models.Model],
    names: list[str],
    values: list[tuple],
    *,
    keys: list[int] | None = None,
) -> list[int]:
    """Insert rows given as tuples of the fields ``names`` (attnames; the other fields take
    their defaults) and return their keys — ``keys`` when reserved (:func:`reserve`)."""
    if not values:
        return []
    named = set(names)
    defaults = [(f.attname, f.get_default()) for f in columns(model) if f.attname not in named]
    if connection.vendor != "postgresql" or not supported(model) or keys is None:
        objs = [model(**dict(defaults), **dict(zip(names, row, strict=True))) for row in values]
        model.objects.bulk_create(objs)
        return [obj.pk for obj in objs]
    quote = connection.ops.quote_name
    by_name = {f.attname: f for f in columns(model)}
    order = [*names, *(name for name, _v in defaults)]
    tail = tuple(_value(v) for _n, v in defaults)
    cols = ", ".join([quote(model._meta.pk.column), *(quote(by_name[n].column) for n in order)])
    statement = f"COPY {quote(model._meta.db_table)} ({cols}) FROM STDIN"
    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(statement) as copy:
        for key, row in zip(keys, values, strict=True):
            copy.write_row((key, *map(_value, row), *tail))
    return keys


class Prepared:
    """A ``values_list`` query the listener runs for every message, compiled from the ORM
        once per process and run, on PostgreSQL, as a server-side prepared statement (neither
        Python nor PostgreSQL builds and plans it again per message); elsewhere the queryset.
        ``build(*args)`` makes the queryset; each argument, compared with a text field (it is
    compiled with a text marker in its place), must reach the SQL as one parameter,
        and the selected fields must be ones PostgreSQL returns as Django would (no converters:
        numbers, text, dates, keys)."""

    def __init__(self, build):
        self.build = build
        self._compiled: tuple[str, list] | None = None

    def _compile(self, count: int) -> tuple[str, list]:
        markers = [f"\x00countycare-parameter-{i}\x00" for i in range(count)]
        sql, params = self.build(*markers).query.sql_with_params()
        # Each parameter: an argument's position, or a constant of the query itself.
        slots = [(True, markers.index(p)) if p in markers else (False, p) for p in params]
        if sorted(i for is_arg, i in slots if is_arg) != list(range(count)):
            raise ValueError("every argument must be one parameter of the query")
        return sql, slots

    def rows(self, *args) -> list[tuple]:
        if connection.vendor != "postgresql":
            return list(self.build(*args))
        if self._compiled is None:
            self._compiled = self._compile(len(args))
        sql, slots = self._compiled
        params = [args[i] if is_arg else i for is_arg, i in slots]
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
