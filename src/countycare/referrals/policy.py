"""Policy numbers of two-way referral and appointments (organizations.policy), each with the
requirement it implements. A county overrides them with PolicyValue rows."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

# REF-03 (004 §3(三)5): the lead hospital gives family doctors ≥ 20 % of specialist slots.
RESERVED_SHARE = declare(
    "referral_reserved_slot_share",
    0.2,
    "REF-03",
    _("Share of each specialist clinic session's slots reserved for family doctors"),
)
# REF-03: the seeds set the share, not how long it is held; the community's rule: reserved
# slots nobody took open to every booker this many hours before they start.
RESERVED_CUTOFF_HOURS = declare(
    "referral_reserved_cutoff_hours",
    48,
    "REF-03",
    _("Hours before a reserved slot starts from which anyone may book it"),
    "hours",
)
# STD-05 (002 §3(一)3): the number of common diseases each level recognises and treats.
CATALOG_SIZES = declare(
    "referral_catalog_sizes",
    {"village": 30, "township": 50, "township_basic": 66, "township_recommended": 100},
    "STD-05",
    _("Common diseases each level's catalog should list"),
)
# REF-01/REF-02: how long the receiving side may take to answer before the referral shows as
# overdue on the boards (the community's service commitment; the seeds give no number).
ANSWER_TIMEOUT_HOURS = declare(
    "referral_answer_timeout_hours",
    {"up": {"routine": 48, "urgent": 4, "emergency": 0}, "down": 72, "out": 24},
    "REF-02",
    _("Hours to accept/decline (upward by urgency), to take over (downward), to approve (out)"),
    "hours",
)
# REF-01: an accepted upward referral whose patient has not arrived this long after the
# appointment or admission date shows as overdue (to follow up with the referring doctor).
ARRIVAL_TIMEOUT_HOURS = declare(
    "referral_arrival_timeout_hours",
    24,
    "REF-01",
    _("Hours after the appointment or admission date an accepted patient should have arrived"),
    "hours",
)
# FD-08: follow up within 2 weeks after a referral; the care plan's review date defaults so.
DOWN_REVIEW_DAYS = declare(
    "referral_down_review_days",
    14,
    "FD-08",
    _("Days after discharge to the first review when the care plan names none"),
    "days",
)
# Appointments: how far ahead a session may be published and booked.
BOOKING_HORIZON_DAYS = declare(
    "referral_booking_horizon_days",
    28,
    "REF-04",
    _("Days ahead within which appointments can be booked"),
    "days",
)
# After this many minutes past its start a booked slot may be marked as a no-show.
NO_SHOW_AFTER_MINUTES = declare(
    "referral_no_show_after_minutes",
    30,
    "REF-04",
    _("Minutes after the slot's start from which a booked patient may be marked absent"),
    "minutes",
)
