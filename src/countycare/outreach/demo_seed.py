"""Outreach in the demo county (issue 8).

Master data (always): the county's current 50 circuit service points (as a county office
would pick them by hand: the most populous villages), a siting run solved over the 138
villages to compare with them, circuit teams — the lead hospital's county team to the
service points (Ordos-style, OUT-02), an Anshan-style weekly circuit of two townships to
their two smallest villages (OUT-04), a health-visit team per township with elderly-care
institutions (OUT-03) — and the year's dispatches (OUT-05 … OUT-09).

With traffic: the year's schedules (from 1 January, at least 60 days back, 30 ahead), the past visits recorded (a
few missed, a few without the nurse or shorter than half a day, as happens) and the
dispatched doctors' check-ins. Everything depends on the seed; dates are counted from today.
"""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.demo.steps import step
from countycare.organizations.models import Institution, InstitutionType, Staff
from countycare.outreach import scheduling, siting_services
from countycare.outreach.models import (
    CircuitTeam,
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    DispatchKind,
    ServicePoint,
    SitingRun,
    TeamMember,
    VisitAttendance,
    VisitStatus,
)

FUNCTION_OF_CATEGORY = {
    "clinical": "clinical",
    "tcm": "tcm",
    "mongolian_medicine": "tcm",
    "nursing": "nurse",
    "public_health": "public_health",
}
SERVICES = [
    "血压测量",
    "血糖检测",
    "心电图",
    "B超",
    "健康咨询",
    "中医体质辨识",
    "用药指导",
    "慢病随访",
]
CIRCUIT_TOWNS = ("T03", "T04")  # 札萨克镇 (the demo logins' township) and one more


def _rng(seed: int) -> random.Random:
    return random.Random(f"countycare-demo:{seed}:outreach")  # noqa: S311 — demo data


