"""Demo-county steps contributed by the domain apps.

After the county itself (institutions, staff, residents) and the Walking Hospital week, the
demo runs every step that an app declares in a module named ``demo_seed.py`` (discovered like
``admin.py``), so a new app seeds its own demo data without editing the demo command::

    from countycare.demo.steps import step

    @step("referrals", order=30)
    def seed_referrals(seed: int, *, traffic: bool) -> str:
        ...            # create the catalogs; with traffic, a month of referrals
        return "12 disease catalogs, 340 referrals"   # printed after the step's name

``seed`` is the demo's random seed (same seed, same county); ``traffic`` is False under
``--no-traffic`` (master data only: catalogs, teams, schedules — no activity).
A step runs in one transaction and must be deterministic for a given seed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils.module_loading import autodiscover_modules

StepFunction = Callable[..., str]


@dataclass(frozen=True)
class Step:
    name: str
    func: StepFunction
    order: int = 100


_steps: dict[str, Step] = {}


def step(name: str, *, order: int = 100) -> Callable[[StepFunction], StepFunction]:
    def decorate(func: StepFunction) -> StepFunction:
        _steps[name] = Step(name, func, order)
        return func

    return decorate


def registered() -> list[Step]:
    autodiscover_modules("demo_seed")
    return sorted(_steps.values(), key=lambda s: (s.order, s.name))


def run_all(seed: int, *, traffic: bool, write: Callable[[str], None]) -> None:
    for item in registered():
        started = time.perf_counter()
        with transaction.atomic():
            summary = item.func(seed, traffic=traffic)
        write(f"  {item.name}: {summary} ({time.perf_counter() - started:.1f} s)")
