"""Circuit schedules that meet the rules (issue 8): a team's visits for a period, placed on
working days when the team can field a full crew, each day's stops chosen and ordered to
shorten the drive, and every requirement that cannot be met named with its reason.

Rules by team kind (policy numbers, per county):

* ``village_circuit`` — OUT-04: each village ≥ ``outreach_village_circuit_visits_per_week``
  visits a week, half a day each, with every function of ``outreach_circuit_team_functions``;
* ``service_point`` — OUT-02: each circuit service point ≥
  ``outreach_service_point_visits_per_year`` visits a year (spread over the year);
* ``elderly_care`` — OUT-03: each elderly-care institution ≥
  ``outreach_elderly_care_visits_per_month`` visits a month.

A visit takes a half-day session (morning or afternoon), so a crew makes at most two stops
a day; a team fields as many crews a day as it has vehicles and full sets of functions among
the members who are there — not on leave, not dispatched to another institution that day,
not booked on another team's circuit. Requirements are filled earliest deadline first; a
day's second stop is the one that adds the least driving among those not yet due; then the
day's stops are shared among the crews for the least total driving (exact, over the day's
few stops) and each crew's stops ordered nearest first. Each planned visit names its crew
(``planned_staff``), so one person is never in two places."""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from countycare.core.errors import PermissionDenied, ValidationError
from countycare.organizations.models import Institution, InstitutionType
from countycare.organizations.roles import Perm
from countycare.outreach import policy
from countycare.outreach.models import (
    Absence,
    CircuitSchedule,
    CircuitTeam,
    CircuitVisit,
    MemberFunction,
    ServicePoint,
    Session,
    TeamKind,
    VisitStatus,
)

RULE_OF_KIND = {
    TeamKind.VILLAGE_CIRCUIT: "OUT-04",
    TeamKind.SERVICE_POINT: "OUT-02",
    TeamKind.ELDERLY_CARE: "OUT-03",
}
SESSIONS = (Session.MORNING, Session.AFTERNOON)
MAX_PERIOD_DAYS = 366
WEEKDAY_NAMES = (
    gettext_lazy("Mondays"),
    gettext_lazy("Tuesdays"),
    gettext_lazy("Wednesdays"),
    gettext_lazy("Thursdays"),
    gettext_lazy("Fridays"),
    gettext_lazy("Saturdays"),
    gettext_lazy("Sundays"),
)


CAUSES = {
    "leave": gettext_lazy("on leave"),
    "dispatch": gettext_lazy("dispatched elsewhere"),
    "other_team": gettext_lazy("on another team's circuit"),
    "not_member": gettext_lazy("not a team member then"),
}


def functions_needed(kind: str, where: Institution | None = None) -> list[str]:
    """Functions a crew must bring: the full OUT-04 team for village circuits (the county's
    policy), a physician (clinical or specialist) otherwise."""
    if kind == TeamKind.VILLAGE_CIRCUIT:
        return list(policy.number(policy.CIRCUIT_TEAM_FUNCTIONS, where))
    return [MemberFunction.CLINICAL]


def _satisfies(member_function: str, needed: str) -> bool:
    return member_function == needed or (
        needed == MemberFunction.CLINICAL and member_function == MemberFunction.SPECIALIST
    )


def team_places(team: CircuitTeam) -> list[Institution]:
    """The places a team serves: its list, or by kind within its home's subtree (the
    county's active service points for a county team based at a hospital)."""
    listed = list(team.places.filter(is_active=True).order_by("path"))
    if listed:
        return listed
    home = team.home
    if team.kind == TeamKind.VILLAGE_CIRCUIT:
        qs = Institution.objects.active().subtree(home).filter(type=InstitutionType.VILLAGE)
    elif team.kind == TeamKind.ELDERLY_CARE:
        qs = (
            Institution.objects.active()
            .subtree(home)
            .filter(type=InstitutionType.ELDERLY_CARE_INSTITUTION)
        )
    else:
        points = ServicePoint.objects.filter(retired_on__isnull=True).values("institution_id")
        qs = Institution.objects.active().filter(pk__in=points)
        if home.type not in (
            InstitutionType.GENERAL_HOSPITAL,
            InstitutionType.TCM_HOSPITAL,
            InstitutionType.MONGOLIAN_MEDICINE_HOSPITAL,
            InstitutionType.MCH_HOSPITAL,
            InstitutionType.CDC,
        ):
            qs = qs.subtree(home)
    return list(qs.order_by("path"))


