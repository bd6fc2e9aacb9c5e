"""Who is asking, from where: set per request by the middleware and read by the audit log."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    path: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("countycare_request", default=None)


def set_current(ctx: RequestContext | None):
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


def current() -> RequestContext:
    return _current.get() or RequestContext()
