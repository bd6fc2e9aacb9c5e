"""Materialised values per period, recomputed by a task when data of a closed period changes
(issue 9; architecture.md "Scale path")."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from countycare.indicators import periods, services
from countycare.indicators.models import IndicatorValue
from countycare.telemed.models import Visit
from tests.indicators.conftest import YEAR, aware

pytestmark = pytest.mark.django_db


def _stored(code, institution, period):
    return IndicatorValue.objects.get(code=code, institution=institution, period=period)


def test_closed_period_is_stored_and_recomputed_when_its_data_changes(
    tree, residents, village_doctor, import_rows, django_capture_on_commit_callbacks
):
    import_rows([("TA", f"{YEAR}-03", "outpatient_visits", 100),
                 ("TA", f"{YEAR}-03", "out_of_county_visits", 100)])  # fmt: skip
    services.outcomes_for(tree.county, periods.year(YEAR))
    services.outcomes_for(tree.county, periods.month(YEAR, 3))
    assert _stored("in_county_visit_rate", tree.county, str(YEAR)).value == 50.0
    # A correction for March arrives: the year and March are recomputed (eager task).
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        import_rows([("TA", f"{YEAR}-03", "out_of_county_visits", 300)])
    assert len(callbacks) == 1
    year = _stored("in_county_visit_rate", tree.county, str(YEAR))
    assert (year.value, year.stale) == (25.0, False)
    assert _stored("in_county_visit_rate", tree.county, f"{YEAR}-03").value == 25.0
    # A Walking Hospital visit recorded late for a closed month (signal → stale → task).
    with django_capture_on_commit_callbacks(execute=True):
        Visit.objects.create(
            resident=residents["a1"], institution=tree.village_a1, performed_by=village_doctor,
            visited_at=aware(dt.date(YEAR, 3, 5)),
        )  # fmt: skip
    assert _stored("wh_visits", tree.county, str(YEAR)).value == 1


def test_stale_pair_claimed_once(tree, import_rows):
    import_rows([("TA", f"{YEAR}-03", "outpatient_visits", 100)])
    services.outcomes_for(tree.county, periods.year(YEAR))
    IndicatorValue.objects.update(stale=True)
    assert services.recompute_stale() == 1
    assert services.recompute_stale() == 0
    assert not IndicatorValue.objects.filter(stale=True).exists()


def test_command_json(tree, import_rows):
    """`countycare indicators --period … --institution … --json`: the issue's keys; value
    and met null when there is no data or the denominator is 0."""
    import_rows(
        [
            ("TA", f"{YEAR}-01", "outpatient_visits", 80),
            ("TA", f"{YEAR}-01", "out_of_county_visits", 20),
        ]
    )
    out = StringIO()
    call_command(
        "indicators", "--period", f"{YEAR}-H1", "--institution", "TA", "--json", stdout=out
    )
    rows = {r["code"]: r for r in json.loads(out.getvalue())}
    assert set(rows["in_county_visit_rate"]) == {
        "code",
        "name",
        "numerator",
        "denominator",
        "value",
        "target",
        "met",
    }
    assert (
        rows["in_county_visit_rate"]["value"] == 80.0
        and rows["in_county_visit_rate"]["met"] is False
    )
    assert rows["gps_per_10000"]["value"] is None and rows["gps_per_10000"]["met"] is None
    text = StringIO()
    call_command("indicators", "--period", str(YEAR), stdout=text)
    assert "in_county_visit_rate" in text.getvalue()
    with pytest.raises(CommandError):
        call_command("indicators", "--period", "2024-H3")
    with pytest.raises(CommandError):
        call_command("indicators", "--institution", "NOPE")


def test_stored_values_judged_against_todays_target_and_recomputed_for_a_new_catalog(
    tree, import_rows
):
    """A county raising a target sees its closed years judged against it at once; values
    stored under an older catalog version are recomputed when read."""
    from countycare.indicators import catalog
    from countycare.indicators.registry import get
    from countycare.organizations.models import PolicyValue

    import_rows([("TA", f"{YEAR}-03", "outpatient_visits", 91),
                 ("TA", f"{YEAR}-03", "out_of_county_visits", 9)])  # fmt: skip
    year = periods.year(YEAR)
    first = {o.indicator.code: o for o in services.outcomes_for(tree.county, year)}
    assert (first["in_county_visit_rate"].value, first["in_county_visit_rate"].met) == (91.0, True)
    PolicyValue.objects.create(community=tree.community, key=get("in_county_visit_rate").policy_key,
                               value={"2024": 95})  # fmt: skip
    again = {o.indicator.code: o for o in services.outcomes_for(tree.county, year)}
    assert (again["in_county_visit_rate"].target, again["in_county_visit_rate"].met) == (
        95.0,
        False,
    )
    IndicatorValue.objects.update(version=catalog.VERSION - 1, value=1.0)
    services.outcomes_for(tree.county, year)
    assert _stored("in_county_visit_rate", tree.county, str(YEAR)).value == 91.0


def test_nightly_task_stores_the_periods_that_closed(tree, import_rows, monkeypatch):
    """On 1 January the month, the half-year and the year that closed are stored for the
    county, the community, the general hospital and each township (celery beat, daily)."""
    import datetime as dt

    from django.utils import timezone

    from countycare.indicators import tasks

    import_rows([("TA", f"{YEAR}-12", "outpatient_visits", 10)])
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: dt.date(YEAR + 1, 1, 1))
    assert tasks.materialise_closed() == 3 * 5
    stored = set(IndicatorValue.objects.values_list("institution__code", "period").distinct())
    assert stored == {(c, p) for c in ("150627", "MC01", "H01", "TA", "TB")
                      for p in (f"{YEAR}-12", f"{YEAR}-H2", str(YEAR))}  # fmt: skip


def test_a_span_changed_stales_every_period_it_overlaps(
    tree, residents, import_rows, django_capture_on_commit_callbacks
):
    """A key-population tag in force from February to October of a closed year (then cut
    short to April) changes the populations of every month it covered, not only the months of
    its two dates."""
    from tests.factories import KeyPopulationTagFactory

    import_rows([("TA", f"{YEAR}-06", "outpatient_visits", 10)])
    for m in (3, 6, 9, 11):
        services.outcomes_for(tree.county, periods.month(YEAR, m))

    def stale():
        return set(IndicatorValue.objects.filter(stale=True).values_list("period", flat=True))

    with django_capture_on_commit_callbacks(execute=False):
        tag = KeyPopulationTagFactory(resident=residents["a1"], recorded_on=dt.date(YEAR, 2, 1),
                                      ended_on=dt.date(YEAR, 10, 1))  # fmt: skip
        assert stale() == {f"{YEAR}-03", f"{YEAR}-06", f"{YEAR}-09"}
    IndicatorValue.objects.update(stale=False)
    with django_capture_on_commit_callbacks(execute=False):
        tag.ended_on = dt.date(YEAR, 4, 1)
        tag.save()
        assert stale() == {f"{YEAR}-03", f"{YEAR}-06", f"{YEAR}-09"}  # the months it left too