@dataclass
class Window:
    place: Institution
    start: dt.date
    end: dt.date
    required: int
    label: str
    planned: list[dt.date] = field(default_factory=list)
    busy: set[dt.date] = field(default_factory=set)  # days the place already has a visit
    counts_from: dt.date | None = None  # visits done in [counts_from, counts_until] count
    counts_until: dt.date | None = None
    earliest: dt.date | None = None  # not before (spreads a year's points over its halves)

    @property
    def remaining(self) -> int:
        return self.required - len(self.planned)


def _weeks(start: dt.date, end: dt.date):
    day = start - dt.timedelta(days=start.weekday())
    while day <= end:
        yield max(day, start), min(day + dt.timedelta(days=6), end), day
        day += dt.timedelta(days=7)


def _months(start: dt.date, end: dt.date):
    day = start.replace(day=1)
    while day <= end:
        last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        yield max(day, start), min(last, end), day, last
        day = last + dt.timedelta(days=1)


def is_working_day(day: dt.date) -> bool:
    """A working day in China: statutory holidays off, adjusted weekend working days on
    (chinese-calendar's State Council tables); Monday to Friday for years it has no table."""
    import chinese_calendar

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def _working_days(start: dt.date, end: dt.date) -> int:
    return sum(
        1 for n in range((end - start).days + 1) if is_working_day(start + dt.timedelta(days=n))
    )


def build_windows(
    team: CircuitTeam, places: list[Institution], start: dt.date, end: dt.date
) -> list[Window]:
    """What each place needs in the period, less the visits already done or kept."""
    kept = defaultdict(list)
    for visit in CircuitVisit.objects.filter(team=team).exclude(
        status__in=[VisitStatus.CANCELLED, VisitStatus.MISSED]
    ):
        if visit.status == VisitStatus.DONE or not (start <= visit.date <= end):
            kept[visit.place_id].append(visit.date)
    windows: list[Window] = []
    if team.kind == TeamKind.VILLAGE_CIRCUIT:
        per_week = int(policy.number(policy.VILLAGE_CIRCUIT_VISITS_PER_WEEK, team.home))
        for place in places:
            for w_start, w_end, monday in _weeks(start, end):
                need = min(per_week, _working_days(w_start, w_end))
                iso = monday.isocalendar()
                windows.append(Window(place, w_start, w_end, need, f"{iso.year}-W{iso.week:02d}"))
    elif team.kind == TeamKind.ELDERLY_CARE:
        per_month = int(policy.number(policy.ELDERLY_CARE_VISITS_PER_MONTH, team.home))
        for place in places:
            for m_start, m_end, first, last in _months(start, end):
                # A month mostly outside the period belongs to the neighbouring schedule.
                inside = (m_end - m_start).days + 1
                need = per_month if inside * 2 >= (last - first).days + 1 else 0
                windows.append(Window(place, m_start, m_end, need, f"{first:%Y-%m}"))
    else:
        # OUT-02: the year's visits spread over equal parts of the year (2 a year: one each
        # half), each part due when at least half of it lies in the period.
        per_year = int(policy.number(policy.SERVICE_POINT_VISITS_PER_YEAR, team.home))
        for place in places:
            for year in range(start.year, end.year + 1):
                for part in range(per_year):
                    p_start = dt.date(year, 1 + 12 * part // per_year, 1)
                    next_month = 1 + 12 * (part + 1) // per_year
                    p_end = (
                        dt.date(year, next_month, 1) - dt.timedelta(days=1)
                        if next_month <= 12
                        else dt.date(year, 12, 31)
                    )
                    w_start, w_end = max(start, p_start), min(end, p_end)
                    if w_end < w_start:
                        continue
                    inside = (w_end - w_start).days + 1
                    need = 1 if inside * 2 >= (p_end - p_start).days + 1 else 0
                    windows.append(
                        Window(
                            place,
                            w_start,
                            w_end,
                            need,
                            f"{year} {part + 1}/{per_year}",
                            counts_from=p_start,
                            counts_until=p_end,
                        )
                    )
    if team.kind != TeamKind.VILLAGE_CIRCUIT:
        _spread(windows, places)
    for window in windows:
        low = window.counts_from or window.start
        high = window.counts_until or window.end
        done = [d for d in kept.get(window.place.pk, []) if low <= d <= high]
        window.required = max(0, window.required - len(done))
        window.busy = set(kept.get(window.place.pk, []))
    return [w for w in windows if w.required > 0]


def _spread(windows: list[Window], places: list[Institution]) -> None:
    """Stagger the places' windows (service points over each half-year, elderly-care
    institutions over each month) so that the visits spread out instead of all falling in
    the first weeks; neighbours in the tree get neighbouring dates, so a day's two stops stay
    close. The last fifth of each window is left free for catching up."""
    rank = {p.pk: i for i, p in enumerate(places)}
    n = max(1, len(places))
    for w in windows:
        span = (w.end - w.start).days
        offset = int(rank.get(w.place.pk, 0) * span * 0.8 / n)
        w.earliest = w.start + dt.timedelta(days=offset)


def _km(a: Institution, b: Institution) -> float:
    if a.latitude is None or b.latitude is None:
        return 0.0
    lat1, lon1, lat2, lon2 = map(
        math.radians, (float(a.latitude), float(a.longitude), float(b.latitude), float(b.longitude))
    )
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(min(1.0, h)))


