"""Sections of the resident page that other apps contribute (the family doctor's contract,
follow-ups and trend charts …) without the residents app importing them — as telemed's order
panels do for the order page.

An app registers a section in its ``AppConfig.ready()``::

    from countycare.core import resident_page

    resident_page.register(resident_page.Section(
        name="familydoctor.care", template="familydoctor/resident_section.html",
        context=care_section, order=20))

``context(request, resident)`` returns a dict for the template (``resident`` is added) or None
when the section has nothing to show this user. The resident was already checked to be
visible to the user (and the read audited); the function scopes its own queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

SectionContext = Callable[[Any, Any], dict[str, Any] | None]


@dataclass(frozen=True)
class Section:
    name: str
    template: str
    context: SectionContext
    order: int = 100


_sections: dict[str, Section] = {}


def register(section: Section) -> Section:
    _sections[section.name] = section
    return section


def sections_for(request, resident) -> list[SafeString]:
    """The rendered sections for this user and resident, in order."""
    out: list[SafeString] = []
    for section in sorted(_sections.values(), key=lambda s: (s.order, s.name)):
        context = section.context(request, resident)
        if context is None:
            continue
        html = render_to_string(
            section.template, {"resident": resident, **context}, request=request
        )
        out.append(SafeString(html))
    return out
