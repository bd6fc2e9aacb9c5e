"""Indicator fixtures: a small county with hand-countable figures (tests/factories.py tree)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.indicators import services
from tests.factories import StaffFactory, with_role

YEAR = 2024  # a closed year, whatever today is


def aware(day: dt.date, hour: int = 10) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def csv_bytes(rows: list[tuple]) -> bytes:
    lines = ["institution_code,month,metric,value"] + [",".join(str(c) for c in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def import_rows(community_admin):
    """``import_rows([(code, "2024-03", metric, value), …])`` through the import service."""

    def run(rows):
        return services.import_statistics(
            user=community_admin, file_name="t.csv", content=csv_bytes(rows)
        )

    return run


@pytest.fixture
def village_doctors(tree):
    """Village doctors: A1 two (one licensed), A2 one (licensed), B1 one (certificate)."""
    made = []
    for inst, qualification in (
        (tree.village_a1, "licensed_assistant_physician"),
        (tree.village_a1, "village_doctor_certificate"),
        (tree.village_a2, "licensed_physician"),
        (tree.village_b1, "village_doctor_certificate"),
    ):
        user = StaffFactory(employer=inst, qualification=qualification)
        with_role(user, "village_doctor", inst, valid_from=dt.date(2020, 1, 1))
        made.append(user)
    return made
