"""Policy numbers of outreach: circuit service points, circuit visits, dispatched doctors and
the annual summary, each with the requirement it implements (requirements.md, OUT-…).

A county sets its own value with a PolicyValue row (admin). Anshan-style weekly village
circuits (003) and Ordos-style twice-a-year service points (001 §12) are both expressed by
these numbers: a county without one kind sets its number to 0."""

from django.utils.translation import gettext_lazy as _

from countycare.organizations.policy import declare

SERVICE_POINTS_K = declare(
    "outreach_service_points_k",
    50,
    "OUT-01",
    _("Circuit service points to set among the villages"),
)
SERVICE_POINT_VISITS_PER_YEAR = declare(
    "outreach_service_point_visits_per_year",
    2,
    "OUT-02",
    _("Visits by a county team to each circuit service point per year, minimum"),
)
ELDERLY_CARE_VISITS_PER_MONTH = declare(
    "outreach_elderly_care_visits_per_month",
    1,
    "OUT-03",
    _("Health visits to each elderly-care institution per month, minimum"),
)
VILLAGE_CIRCUIT_VISITS_PER_WEEK = declare(
    "outreach_village_circuit_visits_per_week",
    2,
    "OUT-04",
    _("Township circuit visits to each village without a clinic per week, minimum"),
)
CIRCUIT_MIN_HOURS = declare(
    "outreach_circuit_min_hours",
    4,
    "OUT-04",
    _("Length of a circuit visit (half a day), minimum"),
    "hours",
)
CIRCUIT_TEAM_FUNCTIONS = declare(
    "outreach_circuit_team_functions",
    ["clinical", "tcm", "nurse", "public_health", "auxiliary"],
    "OUT-04",
    _("Functions a township circuit team must bring on every visit"),
)
VILLAGE_DISPATCH_DAYS_PER_WEEK = declare(
    "outreach_village_dispatch_days_per_week",
    5,
    "OUT-05",
    _("Days a week a doctor dispatched to a village works there, minimum"),
    "days",
)
DISPATCH_MIN_HOURS_PER_DAY = declare(
    "outreach_dispatch_min_hours_per_day",
    4,
    "OUT-05",
    _("Hours a day a dispatched doctor works on site (half a day), minimum"),
    "hours",
)
VILLAGE_DISPATCH_MIN_MONTHS = declare(
    "outreach_village_dispatch_min_months",
    6,
    "OUT-05",
    _("Continuous months a doctor stays dispatched in the same village, minimum"),
    "months",
)
TOWNSHIP_DISPATCH_MIN_TITLE = declare(
    "outreach_township_dispatch_min_title",
    "intermediate",
    "OUT-06",
    _("Title level of county staff dispatched to a township, minimum"),
)
TOWNSHIP_DISPATCH_MIN_MONTHS = declare(
    "outreach_township_dispatch_min_months",
    6,
    "OUT-06",
    _("Months county staff stay dispatched at a township, minimum"),
    "months",
)
LEAD_ATTENDING_PER_YEAR = declare(
    "outreach_lead_attending_per_year",
    3,
    "OUT-07",
    _("Attending-level physicians the lead hospital sends to township centers per year"),
)
LEAD_ATTENDING_DAYS_PER_YEAR = declare(
    "outreach_lead_attending_days_per_year",
    180,
    "OUT-07",
    _("Days each of them serves at the township in the year, minimum"),
    "days",
)
TOWNSHIP_ATTENDING_ALL_YEAR = declare(
    "outreach_township_attending_all_year",
    1,
    "OUT-08",
    _("Attending-level lead-hospital physicians serving each township center all year"),
)
NEAR_BREACH_DAYS = declare(
    "outreach_near_breach_days",
    30,
    "OUT-11",
    _("How far ahead the compliance view warns of a breach"),
    "days",
)
ANNUAL_SUMMARY_DUE = declare(
    "outreach_annual_summary_due",
    "12-01",
    "OUT-11",
    _("Day (MM-DD) by which the year's circuit and dispatch summary goes to the city"),
)


def number(key: str, where=None):
    """The value of ``key`` in force for the county (medical community) that ``where`` — an
    institution of the tree, or None for the first community — belongs to, so two counties on
    one platform each plan and are judged by their own rules."""
    from countycare.organizations import policy as org_policy
    from countycare.organizations.models import InstitutionType

    community = None
    if where is not None:
        community = (
            where.ancestors()
            .filter(type=InstitutionType.MEDICAL_COMMUNITY)
            .values_list("pk", flat=True)
            .last()
        )
    return org_policy.value(key, community)
