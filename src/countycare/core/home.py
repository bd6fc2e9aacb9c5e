"""The home page is a list of widgets that apps register, so a later app (Walking Hospital
worklists, referrals, follow-ups …) adds its card to the home page of the roles it serves
without editing core.

An app declares its widgets in a module named ``home.py``; core imports every installed
app's ``home`` module once (as Django admin does with ``admin.py``)::

    from countycare.core import home

    @home.widget("telemed.worklist", template="telemed/home_worklist.html",
                 perm="countycare.read_exam", order=20)
    def worklist(request):
        return {"orders": ...}   # or None: nothing to show for this user

A widget is shown when the user holds ``perm`` (if given) and its function returns a dict;
the function gets the request and must scope its own queries (``scoped()``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

ContextFunction = Callable[[HttpRequest], dict[str, Any] | None]


@dataclass(frozen=True)
class Widget:
    name: str
    template: str
    context: ContextFunction
    perm: str | None = None
    order: int = 100
    # "full": a row of its own; "half": shares a row with the next half widget (on wide
    # screens; on a tablet in portrait every widget takes the whole width).
    width: str = "half"


@dataclass(frozen=True)
class RenderedWidget:
    name: str
    width: str
    html: SafeString


_registry: dict[str, Widget] = {}
_discovered = False


def register(widget: Widget) -> Widget:
    """Add (or replace, by name) a widget."""
    _registry[widget.name] = widget
    return widget


def unregister(name: str) -> None:
    _registry.pop(name, None)


def widget(
    name: str, *, template: str, perm: str | None = None, order: int = 100, width: str = "half"
) -> Callable[[ContextFunction], ContextFunction]:
    """Decorator form of :func:`register` for a widget's context function."""

    def decorate(func: ContextFunction) -> ContextFunction:
        register(
            Widget(name=name, template=template, context=func, perm=perm, order=order, width=width)
        )
        return func

    return decorate


def discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("home")
        _discovered = True


def registered() -> list[Widget]:
    discover()
    return sorted(_registry.values(), key=lambda w: (w.order, w.name))


def widgets_for(request: HttpRequest) -> list[RenderedWidget]:
    """The widgets of ``request.user``'s home page, rendered, in order."""
    out: list[RenderedWidget] = []
    for item in registered():
        if item.perm and not request.user.has_perm(item.perm):
            continue
        context = item.context(request)
        if context is None:
            continue
        html = render_to_string(item.template, {"widget": item, **context}, request=request)
        out.append(RenderedWidget(name=item.name, width=item.width, html=SafeString(html)))
    return out


# --- Main navigation ------------------------------------------------------------------------
# The links across the top of every page are declared the same way, in the same ``home.py``
# modules, so an app adds its own entry without editing the base template::
#
#     home.nav_item("referrals.board", url="referrals:board", label=_("Referrals"),
#                   perm="countycare.refer", order=40, active=("referrals:",))
#
# ``active``: view names (or namespace prefixes ending in ":") that highlight the link.


@dataclass(frozen=True)
class NavItem:
    name: str
    url: str
    label: Any  # a lazy translation
    perm: str | None = None
    order: int = 100
    active: tuple[str, ...] = ()
    staff_only: bool = False


@dataclass(frozen=True)
class RenderedNavItem:
    href: str
    label: str
    current: bool


_nav: dict[str, NavItem] = {}


def nav_item(
    name: str,
    *,
    url: str,
    label: Any,
    perm: str | None = None,
    order: int = 100,
    active: tuple[str, ...] = (),
    staff_only: bool = False,
) -> NavItem:
    item = NavItem(name, url, label, perm, order, active or (url,), staff_only)
    _nav[name] = item
    return item


def nav_for(request: HttpRequest) -> list[RenderedNavItem]:
    """The main-navigation links ``request.user`` may follow, in order."""
    from django.urls import reverse

    discover()
    user = request.user
    if not user.is_authenticated:
        return []
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else ""
    out: list[RenderedNavItem] = []
    for item in sorted(_nav.values(), key=lambda i: (i.order, i.name)):
        if item.staff_only and not user.is_staff:
            continue
        if item.perm and not user.has_perm(item.perm):
            continue
        current = any(
            view_name.startswith(a) if a.endswith(":") else view_name == a for a in item.active
        )
        out.append(RenderedNavItem(reverse(item.url), str(item.label), current))
    return out


# --- Core's own widgets and links ----------------------------------------------------------------------


@widget("core.audit", template="core/home_audit.html", perm="countycare.view_audit", order=80)
def _audit(request: HttpRequest) -> dict[str, Any]:
    from countycare.core.api_views import audit_entries_for  # the one visibility rule

    today = timezone.localdate()
    start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    entries = audit_entries_for(request.user).filter(at__gte=start)
    return {
        "today_total": entries.count(),
        "today_reads": entries.filter(action="read").count(),
    }


@widget("core.admin", template="core/home_admin.html", order=90)
def _admin(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not (user.is_active and user.is_staff):
        return None
    return {"is_superuser": user.is_superuser}


nav_item("core.home", url="home", label=_("Home"), order=0)
nav_item(
    "core.audit", url="audit-log", label=_("Audit log"), perm="countycare.view_audit", order=90
)
nav_item("core.admin", url="admin:index", label=_("Administration"), order=99, staff_only=True,
         active=("admin:",))  # fmt: skip
