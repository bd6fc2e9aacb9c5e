"""Rows that data migrations write (default critical-value rules, reference ranges, …) and
that must come back after a database flush — ``countycare demo --reset`` and the test
suite's module fixtures flush every table, the migrations' rows included, and without them no
critical value would be raised and no flag computed.

Each app registers its seeding migrations' forward functions from its ``AppConfig.ready``;
:func:`restore` runs them all, in registration order (the apps' order in INSTALLED_APPS). The
migrations stay the one source of the rows; registered functions must be safe to run on
tables that already hold their rows (skip or update what exists)."""

from __future__ import annotations

import importlib

_SEEDS: list[tuple[str, str]] = []


def register(module: str, function: str) -> None:
    """Register ``module.function(apps, schema_editor)`` (a data migration's forward step)."""
    if (module, function) not in _SEEDS:
        _SEEDS.append((module, function))


def registered() -> list[tuple[str, str]]:
    return list(_SEEDS)


def restore() -> None:
    """Write the registered migrations' rows again (after a flush)."""
    from django.apps import apps

    for module, function in _SEEDS:
        getattr(importlib.import_module(module), function)(apps, None)
