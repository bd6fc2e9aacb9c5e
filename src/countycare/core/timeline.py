"""The resident timeline. Each app registers a provider that yields its events for a
resident (the foundation: registration and key-population tags; later apps: visits, orders,
reports, referrals, contracts). Providers receive the viewing user and must scope their own
queries through ``scoped()``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    kind: str  # short machine name, e.g. "registration", "tag", "exam_order"
    title: str
    detail: str = ""
    url: str = ""


Provider = Callable[[object, object], Iterable[TimelineEntry]]
_providers: list[Provider] = []


def register(provider: Provider) -> Provider:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def for_resident(resident, user, *, limit: int = 200) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for provider in _providers:
        entries.extend(provider(resident, user))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
