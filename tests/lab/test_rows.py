"""lab.rows: the many rows of one message in one write (COPY on PostgreSQL, bulk_create
elsewhere) — the models the ingest writes that way hold only fields psycopg adapts as the
instance holds them, and what lands reads back exactly as a normal save would store it."""

from decimal import Decimal

from django.db import connection

from countycare.lab import rows
from countycare.lab.ingest import ingest
from countycare.lab.models import LabResult
from countycare.telemed.models import Observation


def test_the_models_written_in_one_go_are_supported():
    # If a field psycopg cannot take as the instance holds it is added to one of these, the
    # ingest falls back to bulk_create; this test says so instead of the benchmark.
    assert rows.supported(Observation)
    assert rows.supported(LabResult)


def test_rows_read_back_as_a_save_stores_them(make_oru, cbc_order, residents):
    result = ingest(make_oru().encode())

    saved = list(Observation.objects.filter(order=cbc_order).order_by("pk"))
    assert len(saved) == 8
    assert all(o.pk for o in saved)
    # A copy of each through the ordinary ORM save: the same values come back.
    for original in saved:
        twin = Observation.objects.get(pk=original.pk)
        twin.pk = None
        twin.save()
        again = Observation.objects.get(pk=twin.pk)
        for field in rows.columns(Observation):
            assert getattr(again, field.attname) == getattr(original, field.attname), field.name
    hgb = next(o for o in saved if o.code == "718-7")
    assert hgb.value == Decimal("118") and hgb.flag == "L"
    results = LabResult.objects.filter(message=result.message)
    assert results.count() == 8
    assert {r.observation_id for r in results} == {o.pk for o in saved}
    if connection.vendor == "postgresql":
        # The keys came from the table's sequence: the next ordinary insert does not collide.
        extra = Observation.objects.get(pk=saved[0].pk)
        extra.pk = None
        extra.save()
        assert extra.pk > max(o.pk for o in saved)


def test_a_prepared_query_returns_what_its_queryset_returns(make_oru, cbc_order, residents):
    ingest(make_oru().encode())
    ingest(make_oru(control_id="other").encode())
    order = cbc_order.pk

    def build(code, unit):
        # The query's own constants (the order, is_critical=False) stay constants.
        return Observation.objects.filter(
            code=code, unit=unit, order_id=order, is_critical=False
        ).values_list("pk", "code", "value")

    query = rows.Prepared(build)
    for code, unit in (("718-7", "g/L"), ("6690-2", "10*9/L"), ("718-7", "mmol/L"), ("x", "")):
        assert sorted(query.rows(code, unit)) == sorted(build(code, unit))
    assert len(query.rows("718-7", "g/L")) == 2