def _route(home: Institution, stops: list[Institution]) -> tuple[list[Institution], float]:
    """Order a crew's stops nearest-first from home, with the round trip km (exact for the
    one or two half-day stops a crew makes in a day)."""
    order: list[Institution] = []
    left = list(stops)
    here = home
    while left:
        nxt = min(left, key=lambda p: _km(here, p))
        order.append(nxt)
        left.remove(nxt)
        here = nxt
    km = 0.0
    here = home
    for stop in [*order, home]:
        km += _km(here, stop)
        here = stop
    return order, km


def split_day(
    home: Institution, stops: list[Institution], crews: int, per_crew: int = len(SESSIONS)
) -> tuple[list[list[Institution]], float]:
    """The day's stops shared among at most ``crews`` vehicles, at most ``per_crew`` each,
    so that the day's total round-trip driving is least — exact (dynamic programming over
    subsets of the day's stops, a handful at most), then each crew's stops ordered."""
    n = len(stops)
    if n == 0:
        return [], 0.0
    if n > 12:  # not a day's work for a team; keep the order given
        groups = [stops[i : i + per_crew] for i in range(0, n, per_crew)]
        routes = [_route(home, g) for g in groups]
        return [r[0] for r in routes], sum(r[1] for r in routes)
    full = (1 << n) - 1
    group_cost: dict[int, tuple[list[Institution], float]] = {}
    for mask in range(1, full + 1):
        members = [stops[i] for i in range(n) if mask >> i & 1]
        if len(members) <= per_crew:
            group_cost[mask] = _route(home, members)
    # best[mask][g]: least km covering ``mask`` with g crews.
    inf = float("inf")
    best = {0: (0.0, [])}
    for _g in range(crews):
        nxt = dict(best)
        for mask, (km, groups) in best.items():
            rest = full & ~mask
            low = rest & -rest  # the lowest stop not yet covered goes in the next crew
            sub = rest
            while sub:
                if sub & low and sub in group_cost:
                    total = km + group_cost[sub][1]
                    merged = mask | sub
                    if total < nxt.get(merged, (inf, None))[0] - 1e-9:
                        nxt[merged] = (total, [*groups, group_cost[sub][0]])
                sub = (sub - 1) & rest
        best = nxt
    if full not in best:  # more stops than crews can take (not produced by plan())
        groups = [stops[i : i + per_crew] for i in range(0, n, per_crew)]
        routes = [_route(home, g) for g in groups]
        return [r[0] for r in routes], sum(r[1] for r in routes)
    km, groups = best[full]
    return groups, km


@dataclass
class Plan:
    # day, crew, stop, place, session, planned staff ids
    visits: list[tuple[dt.date, int, int, Institution, str, list[int]]]
    problems: list[dict]
    drive_km: float


def _busy_days(team: CircuitTeam, members, start: dt.date, end: dt.date) -> dict:
    """Days each member is taken elsewhere: another team's circuit visit (planned crew or
    recorded attendance) or a dispatch to another institution on its working days."""
    from countycare.outreach.models import Dispatch, VisitAttendance

    ids = {m.staff_id for m in members}
    busy: dict[int, dict[dt.date, str]] = defaultdict(dict)
    others = (
        CircuitVisit.objects.filter(date__gte=start, date__lte=end)
        .exclude(team=team)
        .exclude(status__in=[VisitStatus.CANCELLED, VisitStatus.MISSED])
    )
    for day, crew in others.filter(status=VisitStatus.PLANNED).values_list("date", "planned_staff"):
        for staff_id in crew or []:
            if staff_id in ids:
                busy[staff_id][day] = "other_team"
    for staff_id, day in VisitAttendance.objects.filter(
        visit__in=others.filter(status=VisitStatus.DONE), staff_id__in=ids
    ).values_list("staff_id", "visit__date"):
        busy[staff_id][day] = "other_team"
    for d in Dispatch.objects.filter(staff_id__in=ids, start__lte=end, end__gte=start).exclude(
        to_institution=team.home
    ):
        day = max(d.start, start)
        while day <= min(d.end, end):
            if day.weekday() < d.days_per_week:
                busy[d.staff_id].setdefault(day, "dispatch")
            day += dt.timedelta(days=1)
    return busy


