"""One write for the many rows of a message (benchmarks/hl7_ingest.py: an analyzer's CBC is
22 observations and 22 lab records). On PostgreSQL the keys come from the table's sequence
and the rows go in by ``COPY`` of the model's own columns, with the values as the instances
hold them: neither Python nor PostgreSQL spends time formatting, parsing and planning a
statement per message, which is most of what ``bulk_create`` costs a listener. Elsewhere
(SQLite), ``bulk_create``.

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


def insert(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert the unsaved ``objs`` and set their primary keys."""
    if not objs:
        return
    if connection.vendor != "postgresql" or not supported(model):
        model.objects.bulk_create(objs)
        return
    fields = columns(model)
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), model._meta.pk.column
    connection.ensure_connection()
    # Keys from the table's own sequence, then COPY: the cheapest way into PostgreSQL for
    # both sides (no statement to format, parse or plan per message).
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, pk, len(objs)],
            prepare=True,
        )
        ids = [r[0] for r in cursor.fetchall()]
        names = ", ".join([quote(pk), *(quote(f.column) for f in fields)])
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for obj, key in zip(objs, ids, strict=True):
                copy.write_row([key, *(_value(getattr(obj, f.attname)) for f in fields)])
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
