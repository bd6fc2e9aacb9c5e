"""Realistic names: weighted common surnames, given names that differ by generation, and
Mongolian names for Mongol residents."""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence

from countycare.demo import data


class Weighted:
    """Draw from weighted items with one random number and a bisect (the generator draws
    millions of times for 300k residents; ``random.choices`` is slower per call)."""

    def __init__(self, items: Sequence[tuple[str, float]]) -> None:
        self.values = [value for value, _weight in items]
        self.cumulative = list(itertools.accumulate(weight for _value, weight in items))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        index = bisect.bisect_right(self.cumulative, rng.random() * self.total)
        return self.values[min(index, len(self.values) - 1)]


_SURNAMES = {
    "01": Weighted(data.HAN_SURNAMES),
    "02": Weighted(data.MONGOL_SURNAMES),
    "03": Weighted(data.HUI_SURNAMES),
    "11": Weighted(data.MANCHU_SURNAMES),
    "31": Weighted(data.DAUR_SURNAMES),
}
MONGOL = "02"
# Share of Mongol residents with a Mongolian name (the rest use a Chinese-style name).
MONGOLIAN_NAME_SHARE = 0.7


def _generation(birth_year: int) -> str:
    if birth_year < 1965:
        return "old"
    if birth_year < 1992:
        return "mid"
    return "young"


def surname(rng: random.Random, ethnicity: str) -> str:
    return _SURNAMES.get(ethnicity, _SURNAMES["01"]).pick(rng)


def given_name(rng: random.Random, sex: str, birth_year: int) -> str:
    pool = (data.GIVEN_MALE if sex == "M" else data.GIVEN_FEMALE)[_generation(birth_year)]
    # One-character given names were common before the 1990s, rarer since.
    single = 0.35 if birth_year < 1992 else 0.12
    if rng.random() < single:
        return rng.choice(pool)
    return rng.choice(pool) + rng.choice(pool)


def mongolian_name(rng: random.Random, sex: str) -> str:
    return rng.choice(data.MONGOL_MALE if sex == "M" else data.MONGOL_FEMALE)


def person_name(
    rng: random.Random,
    *,
    sex: str,
    birth_year: int,
    ethnicity: str,
    family_surname: str | None = None,
) -> tuple[str, str]:
    """A full name and its surname ("" for a Mongolian name, which has none).
    ``family_surname`` (the father's) is used for Chinese-style names so a household looks
    like a family."""
    if ethnicity == MONGOL and rng.random() < MONGOLIAN_NAME_SHARE:
        return mongolian_name(rng, sex), ""
    family = family_surname or surname(rng, ethnicity)
    return family + given_name(rng, sex, birth_year), family