def plan(team: CircuitTeam, start: dt.date, end: dt.date) -> Plan:
    """The schedule as data (no writes): see the module docstring."""
    places = team_places(team)
    rule = RULE_OF_KIND[team.kind]
    problems: list[dict] = []
    if not places:
        problems.append({"rule": rule, "code": "no_places"})
        return Plan([], problems, 0.0)
    windows = build_windows(team, places, start, end)
    needed = functions_needed(team.kind, team.home)
    members = list(team.members.select_related("staff").order_by("function", "staff_id"))
    absences = defaultdict(list)
    for absence in Absence.objects.filter(
        staff_id__in=[m.staff_id for m in members], start__lte=end, end__gte=start
    ):
        absences[absence.staff_id].append(absence)
    busy = _busy_days(team, members, start, end)
    for function in needed:
        if not any(_satisfies(m.function, function) for m in members):
            problems.append({"rule": rule, "code": "no_function", "function": function})
    missing_days: dict[str, list[tuple[dt.date, set]]] = defaultdict(list)
    crews_on: dict[dt.date, list[list[int]]] = {}
    day = start
    while day <= end:
        if is_working_day(day):
            present = []
            causes: dict[int, str] = {}
            for m in members:
                if not (m.valid_from <= day and (m.valid_until is None or m.valid_until >= day)):
                    causes[m.pk] = "not_member"
                elif any(a.covers(day) for a in absences[m.staff_id]):
                    causes[m.pk] = "leave"
                elif day in busy.get(m.staff_id, {}):
                    causes[m.pk] = busy[m.staff_id][day]
                else:
                    present.append(m)
            crews = team.vehicles
            for function in needed:
                count = sum(1 for m in present if _satisfies(m.function, function))
                if count == 0:
                    why = {causes[m.pk] for m in members if _satisfies(m.function, function)}
                    missing_days[function].append((day, why))
                crews = min(crews, count)
            crews_on[day] = _crews(present, needed, max(crews, 0))
        day += dt.timedelta(days=1)

    visits: list[tuple[dt.date, int, int, Institution, str, list[int]]] = []
    drive = 0.0
    last_visit: dict[int, dt.date] = {}
    days = sorted(crews_on)
    for index, day in enumerate(days):
        crews = len(crews_on[day])
        if crews <= 0:
            continue
        open_windows = [
            w for w in windows if w.remaining > 0 and (w.earliest or w.start) <= day <= w.end
        ]
        if not open_windows:
            continue

        # Slots left for a window after today decide how urgent it is.
        def slack(w: Window, day=day, index=index) -> int:
            later = sum(1 for d in days[index + 1 :] if d <= w.end and crews_on[d])
            return later - w.remaining

        taken: set[int] = set()
        chosen: list[Window] = []
        for _crew in range(crews):
            stops: list[Window] = []
            for _slot in SESSIONS:
                candidates = [
                    w
                    for w in open_windows
                    if w.remaining > 0 and w.place.pk not in taken and day not in w.busy
                ]
                if not candidates:
                    break
                anchor = stops[-1].place if stops else team.home

                def key(w: Window, anchor=anchor, day=day) -> tuple:
                    yesterday = last_visit.get(w.place.pk) == day - dt.timedelta(days=1)
                    return (min(slack(w), 1), yesterday, w.end, _km(anchor, w.place))

                best = min(candidates, key=key)
                stops.append(best)
                taken.add(best.place.pk)
                best.planned.append(day)
                last_visit[best.place.pk] = day
            if not stops:
                break
            chosen.extend(stops)
        # Share the day's stops among the crews for the least driving, then order them.
        groups, km = split_day(team.home, [w.place for w in chosen], crews)
        drive += km
        for crew, group in enumerate(groups, start=1):
            for position, place in enumerate(group, start=1):
                visits.append(
                    (day, crew, position, place, SESSIONS[position - 1], crews_on[day][crew - 1])
                )

    short = [w for w in windows if w.remaining > 0]
    for w in short:
        reasons = []
        for function, missing in missing_days.items():
            in_window = [(d, why) for d, why in missing if w.start <= d <= w.end]
            if in_window:
                weekdays = sorted({d.weekday() for d, _why in in_window})
                why = sorted(set().union(*(c for _d, c in in_window)))
                reasons.append(
                    {
                        "function": function,
                        "weekdays": weekdays,
                        "days": len(in_window),
                        "causes": why,
                    }
                )
        problems.append(
            {
                "rule": rule,
                "code": "unmet",
                "place": w.place.pk,
                "place_name": w.place.name,
                "window": w.label,
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "missing": w.remaining,
                "required": w.required,
                "reasons": reasons,
            }
        )
    return Plan(visits, problems, round(drive, 1))


