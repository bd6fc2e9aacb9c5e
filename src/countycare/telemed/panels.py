"""Order panels: how a device app (ECG, imaging, lab …) shows its own view of an exam order
on the Walking Hospital's pages without telemed importing it (architecture: telemed is the hub,
device apps plug in).

An app registers a panel in its ``AppConfig.ready()``::

    from countycare.telemed import panels

    panels.register(panels.Panel(
        name="ecg.viewer", template="ecg/panel.html", context=ecg_panel,
        places=("read", "order", "pdf"), order=10))

``context(request, order, place)`` returns a dict for the template (``order`` and ``place``
are added) or None when the panel has nothing for this order. ``request`` is None when the
place is "pdf" (the signed report rendered by WeasyPrint). Places:

- ``read``: the reader's reading page, above the exam files;
- ``order``: the order page the requesting doctor sees;
- ``pdf``: the signed report's PDF, after the findings (static HTML/SVG, no scripts).

A panel's context function must scope its own queries; the order it gets was already
checked to be visible to the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

PLACES = ("read", "order", "pdf")

PanelContext = Callable[[Any, Any, str], dict[str, Any] | None]


@dataclass(frozen=True)
class Panel:
    name: str
    template: str
    context: PanelContext
    places: tuple[str, ...] = ("read", "order")
    order: int = 100


_registry: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    unknown = set(panel.places) - set(PLACES)
    if unknown:
        raise ValueError(f"unknown panel places: {sorted(unknown)}")
    _registry[panel.name] = panel
    return panel


def unregister(name: str) -> None:
    _registry.pop(name, None)


def render(order, place: str, request=None) -> list[SafeString]:
    """The HTML of every panel that has something for ``order`` at ``place``, in order."""
    out: list[SafeString] = []
    for panel in sorted(_registry.values(), key=lambda p: (p.order, p.name)):
        if place not in panel.places:
            continue
        context = panel.context(request, order, place)
        if context is None:
            continue
        html = render_to_string(
            panel.template, {"order": order, "place": place, **context}, request=request
        )
        out.append(SafeString(html))
    return out
