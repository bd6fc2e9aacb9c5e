"""Home-page widgets of the organizations app (core.home): who is logged in, in which roles
at which institutions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from countycare.core import home


@home.widget("organizations.greeting", template="organizations/home_greeting.html", order=0,
             width="full")  # fmt: skip
def greeting(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    assignments = (
        user.roles.active()
        .filter(institution__is_active=True)
        .select_related("institution")
        .order_by("institution__path", "role")
    )
    return {
        "display_name": user.get_full_name(),
        "assignments": [
            {"role": a.get_role_display(), "institution": a.institution.name} for a in assignments
        ],
    }