def _aware(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _staff_at(institution: Institution) -> list[Staff]:
    return list(Staff.objects.filter(employer=institution, is_active=True).order_by("username"))


def _team(name, kind, home, members, *, places=(), vehicles=1) -> CircuitTeam:
    team = CircuitTeam.objects.create(name=name, kind=kind, home=home, vehicles=vehicles)
    if places:
        team.places.set(places)
    since = dt.date(timezone.localdate().year - 1, 1, 1)
    TeamMember.objects.bulk_create(
        TeamMember(team=team, staff=s, function=f, valid_from=since) for s, f in members
    )
    return team


def _township_crew(staff: list[Staff], prefer: dict[str, str]) -> list[tuple[Staff, str]]:
    """One member per OUT-04 function from a township's staff (demo logins first)."""
    by_user = {s.username: s for s in staff}
    crew: dict[str, Staff] = {}
    for username, function in prefer.items():
        if username in by_user:
            crew[function] = by_user[username]
    used = {s.pk for s in crew.values()}
    for s in staff:
        function = FUNCTION_OF_CATEGORY.get(s.practice_category)
        if function and function not in crew and s.pk not in used:
            crew[function] = s
            used.add(s.pk)
    for s in staff:
        if (
            "auxiliary" not in crew
            and s.pk not in used
            and s.practice_category
            in (
                "pharmacy",
                "medical_technology",
                "",
            )
        ):
            crew["auxiliary"] = s
            used.add(s.pk)
    return [(s, f) for f, s in crew.items()]


@step("outreach", order=40)
def seed_outreach(seed: int, *, traffic: bool) -> str:
    rng = _rng(seed)
    today = timezone.localdate()
    community = siting_services.community_of()
    if community is None:
        return _("no medical community")
    villages = list(
        Institution.objects.filter(type=InstitutionType.VILLAGE_CLINIC, is_active=True)
        .exclude(latitude=None)
        .order_by("code")
    )
    # The points in force: the 50 most populous villages (a by-hand choice to compare with).
    established = dt.date(today.year - 1, 3, 1)
    current = sorted(villages, key=lambda v: (-v.served_population, v.code))[:50]
    for village in current:
        town = village.parent
        inst = Institution.objects.create(
            code=f"{village.code}-CSP",
            name=f"{village.area_name}巡回医疗服务点",
            short_name=f"{village.area_name}服务点",
            area_name=village.area_name,
            type=InstitutionType.CIRCUIT_SERVICE_POINT,
            parent=town,
            latitude=village.latitude,
            longitude=village.longitude,
            served_population=village.served_population,
        )
        ServicePoint.objects.create(institution=inst, village=village, established_on=established)
    admin = Staff.objects.filter(username="community_admin").first()
    run = SitingRun.objects.create(
        community=community,
        k=50,
        objective="median",
        time_limit=30,
        villages=[v.__dict__ for v in siting_services.tree_villages(community)],
        created_by=admin,
    )
    run = siting_services.execute_run(run)

    # Teams.
    lead = Institution.objects.filter(is_lead_hospital=True).first()
    lead_staff = [s for s in _staff_at(lead) if s.practice_category == "clinical"]
    specialist = Staff.objects.filter(username="specialist").first()
    county_members = ([(specialist, "specialist")] if specialist else []) + [
        (s, "specialist") for s in lead_staff[:5] if s != specialist
    ]
    teams = [_team("旗人民医院巡回医疗队", "service_point", lead, county_members, vehicles=2)]
    towns = {
        t.code.rsplit("-", 1)[-1]: t
        for t in Institution.objects.filter(type=InstitutionType.TOWNSHIP_HEALTH_CENTER)
    }
    for key in CIRCUIT_TOWNS:
        town = towns.get(key)
        if town is None:
            continue
        small = sorted(
            (v for v in villages if v.parent_id == town.pk),
            key=lambda v: (v.served_population, v.code),
        )[:2]
        prefer = {"township_doctor": "clinical", "nurse": "nurse"} if key == "T03" else {}
        crew = _township_crew(_staff_at(town), prefer)
        teams.append(_team(f"{town.area_name}巡诊队", "village_circuit", town, crew, places=small))
    for town in towns.values():
        homes = Institution.objects.filter(
            parent=town, type=InstitutionType.ELDERLY_CARE_INSTITUTION
        )
        if not homes.exists():
            continue
        staff = _staff_at(town)
        doctor = next((s for s in staff if s.practice_category == "clinical"), None)
        nurse = next((s for s in staff if s.practice_category == "nursing"), None)
        members = [(m, f) for m, f in ((doctor, "clinical"), (nurse, "nurse")) if m]
        if members:
            teams.append(_team(f"{town.area_name}养老机构健康巡访", "elderly_care", town, members))

    # Dispatches of the year (OUT-05 … OUT-09).
    year_start = dt.date(today.year, 1, 1)
    attending = [
        s for s in _staff_at(lead) if s.title_level in ("intermediate", "associate_senior", "senior")
        and s.practice_category == "clinical" and s != specialist
    ]  # fmt: skip
    dispatches = []
    town_list = sorted(towns.values(), key=lambda t: t.code)
    for i, town in enumerate(town_list[: min(len(town_list), len(attending))]):
        start = year_start + dt.timedelta(days=7 * (i % 3))  # some start late: OUT-08 gaps
        dispatches.append(
            Dispatch(
                staff=attending[i],
                kind=DispatchKind.LEAD_ATTENDING,
                from_institution=lead,
                to_institution=town,
                start=start,
                end=dt.date(today.year, 12, 31),
                created_by=admin,
            )
        )
    cdc = Institution.objects.filter(type=InstitutionType.CDC).first()
    cdc_staff = [s for s in _staff_at(cdc) if s.practice_category == "public_health"] if cdc else []
    if cdc_staff and town_list:
        dispatches.append(
            Dispatch(
                staff=cdc_staff[0],
                kind=DispatchKind.PUBLIC_HEALTH,
                from_institution=cdc,
                to_institution=town_list[-1],
                start=year_start,
                end=dt.date(today.year, 12, 31),
                created_by=admin,
            )
        )
    village_doctor_town = towns.get("T03")
    if village_doctor_town:
        staff = [s for s in _staff_at(village_doctor_town) if s.practice_category == "clinical"]
        target = next((v for v in villages if v.parent_id == village_doctor_town.pk), None)
        if staff and target:
            dispatches.append(
                Dispatch(
                    staff=staff[-1],
                    kind=DispatchKind.VILLAGE,
                    from_institution=village_doctor_town,
                    to_institution=target,
                    start=today - dt.timedelta(days=90),
                    end=today - dt.timedelta(days=90) + dt.timedelta(days=200),
                    created_by=admin,
                )
            )
    Dispatch.objects.bulk_create(dispatches)
    summary = _(
        "%(points)s circuit service points, siting run #%(run)s (%(status)s, %(seconds)s s), "
        "%(teams)s teams, %(dispatches)s dispatches"
    ) % {
        "points": len(current),
        "run": run.pk,
        "status": run.get_status_display(),
        "seconds": f"{run.seconds or 0:.2f}",
        "teams": len(teams),
        "dispatches": len(dispatches),
    }
    if not traffic:
        return summary

    # The year so far (at least 60 days) and 30 days ahead, past visits recorded.
    start = min(dt.date(today.year, 1, 1), today - dt.timedelta(days=60))
    end = today + dt.timedelta(days=30)
    for team in teams:
        scheduling.store_schedule(actor=admin, team=team, start=start, end=end)
    attendance = []
    done = missed = 0
    members_of = {
        t.pk: list(TeamMember.objects.filter(team=t).values_list("staff_id", "function"))
        for t in teams
    }
    past = list(CircuitVisit.objects.filter(date__lt=today).order_by("pk"))
    for visit in past:
        roll = rng.random()
        if roll < 0.05:
            visit.status = VisitStatus.MISSED
            visit.note = "车辆故障"
            missed += 1
            continue
        hour = 8 if visit.session == "am" else 13
        arrive = _aware(visit.date, hour, rng.randrange(0, 50))
        hours = 2.5 if roll < 0.08 else rng.uniform(4.0, 4.8)
        visit.arrived_at = arrive
        visit.left_at = arrive + dt.timedelta(hours=hours)
        visit.status = VisitStatus.DONE
        visit.residents_served = rng.randrange(6, 40)
        visit.services = rng.sample(SERVICES, rng.randrange(2, 5))
        visit.recorded_by_id = members_of[visit.team_id][0][0]
        visit.recorded_at = visit.left_at
        crew = set(visit.planned_staff or [])
        present = [m for m in members_of[visit.team_id] if m[0] in crew] or members_of[
            visit.team_id
        ]
        if rng.random() < 0.06:
            present = [m for m in present if m[1] != "nurse"] or present
        attendance.extend(VisitAttendance(visit=visit, staff_id=s, function=f) for s, f in present)
        done += 1
    CircuitVisit.objects.bulk_update(
        past,
        [
            "status",
            "note",
            "arrived_at",
            "left_at",
            "residents_served",
            "services",
            "recorded_by",
            "recorded_at",
        ],
        batch_size=500,
    )
    VisitAttendance.objects.bulk_create(attendance, batch_size=1000)
    check_ins = []
    for d in Dispatch.objects.all():
        day = max(d.start, start)
        while day < min(today, d.end + dt.timedelta(days=1)):
            if scheduling.is_working_day(day) and rng.random() < 0.95:
                arrive = _aware(day, 8, rng.randrange(0, 30))
                stay = rng.uniform(7.0, 9.0) if rng.random() > 0.03 else 2.0
                check_ins.append(
                    DispatchCheckIn(
                        dispatch=d,
                        date=day,
                        arrived_at=arrive,
                        left_at=arrive + dt.timedelta(hours=stay),
                        recorded_by_id=d.staff_id,
                    )
                )
            day += dt.timedelta(days=1)
    DispatchCheckIn.objects.bulk_create(check_ins, batch_size=1000)
    return summary + _("; %(done)s visits recorded, %(missed)s missed, %(check_ins)s check-ins") % {
        "done": done,
        "missed": missed,
        "check_ins": len(check_ins),
    }
