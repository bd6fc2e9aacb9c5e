"""Compliance of circuits and dispatches with the seeds' rules, over a subtree and a period
(issue 8). Findings are breaches (the rule was not met) or warnings (it will not be met
unless someone acts within ``outreach_near_breach_days``).

The figures at the end (:func:`figures` and the functions it calls) are the selectors the
indicators app reads: plain numbers for a subtree and a period, no rows of people."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.organizations.models import Institution, InstitutionType, Qualification
from countycare.outreach import policy
from countycare.outreach.models import (
    CircuitVisit,
    Dispatch,
    DispatchKind,
    ServicePoint,
    VisitStatus,
)
from countycare.outreach.scheduling import _months, _weeks, functions_needed, is_working_day
from countycare.outreach.services import TOWNSHIP_TYPES

BREACH = "breach"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str  # breach | warning
    subject: str  # a place, a person or an institution
    message: str
    institution_id: int | None = None
    dispatch_id: int | None = None


def _in(root: Institution | None, field: str) -> Q:
    if root is None:
        return Q()
    return Q(**{f"{field}__path__startswith": root.path})


def _clip(start: dt.date, end: dt.date, as_of: dt.date) -> dt.date:
    return min(end, as_of)


# --- circuit visits ----------------------------------------------------------------------------


def _done_visits(root, start, end) -> QuerySet:
    return CircuitVisit.objects.filter(
        _in(root, "place"), status=VisitStatus.DONE, date__gte=start, date__lte=end
    )


def _qualifying(visit: CircuitVisit, min_hours: float, needed: list[str]) -> bool:
    """OUT-04: at least half a day, with every function of the team."""
    if visit.hours + 1e-9 < min_hours:
        return False
    functions = {a.function for a in visit.attendance.all()}
    if "specialist" in functions:
        functions.add("clinical")
    return all(f in functions for f in needed)


def village_circuit_rows(root, start, end, as_of=None) -> list[dict]:
    """OUT-04, per village served by a township circuit and per week of the period: the
    qualifying visits against the weekly minimum."""
    as_of = as_of or timezone.localdate()
    per_week = int(policy.number(policy.VILLAGE_CIRCUIT_VISITS_PER_WEEK, root))
    min_hours = float(policy.number(policy.CIRCUIT_MIN_HOURS, root))
    needed = functions_needed("village_circuit", root)
    if per_week <= 0:
        return []
    visits = (
        CircuitVisit.objects.filter(
            _in(root, "place"), rule="OUT-04", date__gte=start, date__lte=end
        )
        .select_related("place")
        .prefetch_related("attendance")
    )
    by_place: dict[int, list[CircuitVisit]] = defaultdict(list)
    places: dict[int, Institution] = {}
    for visit in visits:
        by_place[visit.place_id].append(visit)
        places[visit.place_id] = visit.place
    rows = []
    for place_id, items in by_place.items():
        for w_start, w_end, monday in _weeks(start, end):
            if w_start > as_of:
                continue
            good = sum(
                1
                for v in items
                if w_start <= v.date <= w_end
                and v.status == VisitStatus.DONE
                and _qualifying(v, min_hours, needed)
            )
            planned = sum(
                1
                for v in items
                if w_start <= v.date <= w_end
                and v.status == VisitStatus.PLANNED
                and v.date >= as_of
            )
            complete = w_end < as_of
            due = min(per_week, _working_days_between(w_start, w_end))  # holiday weeks
            rows.append(
                {
                    "place": places[place_id],
                    "week": f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}",
                    "start": w_start,
                    "end": w_end,
                    "done": good,
                    "planned": planned,
                    "required": due,
                    "met": good >= due,
                    "complete": complete,
                }
            )
    return rows


def elderly_care_rows(root, start, end, as_of=None) -> list[dict]:
    """OUT-03, per elderly-care institution and month: visits done against the minimum."""
    as_of = as_of or timezone.localdate()
    per_month = int(policy.number(policy.ELDERLY_CARE_VISITS_PER_MONTH, root))
    homes = Institution.objects.active().filter(type=InstitutionType.ELDERLY_CARE_INSTITUTION)
    if root is not None:
        homes = homes.filter(path__startswith=root.path)
    done = defaultdict(int)
    for place_id, day in _done_visits(root, start, end).values_list("place_id", "date"):
        done[(place_id, day.year, day.month)] += 1
    rows = []
    for home in homes.order_by("path"):
        for m_start, _m_end, first, last in _months(start, end):
            if m_start > as_of:
                continue
            count = done[(home.pk, first.year, first.month)]
            rows.append(
                {
                    "place": home,
                    "month": f"{first:%Y-%m}",
                    "done": count,
                    "required": per_month,
                    "met": count >= per_month,
                    "complete": last < as_of,
                }
            )
    return rows


def service_point_rows(root, year: int, as_of=None) -> list[dict]:
    """OUT-02, per active circuit service point: visits done in the year and still planned."""
    as_of = as_of or timezone.localdate()
    per_year = int(policy.number(policy.SERVICE_POINT_VISITS_PER_YEAR, root))
    points = ServicePoint.objects.filter(_in(root, "village")).select_related(
        "institution", "village"
    )
    points = points.filter(
        Q(retired_on__isnull=True) | Q(retired_on__gte=dt.date(year, 1, 1)),
        established_on__lte=dt.date(year, 12, 31),
    )
    visits = CircuitVisit.objects.filter(
        place_id__in=[p.institution_id for p in points], date__year=year
    )
    done = defaultdict(int)
    planned = defaultdict(int)
    for place_id, status, day in visits.values_list("place_id", "status", "date"):
        if status == VisitStatus.DONE:
            done[place_id] += 1
        elif status == VisitStatus.PLANNED and day >= as_of:
            planned[place_id] += 1
    rows = []
    for point in points:
        d, p = done[point.institution_id], planned[point.institution_id]
        rows.append(
            {
                "place": point.institution,
                "village": point.village,
                "done": d,
                "planned": p,
                "required": per_year,
                "met": d >= per_year,
                "on_track": d + p >= per_year,
            }
        )
    return rows


# --- dispatch ----------------------------------------------------------------------------------


def _check_in_days(dispatch: Dispatch, start: dt.date, end: dt.date, min_hours: float) -> list:
    return [
        c
        for c in dispatch.check_ins.all()
        if start <= c.date <= end and c.hours + 1e-9 >= min_hours
    ]


def _working_days_between(start: dt.date, end: dt.date) -> int:
    if end < start:
        return 0
    return sum(
        1 for n in range((end - start).days + 1) if is_working_day(start + dt.timedelta(days=n))
    )


def dispatch_findings(dispatch: Dispatch, as_of: dt.date | None = None) -> list[Finding]:
    """Breaches and near-breaches of one dispatch (OUT-05 … OUT-07): days a week, half a
    day a day, continuity (a week without a day on site), 180 days in the year."""
    as_of = as_of or timezone.localdate()
    findings: list[Finding] = []
    name = str(dispatch.staff)
    rule = {
        DispatchKind.VILLAGE: "OUT-05",
        DispatchKind.TOWNSHIP: "OUT-06",
        DispatchKind.LEAD_ATTENDING: "OUT-07",
        DispatchKind.PUBLIC_HEALTH: "OUT-09",
    }[dispatch.kind]
    horizon = int(policy.number(policy.NEAR_BREACH_DAYS, dispatch.to_institution))
    if dispatch.start > as_of:
        return findings
    last = min(dispatch.end, as_of - dt.timedelta(days=1))
    short_weeks = []
    empty_weeks = []
    for w_start, w_end, monday in _weeks(dispatch.start, last):
        if w_end - w_start < dt.timedelta(days=6):
            continue  # partial weeks at the edges are not judged
        days = _check_in_days(dispatch, w_start, w_end, dispatch.min_hours_per_day)
        due = min(dispatch.days_per_week, _working_days_between(w_start, w_end))
        if len(days) < due:
            short_weeks.append((monday, len(days)))
        if not [c for c in dispatch.check_ins.all() if w_start <= c.date <= w_end]:
            empty_weeks.append(monday)
    if short_weeks:
        weeks = ", ".join(
            f"{m.isocalendar().year}-W{m.isocalendar().week:02d} ({n})" for m, n in short_weeks[:6]
        )
        findings.append(
            Finding(
                rule,
                BREACH,
                name,
                _(
                    "%(name)s was on site fewer than %(days)s days (of at least %(hours)s h) in "
                    "%(count)s week(s): %(weeks)s"
                )
                % {
                    "name": name,
                    "days": dispatch.days_per_week,
                    "hours": dispatch.min_hours_per_day,
                    "count": len(short_weeks),
                    "weeks": weeks,
                },
                dispatch.to_institution_id,
                dispatch.pk,
            )
        )
    if empty_weeks and dispatch.kind in (DispatchKind.VILLAGE, DispatchKind.TOWNSHIP):
        findings.append(
            Finding(
                rule,
                BREACH,
                name,
                _("%(name)s's stay was broken: no day on site in %(count)s full week(s).")
                % {"name": name, "count": len(empty_weeks)},
                dispatch.to_institution_id,
                dispatch.pk,
            )
        )
    # The current week: can the rest of it still make the weekly minimum?
    monday = as_of - dt.timedelta(days=as_of.weekday())
    if dispatch.start <= monday and dispatch.end >= monday + dt.timedelta(days=6):
        so_far = len(_check_in_days(dispatch, monday, as_of, dispatch.min_hours_per_day))
        left = _working_days_between(as_of, monday + dt.timedelta(days=4))
        if so_far + left < dispatch.days_per_week:
            findings.append(
                Finding(
                    rule,
                    WARNING,
                    name,
                    _("%(name)s cannot reach %(days)s days on site this week (%(done)s so far).")
                    % {"name": name, "days": dispatch.days_per_week, "done": so_far},
                    dispatch.to_institution_id,
                    dispatch.pk,
                )
            )
    findings.extend(_ended_early(dispatch))
    if dispatch.kind == DispatchKind.LEAD_ATTENDING:
        findings.extend(_attending_days(dispatch, as_of, horizon))
    if dispatch.end >= as_of and dispatch.end <= as_of + dt.timedelta(days=horizon):
        findings.append(
            Finding(
                rule,
                WARNING,
                name,
                _("%(name)s's dispatch ends on %(day)s: plan who follows.")
                % {"name": name, "day": dispatch.end},
                dispatch.to_institution_id,
                dispatch.pk,
            )
        )
    return findings


def _span_days(dispatches, year: int, until: dt.date | None = None) -> int:
    """Calendar days of the year covered by the dispatches' periods (overlaps once), up to
    ``until`` when given."""
    y_start, y_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    if until is not None:
        y_end = min(y_end, until)
    spans = sorted((max(d.start, y_start), min(d.end, y_end)) for d in dispatches)
    days, cursor = 0, y_start
    for s, e in spans:
        s = max(s, cursor)
        if e >= s:
            days += (e - s).days + 1
            cursor = e + dt.timedelta(days=1)
    return days


def _attending_days(dispatch: Dispatch, as_of: dt.date, horizon: int) -> list[Finding]:
    """OUT-07: each attending physician serves ≥ 180 days at the township in the year (the
    dispatch periods of the person in the year; attendance within them is judged weekly)."""
    need = int(policy.number(policy.LEAD_ATTENDING_DAYS_PER_YEAR, dispatch.to_institution))
    year = as_of.year
    mine = list(
        Dispatch.objects.filter(
            staff_id=dispatch.staff_id,
            kind=DispatchKind.LEAD_ATTENDING,
            start__lte=dt.date(year, 12, 31),
            end__gte=dt.date(year, 1, 1),
        ).order_by("start", "pk")
    )
    if not mine or dispatch.pk != mine[-1].pk:
        return []  # judged once per person, on the latest dispatch
    planned = _span_days(mine, year)
    name = str(dispatch.staff)
    if planned >= need:
        return []
    served = _span_days(mine, year, until=as_of - dt.timedelta(days=1))
    ended = [d for d in mine if d.planned_end]
    return [
        Finding(
            "OUT-07",
            BREACH,
            name,
            _(
                "%(name)s's dispatch periods cover %(planned)s days of %(year)s (%(served)s so "
                "far): fewer than %(need)s.%(why)s"
            )
            % {
                "name": name,
                "planned": planned,
                "served": served,
                "year": year,
                "need": need,
                "why": (_(" Ended early: %(reason)s") % {"reason": ended[-1].end_reason})
                if ended
                else "",
            },
            dispatch.to_institution_id,
            dispatch.pk,
        )
    ]


def _ended_early(dispatch: Dispatch) -> list[Finding]:
    """A dispatch ended before its planned end and short of its rule's minimum (OUT-05/06:
    6 continuous months; OUT-07: 180 days)."""
    if not dispatch.planned_end:
        return []
    where = dispatch.to_institution
    days = (dispatch.end - dispatch.start).days + 1
    if dispatch.kind == DispatchKind.VILLAGE:
        rule, months = "OUT-05", int(policy.number(policy.VILLAGE_DISPATCH_MIN_MONTHS, where))
    elif dispatch.kind in (DispatchKind.TOWNSHIP, DispatchKind.LEAD_ATTENDING):
        rule, months = "OUT-06", int(policy.number(policy.TOWNSHIP_DISPATCH_MIN_MONTHS, where))
    else:
        return []
    from countycare.outreach.services import add_months

    if dispatch.end >= add_months(dispatch.start, months) - dt.timedelta(days=1):
        return []
    return [
        Finding(
            rule,
            BREACH,
            str(dispatch.staff),
            _(
                "%(name)s's dispatch to %(place)s ended on %(day)s after %(days)s days, short of "
                "%(months)s continuous months (%(reason)s)."
            )
            % {
                "name": dispatch.staff,
                "place": where,
                "day": dispatch.end,
                "days": days,
                "months": months,
                "reason": dispatch.end_reason,
            },
            where.pk,
            dispatch.pk,
        )
    ]


def township_findings(root, year: int, as_of: dt.date | None = None) -> list[Finding]:
    """OUT-08: every township center has an attending-level lead-hospital physician all year
    (gaps so far are breaches, gaps within the horizon warnings); OUT-09: a public-health
    physician; OUT-07: the lead hospital sends at least 3 attending physicians a year."""
    as_of = as_of or timezone.localdate()
    horizon = int(policy.number(policy.NEAR_BREACH_DAYS, root))
    findings: list[Finding] = []
    townships = Institution.objects.active().filter(type__in=TOWNSHIP_TYPES)
    if root is not None:
        townships = townships.filter(path__startswith=root.path) | townships.filter(
            pk__in=[a.pk for a in root.ancestors()]
        )
    y_start, y_end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    dispatches = list(
        Dispatch.objects.filter(
            kind=DispatchKind.LEAD_ATTENDING, start__lte=y_end, end__gte=y_start
        )
    )
    if int(policy.number(policy.TOWNSHIP_ATTENDING_ALL_YEAR, root)) > 0:
        for township in townships.order_by("path"):
            spans = sorted(
                (max(d.start, y_start), min(d.end, y_end))
                for d in dispatches
                if d.to_institution_id == township.pk
            )
            gaps = _gaps(spans, y_start, y_end)
            past = [(s, e) for s, e in gaps if s < as_of]
            soon = [(s, e) for s, e in gaps if as_of <= s <= as_of + dt.timedelta(days=horizon)]
            if past:
                s, e = past[0]
                findings.append(
                    Finding(
                        "OUT-08",
                        BREACH,
                        township.name,
                        _(
                            "%(place)s had no attending lead-hospital physician from %(start)s to %(end)s%(more)s."
                        )
                        % {
                            "place": township.name,
                            "start": s,
                            "end": min(e, as_of - dt.timedelta(days=1)),
                            "more": _(" and %(n)s more gap(s)") % {"n": len(past) - 1}
                            if len(past) > 1
                            else "",
                        },
                        township.pk,
                    )
                )
            if soon:
                findings.append(
                    Finding(
                        "OUT-08",
                        WARNING,
                        township.name,
                        _(
                            "%(place)s will have no attending lead-hospital physician from %(start)s."
                        )
                        % {"place": township.name, "start": soon[0][0]},
                        township.pk,
                    )
                )
    # OUT-09: a public-health physician at every township center (own staff or from the CDC).
    from countycare.organizations.models import Staff

    for township in townships.filter(type=InstitutionType.TOWNSHIP_HEALTH_CENTER).order_by("path"):
        own = Staff.objects.filter(
            employer=township, qualification=Qualification.PUBLIC_HEALTH_PHYSICIAN, is_active=True
        ).exists()
        sent = Dispatch.objects.filter(
            kind=DispatchKind.PUBLIC_HEALTH,
            to_institution=township,
            start__lte=as_of,
            end__gte=as_of,
        ).exists()
        if not own and not sent:
            findings.append(
                Finding(
                    "OUT-09",
                    BREACH,
                    township.name,
                    _("%(place)s has no public-health physician: dispatch one from the CDC.")
                    % {"place": township.name},
                    township.pk,
                )
            )
    # OUT-07 county-wide: at least 3 attending physicians dispatched for ≥ 180 days this year.
    if root is None or root.type in (InstitutionType.COUNTY, InstitutionType.MEDICAL_COMMUNITY):
        need_people = int(policy.number(policy.LEAD_ATTENDING_PER_YEAR, root))
        need_days = int(policy.number(policy.LEAD_ATTENDING_DAYS_PER_YEAR, root))
        per_person: dict[int, list[Dispatch]] = defaultdict(list)
        for d in dispatches:
            per_person[d.staff_id].append(d)
        enough = sum(1 for mine in per_person.values() if _span_days(mine, year) >= need_days)
        if enough < need_people:
            findings.append(
                Finding(
                    "OUT-07",
                    BREACH if as_of.month >= 7 else WARNING,
                    _("Lead hospital"),
                    _(
                        "%(year)s: %(n)s attending physician(s) dispatched to townships for "
                        "%(days)s days or more; at least %(need)s are required."
                    )
                    % {"year": year, "n": enough, "days": need_days, "need": need_people},
                )
            )
    return findings


def _gaps(spans, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    gaps = []
    cursor = start
    for s, e in spans:
        if s > cursor:
            gaps.append((cursor, s - dt.timedelta(days=1)))
        cursor = max(cursor, e + dt.timedelta(days=1))
    if cursor <= end:
        gaps.append((cursor, end))
    return gaps


def dispatches_in(root, start: dt.date, end: dt.date) -> QuerySet:
    qs = Dispatch.objects.filter(start__lte=end, end__gte=start)
    if root is not None:
        qs = qs.filter(_in(root, "to_institution") | _in(root, "from_institution"))
    return qs.select_related("staff", "to_institution", "from_institution").prefetch_related(
        "check_ins"
    )


def all_findings(root, year: int, as_of: dt.date | None = None) -> list[Finding]:
    """Everything the compliance view lists for a subtree and a year."""
    as_of = as_of or timezone.localdate()
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    findings: list[Finding] = []
    for d in dispatches_in(root, start, end):
        findings.extend(dispatch_findings(d, as_of))
    findings.extend(township_findings(root, year, as_of))
    for row in service_point_rows(root, year, as_of):
        if not row["met"]:
            level = WARNING if row["on_track"] or as_of < dt.date(year, 12, 1) else BREACH
            if not row["on_track"] and as_of >= end - dt.timedelta(days=60):
                level = BREACH
            findings.append(
                Finding(
                    "OUT-02",
                    level,
                    row["place"].name,
                    _("%(place)s: %(done)s of %(need)s visits this year (%(planned)s planned).")
                    % {
                        "place": row["place"].name,
                        "done": row["done"],
                        "need": row["required"],
                        "planned": row["planned"],
                    },
                    row["place"].pk,
                )
            )
    # One finding per place, listing its months / weeks (a page of one line per month is
    # unreadable).
    missing_months: dict[int, list] = defaultdict(list)
    for row in elderly_care_rows(root, start, min(end, as_of), as_of):
        if row["complete"] and not row["met"]:
            missing_months[row["place"].pk].append(row)
    for rows in missing_months.values():
        place = rows[0]["place"]
        findings.append(
            Finding(
                "OUT-03",
                BREACH,
                place.name,
                _("%(place)s: no health visit in %(months)s.")
                % {"place": place.name, "months": ", ".join(r["month"] for r in rows)},
                place.pk,
            )
        )
    short_weeks: dict[int, list] = defaultdict(list)
    for row in village_circuit_rows(root, start, min(end, as_of), as_of):
        if row["complete"] and not row["met"]:
            short_weeks[row["place"].pk].append(row)
    for rows in short_weeks.values():
        place = rows[0]["place"]
        findings.append(
            Finding(
                "OUT-04",
                BREACH,
                place.name,
                _(
                    "%(place)s: %(count)s week(s) with fewer than %(need)s circuit visits of half "
                    "a day with the full team: %(weeks)s"
                )
                % {
                    "place": place.name,
                    "count": len(rows),
                    "need": rows[0]["required"],
                    "weeks": ", ".join(f"{r['week']} ({r['done']})" for r in rows[:12])
                    + (" …" if len(rows) > 12 else ""),
                },
                place.pk,
            )
        )
    order = {BREACH: 0, WARNING: 1}
    return sorted(findings, key=lambda f: (order[f.level], f.rule, f.subject))


# --- figures for the indicators app -------------------------------------------------------------


def _rate(met: int, total: int) -> float | None:
    return None if total == 0 else met / total


def service_point_visit_rate(root, start: dt.date, end: dt.date) -> dict:
    """OUT-02: share of circuit service points visited at least the yearly minimum in the
    year of ``end`` (counted up to ``end``)."""
    rows = service_point_rows(root, end.year, as_of=end + dt.timedelta(days=1))
    met = sum(1 for r in rows if r["met"])
    return {"points": len(rows), "met": met, "rate": _rate(met, len(rows))}


def elderly_care_visit_rate(root, start: dt.date, end: dt.date) -> dict:
    """OUT-03: share of (institution, month) pairs of the period with a health visit."""
    rows = elderly_care_rows(root, start, end, as_of=end + dt.timedelta(days=1))
    met = sum(1 for r in rows if r["met"])
    return {"institution_months": len(rows), "met": met, "rate": _rate(met, len(rows))}


def village_circuit_rate(root, start: dt.date, end: dt.date) -> dict:
    """OUT-04: share of (village, week) pairs meeting the weekly circuit minimum."""
    rows = village_circuit_rows(root, start, end, as_of=end + dt.timedelta(days=1))
    met = sum(1 for r in rows if r["met"])
    return {"village_weeks": len(rows), "met": met, "rate": _rate(met, len(rows))}


def dispatch_attendance_rate(root, start: dt.date, end: dt.date) -> dict:
    """OUT-05/06: share of full dispatched weeks in the period with the days on site due."""
    weeks = met = days = 0
    for d in dispatches_in(root, start, end):
        s, e = max(d.start, start), min(d.end, end)
        days += len(_check_in_days(d, s, e, d.min_hours_per_day))
        for w_start, w_end, _m in _weeks(s, e):
            if (w_end - w_start).days < 6:
                continue
            weeks += 1
            due = min(d.days_per_week, _working_days_between(w_start, w_end))
            if len(_check_in_days(d, w_start, w_end, d.min_hours_per_day)) >= due:
                met += 1
    return {"dispatch_weeks": weeks, "met": met, "rate": _rate(met, weeks), "days_on_site": days}


def circuit_activity(root, start: dt.date, end: dt.date) -> dict:
    """Visits, hours, residents served and services given (OUT-11's summary figures)."""
    visits = list(_done_visits(root, start, end))
    return {
        "visits": len(visits),
        "hours": round(sum(v.hours for v in visits), 1),
        "residents_served": sum(v.residents_served for v in visits),
        "services": sum(len(v.services) for v in visits),
    }


def figures(root: Institution | None, start: dt.date, end: dt.date) -> dict:
    """All outreach compliance figures for a subtree and a period (the indicators app's
    entry point)."""
    return {
        "service_points": service_point_visit_rate(root, start, end),
        "elderly_care": elderly_care_visit_rate(root, start, end),
        "village_circuits": village_circuit_rate(root, start, end),
        "dispatch": dispatch_attendance_rate(root, start, end),
        "activity": circuit_activity(root, start, end),
    }
