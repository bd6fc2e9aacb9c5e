"""``{% current_institution %}``: the institution shown in the top bar (the user's first role
in force, else the employer)."""

from __future__ import annotations

from django import template

from countycare.organizations.models import Institution
from countycare.organizations.selectors import primary_institution

register = template.Library()


@register.simple_tag(takes_context=True)
def current_institution(context) -> Institution | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    cached = getattr(request, "_countycare_current_institution", False)
    if cached is False:
        cached = primary_institution(user)
        request._countycare_current_institution = cached
    return cached
