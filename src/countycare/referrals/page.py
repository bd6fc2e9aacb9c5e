"""The referrals' section of the resident page (core.resident_page): the resident's open
referrals with what they wait for, the coming appointments, and the way to refer the
resident up, out or down or to book a specialist from the record (REF-01, REF-04)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from countycare.core import resident_page
from countycare.organizations.roles import Perm
from countycare.referrals import selectors
from countycare.referrals.models import AppointmentStatus


def referral_section(request, resident) -> dict[str, Any] | None:
    user = request.user
    can_refer = user.has_perm(f"countycare.{Perm.REFER}")
    can_down = user.has_perm(f"countycare.{Perm.RECEIVE_REFERRAL}")
    referrals = list(
        selectors.referrals_for(user)
        .filter(resident=resident)
        .filter(selectors.OPEN_Q)
        .select_related("appointment__slot")
        .order_by("-requested_at")[:10]
    )
    upcoming = list(
        selectors.appointments_for(user)
        .filter(
            resident=resident,
            status=AppointmentStatus.BOOKED,
            slot__starts_at__gte=timezone.now(),
        )
        .order_by("slot__starts_at")[:5]
    )
    if not (referrals or upcoming or can_refer or can_down) or resident.deceased_on:
        return None
    from countycare.referrals.views import next_step

    for referral in referrals:
        referral.next_text = next_step(referral)
    return {
        "open_referrals": referrals,
        "upcoming": upcoming,
        "can_refer": can_refer,
        "can_down": can_down,
    }


resident_page.register(
    resident_page.Section(
        name="referrals.resident",
        template="referrals/resident_section.html",
        context=referral_section,
        order=30,
    )
)
