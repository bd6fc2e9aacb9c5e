"""Periods: year, half-year, month (KPI-02: half-yearly monitoring, annual assessment)."""

import datetime as dt

import pytest

from countycare.core.errors import ValidationError
from countycare.indicators import periods


def test_forms():
    assert periods.parse("2025") == periods.Period(dt.date(2025, 1, 1), dt.date(2026, 1, 1), "year")
    h2 = periods.parse("2025-H2")
    assert (h2.start, h2.end, h2.code) == (dt.date(2025, 7, 1), dt.date(2026, 1, 1), "2025-H2")
    dec = periods.parse("2025-12")
    assert (dec.start, dec.end, dec.code) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1), "2025-12")
    assert [p.code for p in dec.containing()] == ["2025-12", "2025-H2", "2025"]
    assert len(periods.parse("2025-H1").months()) == 6
    assert periods.parse("2025-01").previous().code == "2024-12"


@pytest.mark.parametrize("bad", ["2025-13", "2025-H3", "25", "2025-6-1", "abc", "2025-00"])
def test_malformed_periods_are_clear_errors(bad):
    with pytest.raises(ValidationError) as caught:
        periods.parse(bad)
    assert caught.value.field == "period"
