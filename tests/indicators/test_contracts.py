"""Contract coverage (FD-01, FD-02) from the family-doctor app's figures
(``countycare.familydoctor.selectors.figures(institution, start, end)`` with the keys
"contracted" and "key_contracted"), over the registry's own denominators: residents of the
subtree on the period's last day, key-population residents each once."""

from __future__ import annotations

import datetime as dt
import sys
import types
from dataclasses import replace

import pytest

from countycare.indicators import catalog, periods
from countycare.indicators.compute import compute
from countycare.indicators.registry import get
from tests.factories import ResidentFactory
from tests.indicators.conftest import YEAR

pytestmark = pytest.mark.django_db
Y = periods.year(YEAR)


@pytest.fixture
def figures(monkeypatch):
    """A family-doctor app answering with given figures, recording how it was asked."""
    calls = []
    answers = {}

    def fake(institution, start, end):
        calls.append((institution.code, start, end))
        return answers.get(institution.code, {"contracted": 0, "key_contracted": 0})

    module = types.ModuleType("countycare.familydoctor.selectors")
    module.figures = fake
    monkeypatch.setitem(sys.modules, "countycare.familydoctor.selectors", module)
    return answers, calls


def ready(code):
    """The indicator as it reads once the family-doctor app exposes its figures."""
    indicator = get(code)
    ways = tuple(
        replace(w, sources=tuple(
            replace(s, pending=False, has_data=None) if s is catalog.CONTRACTS else s
            for s in w.sources
        ))
        for w in indicator.ways
    )  # fmt: skip
    return replace(indicator, ways=ways)


def test_coverage_over_the_registry_denominators(tree, figures):
    """4 residents in township A, one of them 70 years old (key population); the app says 3
    contracted, 1 of them of the key population → 75 % (target 60 % in 2024: met) and 100 %
    of the one key-population resident (target 90 %: met)."""
    answers, calls = figures
    for birth in (dt.date(1980, 1, 1), dt.date(1990, 1, 1), dt.date(2000, 1, 1)):
        ResidentFactory(home_village=tree.village_a1, birth_date=birth)
    ResidentFactory(home_village=tree.village_a2, birth_date=dt.date(YEAR - 70, 1, 1))
    answers["TA"] = {"contracted": 3, "key_contracted": 1}
    coverage = compute(ready("contract_coverage"), tree.township_a, Y)
    assert (coverage.numerator, coverage.denominator, coverage.value) == (3, 4, 75.0)
    assert (coverage.target, coverage.met) == (60.0, True)
    key = compute(ready("key_population_contract_coverage"), tree.township_a, Y)
    assert (key.numerator, key.denominator, key.value, key.met) == (1, 1, 100.0, True)
    # Asked once per computation, with the period's first and last day.
    assert calls == [("TA", dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31))] * 2


def test_no_residents_is_not_available(tree, figures):
    coverage = compute(ready("contract_coverage"), tree.township_b, Y)
    assert (coverage.status, coverage.value, coverage.met) == ("no_data", None, None)


def test_until_the_app_is_ready_coverage_is_pending_or_computed(tree):
    """Whatever state the CONTRACTS line is in, coverage is never a made-up number: pending
    while the family-doctor app does not expose its figures, computed once it does."""
    out = compute(get("contract_coverage"), tree.county, Y)
    if catalog.CONTRACTS.pending:
        assert (out.status, out.value) == ("pending", None)
    else:
        assert out.status in ("ok", "no_data")