def _crews(present, needed: list[str], count: int) -> list[list[int]]:
    """Who goes in which vehicle: each crew gets one member of every needed function (the
    exact function before a stand-in), the others are shared out in turn."""
    if count <= 0:
        return []
    free = list(present)
    crews: list[list[int]] = [[] for _ in range(count)]
    for crew in crews:
        for function in needed:
            pick = next((m for m in free if m.function == function), None) or next(
                (m for m in free if _satisfies(m.function, function)), None
            )
            if pick is not None:
                crew.append(pick.staff_id)
                free.remove(pick)
    for i, m in enumerate(free):
        crews[i % count].append(m.staff_id)
    return crews


def problem_text(problem: dict) -> str:
    """A problem of a schedule in words (translated when shown)."""
    from countycare.outreach.models import MemberFunction as F

    labels = dict(F.choices)
    if problem.get("code") == "no_places":
        return _("%(rule)s: the team has no places to serve.") % problem
    if problem.get("code") == "no_function":
        return _("%(rule)s: the team has no %(function)s.") % {
            "rule": problem["rule"],
            "function": labels.get(problem["function"], problem["function"]),
        }
    text = _(
        "%(rule)s: %(place)s, %(window)s: %(missing)s of %(required)s visits cannot be placed"
    ) % {
        "rule": problem["rule"],
        "place": problem.get("place_name", ""),
        "window": problem.get("window", ""),
        "missing": problem.get("missing"),
        "required": problem.get("required"),
    }
    parts = []
    for reason in problem.get("reasons", []):
        text_reason = _("no %(function)s available on %(weekdays)s") % {
            "function": labels.get(reason["function"], reason["function"]),
            "weekdays": "、".join(str(WEEKDAY_NAMES[d]) for d in reason["weekdays"]),
        }
        causes = [str(CAUSES[c]) for c in reason.get("causes", []) if c in CAUSES]
        if causes:
            text_reason += _(" (%(causes)s)") % {"causes": "; ".join(causes)}
        parts.append(text_reason)
    if parts:
        return text + " — " + "; ".join(parts)
    return text + " — " + _("not enough crew days in the period")


def generate_schedule(*, actor, team: CircuitTeam, start: dt.date, end: dt.date) -> CircuitSchedule:
    """Plan a team's visits for a period and store them (replacing visits still only planned
    in that period; recorded visits stay and count)."""
    if not actor.has_perm(f"countycare.{Perm.PLAN_OUTREACH}"):
        raise PermissionDenied(_("You are not allowed to plan circuits."))
    if end < start:
        raise ValidationError(_("The end date is before the start date."), field="end")
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise ValidationError(_("Plan at most a year at a time."), field="end")
    return store_schedule(actor=actor, team=team, start=start, end=end)


def store_schedule(*, actor, team: CircuitTeam, start: dt.date, end: dt.date) -> CircuitSchedule:
    """Plan and store without the permission check (the demo and periodic planning)."""
    result = plan(team, start, end)
    with transaction.atomic():
        CircuitTeam.objects.select_for_update().filter(pk=team.pk).first()
        CircuitVisit.objects.filter(
            team=team, date__gte=start, date__lte=end, status=VisitStatus.PLANNED
        ).delete()
        schedule = CircuitSchedule.objects.create(
            team=team,
            start=start,
            end=end,
            problems=result.problems,
            drive_km=result.drive_km,
            created_by=actor,
        )
        taken = set(
            CircuitVisit.objects.filter(team=team, date__gte=start, date__lte=end).values_list(
                "place_id", "date"
            )
        )
        rule = RULE_OF_KIND[team.kind]
        CircuitVisit.objects.bulk_create(
            CircuitVisit(
                schedule=schedule,
                team=team,
                place=place,
                rule=rule,
                date=day,
                session=session,
                crew=crew,
                stop_order=stop,
                planned_staff=staff,
            )
            for day, crew, stop, place, session, staff in result.visits
            if (place.pk, day) not in taken
        )
    return schedule
