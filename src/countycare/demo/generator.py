"""The demo county generator, stage one: :func:`build_plan` turns a seed and a resident count
into a :class:`~countycare.demo.plan.DemoPlan` without touching the database. Stage two,
:func:`countycare.demo.loader.load`, writes it.

Each part (institutions, staff, residents) draws from its own random stream derived from the
seed, so the institution tree and staff do not change with the number of residents."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from countycare.demo.institutions import build_institutions
from countycare.demo.plan import DemoPlan, HouseholdPlan, InstitutionPlan, ResidentPlan
from countycare.demo.residents import iter_households
from countycare.demo.staff import StaffingRules, build_staff

DEFAULT_SEED = 2024
DEFAULT_RESIDENTS = 20_000
# Ages, registration dates and tag dates are counted back from a fixed day, not from today,
# so a seed gives the same county whenever it is generated.
DEFAULT_AS_OF = dt.date(2026, 9, 30)


def _stream(seed: int, part: str) -> random.Random:
    # A string seed is hashed with SHA-512 by random.seed: stable across runs and platforms.
    return random.Random(f"countycare-demo:{seed}:{part}")


def build_institutions_for(seed: int) -> list[InstitutionPlan]:
    return build_institutions(_stream(seed, "institutions"))


def build_plan(
    seed: int = DEFAULT_SEED,
    residents: int = DEFAULT_RESIDENTS,
    *,
    as_of: dt.date = DEFAULT_AS_OF,
    rules: StaffingRules | None = None,
) -> DemoPlan:
    """The whole demo county as plain data; equal arguments give an equal plan."""
    institutions = build_institutions_for(seed)
    staff = build_staff(_stream(seed, "staff"), institutions, rules or StaffingRules.defaults())
    households: list[HouseholdPlan] = []
    people: list[ResidentPlan] = []
    for household, members in iter_households(
        _stream(seed, "residents"), institutions, residents, as_of
    ):
        households.append(household)
        people.extend(members)
    return DemoPlan(
        seed=seed,
        as_of=as_of,
        institutions=institutions,
        staff=staff,
        households=households,
        residents=people,
    )


def export_villages_csv(path: str | Path, seed: int = DEFAULT_SEED) -> int:
    """Write ``id,name,lat,lon,population`` for the demo county's villages (the circuit
    service point siting of OUT-01 reads it). ``id`` is the village clinic's official code.
    Returns the number of villages written."""
    villages = [i for i in build_institutions_for(seed) if i.type == "village_clinic"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "lat", "lon", "population"])
        for village in villages:
            writer.writerow(
                [
                    village.code,
                    village.area_name,
                    village.latitude,
                    village.longitude,
                    village.served_population,
                ]
            )
    return len(villages)
