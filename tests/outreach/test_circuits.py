"""Circuit schedules and visits (issue 8; OUT-02, OUT-03, OUT-04)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.utils import timezone

from countycare.core.errors import PermissionDenied, ValidationError
from countycare.organizations.models import InstitutionType, Staff
from countycare.outreach import compliance, scheduling, services
from countycare.outreach.models import (
    Absence,
    CircuitTeam,
    CircuitVisit,
    ServicePoint,
    TeamMember,
    VisitStatus,
)
from tests.factories import InstitutionFactory, StaffFactory

MONDAY = dt.date(2026, 3, 2)


def _aware(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def test_village_circuit_schedule_meets_twice_a_week(circuit_team, community_admin):
    """OUT-04: every village without a clinic gets at least two half-day visits each week,
    never both on the same day, by a crew with every function."""
    end = MONDAY + dt.timedelta(days=27)
    schedule = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                            start=MONDAY, end=end)  # fmt: skip
    assert schedule.problems == []
    visits = list(CircuitVisit.objects.filter(schedule=schedule))
    per_week = Counter((v.place_id, v.date.isocalendar().week) for v in visits)
    assert len(per_week) == 2 * 4 and min(per_week.values()) >= 2
    assert all(v.date.weekday() < 5 for v in visits)
    assert len({(v.place_id, v.date) for v in visits}) == len(visits)
    # At most two half-day stops per crew per day, in morning/afternoon order.
    per_day = Counter((v.date, v.crew) for v in visits)
    assert max(per_day.values()) <= 2
    assert all(v.rule == "OUT-04" for v in visits)
    assert schedule.drive_km > 0


def test_schedule_says_which_rule_cannot_be_met_and_why(circuit_team, community_admin):
    """The only TCM physician is away on Mondays to Thursdays: visits go to Fridays and
    the schedule says the weekly minimum cannot be met for want of a TCM physician."""
    tcm = TeamMember.objects.get(team=circuit_team, function="tcm").staff
    Absence.objects.create(staff=tcm, start=MONDAY, end=MONDAY + dt.timedelta(days=30),
                           weekdays=[0, 1, 2, 3], reason="坐诊")  # fmt: skip
    schedule = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                            start=MONDAY, end=MONDAY + dt.timedelta(days=13))  # fmt: skip
    visits = CircuitVisit.objects.filter(schedule=schedule)
    assert {v.date.weekday() for v in visits} == {4}
    unmet = [p for p in schedule.problems if p["code"] == "unmet"]
    assert unmet and all(p["rule"] == "OUT-04" for p in unmet)
    reason = unmet[0]["reasons"][0]
    assert reason["function"] == "tcm" and reason["weekdays"] == [0, 1, 2, 3]
    from django.utils import translation

    with translation.override("en"):
        text = scheduling.problem_text(unmet[0])
    assert "no TCM physician available on Mondays" in text


def test_team_without_a_function_is_flagged(circuit_team, community_admin):
    TeamMember.objects.filter(team=circuit_team, function="nurse").delete()
    schedule = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                            start=MONDAY, end=MONDAY + dt.timedelta(days=6))  # fmt: skip
    assert {"rule": "OUT-04", "code": "no_function", "function": "nurse"} in schedule.problems
    assert not CircuitVisit.objects.filter(schedule=schedule).exists()


def test_service_points_twice_a_year_and_elderly_monthly(geo_tree, community_admin):
    """OUT-02: a county team visits each service point at least twice over the year;
    OUT-03: each elderly-care institution once a month."""
    points = []
    for village in geo_tree.villages:
        inst = InstitutionFactory(type=InstitutionType.CIRCUIT_SERVICE_POINT,
                                  parent=village.parent, latitude=village.latitude,
                                  longitude=village.longitude)  # fmt: skip
        points.append(ServicePoint.objects.create(institution=inst, village=village,
                                                  established_on=dt.date(2025, 1, 1)))  # fmt: skip
    team = CircuitTeam.objects.create(name="县医院巡诊队", kind="service_point",
                                      home=geo_tree.lead_hospital)  # fmt: skip
    doctor = StaffFactory(employer=geo_tree.lead_hospital)
    TeamMember.objects.create(team=team, staff=doctor, function="specialist",
                              valid_from=dt.date(2020, 1, 1))  # fmt: skip
    schedule = scheduling.generate_schedule(actor=community_admin, team=team,
                                            start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))  # fmt: skip
    assert schedule.problems == []
    per_point = Counter(
        CircuitVisit.objects.filter(schedule=schedule).values_list("place_id", flat=True)
    )
    assert set(per_point) == {p.institution_id for p in points}
    assert min(per_point.values()) >= 2
    # Spread over each half of the year, not all in its first weeks; never on 1 January.
    first_half = sorted(
        CircuitVisit.objects.filter(schedule=schedule, date__month__lte=6).values_list(
            "date", flat=True
        )
    )
    assert (first_half[-1] - first_half[0]).days > 60
    assert dt.date(2026, 1, 1) not in first_half

    home = InstitutionFactory(type=InstitutionType.ELDERLY_CARE_INSTITUTION,
                              parent=geo_tree.township_a, latitude=geo_tree.township_a.latitude,
                              longitude=geo_tree.township_a.longitude)  # fmt: skip
    elderly = CircuitTeam.objects.create(name="养老机构巡诊", kind="elderly_care",
                                         home=geo_tree.township_a)  # fmt: skip
    TeamMember.objects.create(team=elderly, staff=StaffFactory(), function="clinical",
                              valid_from=dt.date(2020, 1, 1))  # fmt: skip
    schedule = scheduling.generate_schedule(actor=community_admin, team=elderly,
                                            start=dt.date(2026, 1, 1), end=dt.date(2026, 6, 30))  # fmt: skip
    months = {v.date.month for v in CircuitVisit.objects.filter(schedule=schedule, place=home)}
    assert months == {1, 2, 3, 4, 5, 6}


def test_regenerating_keeps_recorded_visits(circuit_team, community_admin):
    start, end = MONDAY, MONDAY + dt.timedelta(days=4)
    scheduling.generate_schedule(actor=community_admin, team=circuit_team, start=start, end=end)
    first = CircuitVisit.objects.filter(team=circuit_team).order_by("date").first()
    CircuitVisit.objects.filter(pk=first.pk).update(status=VisitStatus.DONE)
    scheduling.generate_schedule(actor=community_admin, team=circuit_team, start=start, end=end)
    assert CircuitVisit.objects.filter(pk=first.pk, status=VisitStatus.DONE).exists()
    per_week = Counter(
        CircuitVisit.objects.filter(team=circuit_team).values_list("place_id", flat=True)
    )
    assert set(per_week.values()) == {2}


def test_schedule_needs_plan_permission(circuit_team, village_doctor):
    with pytest.raises(PermissionDenied):
        scheduling.generate_schedule(actor=village_doctor, team=circuit_team,
                                     start=MONDAY, end=MONDAY)  # fmt: skip


def _visit(team, place, day):
    return CircuitVisit.objects.create(team=team, place=place, rule="OUT-04", date=day,
                                       session="am")  # fmt: skip


def test_recording_a_visit_and_member_on_leave(circuit_team, small_villages):
    """A visit is recorded on the day; a member on leave cannot be logged as present."""
    day = timezone.localdate()
    visit = _visit(circuit_team, small_villages[0], day)
    members = list(TeamMember.objects.filter(team=circuit_team))
    recorder = members[0].staff
    nurse = next(m.staff for m in members if m.function == "nurse")
    Absence.objects.create(staff=nurse, start=day, end=day, reason="病假")
    with pytest.raises(ValidationError, match="病假") as info:
        services.record_visit(actor=recorder, visit=visit, arrived_at=_aware(day, 8),
                              left_at=_aware(day, 12), attendees=[m.staff_id for m in members])  # fmt: skip
    assert info.value.field == "attendees"
    assert CircuitVisit.objects.get(pk=visit.pk).status == VisitStatus.PLANNED
    with pytest.raises(ValidationError, match="after the arrival"):
        services.record_visit(actor=recorder, visit=visit, arrived_at=_aware(day, 12),
                              left_at=_aware(day, 8), attendees=[recorder.pk])  # fmt: skip
    outsider = StaffFactory()
    with pytest.raises(ValidationError, match="not a member"):
        services.record_visit(actor=recorder, visit=visit, arrived_at=_aware(day, 8),
                              left_at=_aware(day, 12), attendees=[outsider.pk])  # fmt: skip
    present = [m.staff_id for m in members if m.staff_id != nurse.pk]
    recorded = services.record_visit(actor=recorder, visit=visit, arrived_at=_aware(day, 8),
                                     left_at=_aware(day, 12, 30), attendees=present,
                                     residents_served=14, services=["血压", "血糖"])  # fmt: skip
    assert recorded.status == VisitStatus.DONE and recorded.hours == 4.5
    assert recorded.attendance.count() == 4
    # Without the nurse the visit does not qualify for OUT-04.
    assert not compliance._qualifying(recorded, 4, scheduling.functions_needed("village_circuit"))


def test_future_visit_cannot_be_recorded_and_outsiders_cannot_record(circuit_team, small_villages,
                                                                     village_doctor_b1):  # fmt: skip
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    visit = _visit(circuit_team, small_villages[0], tomorrow)
    member = TeamMember.objects.filter(team=circuit_team).first().staff
    with pytest.raises(ValidationError, match="on the day"):
        services.record_visit(actor=member, visit=visit, arrived_at=_aware(tomorrow, 8),
                              left_at=_aware(tomorrow, 12), attendees=[member.pk])  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.record_visit(actor=village_doctor_b1, visit=visit, arrived_at=_aware(tomorrow, 8),
                              left_at=_aware(tomorrow, 12), attendees=[member.pk])  # fmt: skip


def test_village_circuit_compliance_counts_only_qualifying_visits(circuit_team, small_villages):
    """OUT-04 compliance: a week with two full-team half-day visits is met; a short visit
    does not count."""
    members = [m.staff_id for m in TeamMember.objects.filter(team=circuit_team)]
    recorder = Staff.objects.get(pk=members[0])
    week = MONDAY
    place = small_villages[0]
    for offset, hours in ((0, 4), (2, 4), (7, 4), (9, 2)):
        day = week + dt.timedelta(days=offset)
        v = _visit(circuit_team, place, day)
        services.record_visit(actor=recorder, visit=v, arrived_at=_aware(day, 8),
                              left_at=_aware(day, 8 + hours), attendees=members)  # fmt: skip
    rows = compliance.village_circuit_rows(None, week, week + dt.timedelta(days=13),
                                           as_of=week + dt.timedelta(days=20))  # fmt: skip
    by_week = {r["week"]: r for r in rows if r["place"] == place}
    assert by_week["2026-W10"]["met"] and by_week["2026-W10"]["done"] == 2
    assert not by_week["2026-W11"]["met"] and by_week["2026-W11"]["done"] == 1
    figures = compliance.figures(None, week, week + dt.timedelta(days=13))
    assert figures["village_circuits"] == {"village_weeks": 2, "met": 1, "rate": 0.5}
    assert figures["activity"]["visits"] == 4


# --- rules per county, staff shared between teams and dispatches, the day's driving -------------


def _second_county():
    """Another county on the same platform (Anshan-style weekly circuits with its own team
    make-up), with a township and two small villages."""
    from decimal import Decimal

    county = InstitutionFactory(code="210300", name="鞍山某县", type=InstitutionType.COUNTY)
    community = InstitutionFactory(code="MC02", name="鞍山某县医共体",
                                   type=InstitutionType.MEDICAL_COMMUNITY, parent=county)  # fmt: skip
    town = InstitutionFactory(code="TC", name="丙镇卫生院", parent=community,
                              type=InstitutionType.TOWNSHIP_HEALTH_CENTER,
                              latitude=Decimal("41.10"), longitude=Decimal("122.90"))  # fmt: skip
    for code, lat in (("VC1", "41.12"), ("VC2", "41.08")):
        InstitutionFactory(code=code, name=f"{code}组", type=InstitutionType.VILLAGE,
                           parent=town, latitude=Decimal(lat), longitude=Decimal("122.95"))  # fmt: skip
    return community, town


def _team(home, functions, name="巡诊队", kind="village_circuit", vehicles=1):
    team = CircuitTeam.objects.create(name=name, kind=kind, home=home, vehicles=vehicles)
    for function in functions:
        TeamMember.objects.create(team=team, staff=StaffFactory(employer=home),
                                  function=function, valid_from=dt.date(2020, 1, 1))  # fmt: skip
    return team


def test_each_county_plans_by_its_own_rules(circuit_team, community_admin):
    """Policy per county (organizations.PolicyValue): the second county asks for one village
    circuit a week by a clinician and a nurse; the first keeps the seed's two a week with the
    full OUT-04 team. The same two-person team is fine there and flagged here."""
    from countycare.organizations.models import PolicyValue

    community, town = _second_county()
    PolicyValue.objects.create(community=community, key="outreach_village_circuit_visits_per_week",
                               value=1)  # fmt: skip
    PolicyValue.objects.create(community=community, key="outreach_circuit_team_functions",
                               value=["clinical", "nurse"])  # fmt: skip
    end = MONDAY + dt.timedelta(days=13)
    theirs = scheduling.generate_schedule(actor=community_admin, team=_team(town, ["clinical", "nurse"]),
                                          start=MONDAY, end=end)  # fmt: skip
    assert theirs.problems == []
    per_week = Counter((v.place_id, v.date.isocalendar().week) for v in theirs.visits.all())
    assert len(per_week) == 4 and set(per_week.values()) == {1}
    # The first county (seed defaults) with the same make-up: TCM, public health and
    # auxiliary staff are missing.
    ours = _team(circuit_team.home, ["clinical", "nurse"], name="两人队")
    mine = scheduling.generate_schedule(actor=community_admin, team=ours, start=MONDAY, end=end)
    missing = {p["function"] for p in mine.problems if p["code"] == "no_function"}
    assert missing == {"tcm", "public_health", "auxiliary"}
    # Ordos-style: a county without weekly village circuits sets the number to 0.
    PolicyValue.objects.filter(community=community,
                               key="outreach_village_circuit_visits_per_week").update(value=0)  # fmt: skip
    none = scheduling.generate_schedule(actor=community_admin, team=_team(town, ["clinical", "nurse"], name="二队"),
                                        start=MONDAY, end=end)  # fmt: skip
    assert none.problems == [] and not none.visits.exists()


def test_a_member_is_never_in_two_places(circuit_team, community_admin, small_villages):
    """The TCM physician also serves on a second team planned first: the first team's
    schedule gets the days left, names its planned crews, and says why the rest cannot be met."""
    tcm = TeamMember.objects.get(team=circuit_team, function="tcm")
    other = _team(circuit_team.home, ["clinical", "nurse", "public_health", "auxiliary"],
                  name="第二巡诊队")  # fmt: skip
    TeamMember.objects.create(team=other, staff=tcm.staff, function="tcm",
                              valid_from=dt.date(2020, 1, 1))  # fmt: skip
    other.places.set([small_villages[0]])
    village_b = InstitutionFactory(code="VA5", name="甲五组", type=InstitutionType.VILLAGE,
                                   parent=circuit_team.home, latitude=small_villages[0].latitude,
                                   longitude=small_villages[0].longitude)  # fmt: skip
    other.places.add(village_b)
    end = MONDAY + dt.timedelta(days=4)
    first = scheduling.generate_schedule(actor=community_admin, team=other, start=MONDAY, end=end)
    assert first.problems == []
    other_days = {v.date for v in first.visits.all()}
    assert all(tcm.staff_id in v.planned_staff for v in first.visits.all())
    circuit_team.places.set(small_villages)
    second = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                          start=MONDAY, end=end)  # fmt: skip
    mine = list(second.visits.all())
    assert mine and not {v.date for v in mine} & other_days
    assert all(set(v.planned_staff) >= {m.staff_id for m in circuit_team.members.all()}
               for v in mine)  # fmt: skip
    # Two visits each over a week of five days, with two days taken: still possible; with
    # the TCM physician also on leave on two more days, it is not, and the reason says why.
    Absence.objects.create(staff=tcm.staff, start=MONDAY, end=end,
                           weekdays=sorted({d.weekday() for d in {MONDAY + dt.timedelta(days=i) for i in range(5)} - other_days})[:2],
                           reason="年假")  # fmt: skip
    third = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                         start=MONDAY, end=end)  # fmt: skip
    unmet = [p for p in third.problems if p["code"] == "unmet"]
    assert unmet
    causes = set(unmet[0]["reasons"][0]["causes"])
    assert causes == {"leave", "other_team"}
    from django.utils import translation

    with translation.override("en"):
        text = scheduling.problem_text(unmet[0])
    assert "no TCM physician available on" in text
    assert "on leave" in text and "on another team's circuit" in text


def test_a_member_dispatched_elsewhere_is_not_planned(circuit_team, community_admin, geo_tree):
    """A team member dispatched to another institution 5 days a week is not on circuits."""
    from countycare.outreach.models import Dispatch

    nurse = TeamMember.objects.get(team=circuit_team, function="nurse").staff
    Dispatch.objects.create(staff=nurse, kind="village", from_institution=circuit_team.home,
                            to_institution=geo_tree.village_b1, start=MONDAY - dt.timedelta(days=30),
                            end=MONDAY + dt.timedelta(days=200))  # fmt: skip
    schedule = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                            start=MONDAY, end=MONDAY + dt.timedelta(days=6))  # fmt: skip
    assert not schedule.visits.exists()
    reason = next(p for p in schedule.problems if p["code"] == "unmet")["reasons"][0]
    assert reason["function"] == "nurse" and reason["causes"] == ["dispatch"]


def test_each_days_stops_are_shared_for_the_least_driving(geo_tree):
    """The day's split among vehicles equals the best of every way to share the stops."""
    import itertools
    import random
    from decimal import Decimal

    rng = random.Random(4)
    home = geo_tree.township_a
    for _ in range(25):
        n = rng.randrange(1, 7)
        crews = rng.randrange(max(1, (n + 1) // 2), 4)
        stops = [InstitutionFactory.build(pk=1000 + i, latitude=Decimal(f"{39.3 + rng.random() * 0.4:.4f}"),
                                          longitude=Decimal(f"{109.6 + rng.random() * 0.4:.4f}"))
                 for i in range(n)]  # fmt: skip
        groups, km = scheduling.split_day(home, stops, crews)
        assert sorted(p.pk for g in groups for p in g) == sorted(p.pk for p in stops)
        assert len(groups) <= crews and all(1 <= len(g) <= 2 for g in groups)
        best = float("inf")
        for labels in itertools.product(range(crews), repeat=n):
            parts = [[stops[i] for i in range(n) if labels[i] == c] for c in range(crews)]
            if any(len(p) > 2 for p in parts):
                continue
            best = min(best, sum(scheduling._route(home, p)[1] for p in parts if p))
        assert km == pytest.approx(best)


# --- on the day: key populations before leaving, Walking Hospital visits linked --------------


def test_team_sees_key_populations_and_examinations_link_to_the_visit(circuit_team,
                                                                      small_villages, tree):  # fmt: skip
    """Before leaving, a member of the team sees the village's key-population residents (the
    read is audited); a Walking Hospital visit made there, with its vitals and exam order,
    is linked to the circuit visit; one in another village is not."""
    from countycare.core.audit import AuditEntry
    from countycare.outreach import selectors
    from countycare.outreach.models import CircuitEncounter
    from countycare.telemed import catalog
    from countycare.telemed import services as telemed
    from tests.factories import ResidentFactory

    catalog.install(tree.lead_hospital)
    today = timezone.localdate()
    place = small_villages[0]
    visit = CircuitVisit.objects.create(team=circuit_team, place=place, rule="OUT-04",
                                        date=today, session="am")  # fmt: skip
    elder = ResidentFactory(home_village=place, birth_date=dt.date(1945, 5, 1), name="王长者")
    ResidentFactory(home_village=place, birth_date=dt.date(1990, 5, 1), name="青年人")
    elsewhere = ResidentFactory(home_village=tree.village_a1, birth_date=dt.date(1950, 1, 1))
    doctor = TeamMember.objects.get(team=circuit_team, function="clinical").staff
    rows = selectors.key_population_list(doctor, visit)
    assert [r["resident"].name for r in rows] == ["王长者"]
    assert AuditEntry.objects.filter(actor=doctor, object_id=str(visit.pk)).exists()

    seen = telemed.open_visit(doctor, resident=elder.pk, setting="circuit",
                              vitals_data={"systolic_bp": "150", "diastolic_bp": "92"})  # fmt: skip
    order = telemed.create_order(doctor, resident=elder.pk, service="ECG12", visit=seen)
    link = CircuitEncounter.objects.get(visit=seen)
    assert link.circuit_visit == visit
    other = telemed.open_visit(doctor, resident=elsewhere.pk, setting="circuit")
    assert not CircuitEncounter.objects.filter(visit=other).exists()
    before = AuditEntry.objects.count()
    shown = selectors.telemed_visits(doctor, visit)
    assert [r["visit"].pk for r in shown] == [seen.pk]
    assert AuditEntry.objects.count() == before + 1
    # Someone who may not see the resident's record sees none of it.
    from countycare.outreach.selectors import telemed_visits

    outsider = StaffFactory(employer=tree.village_b1)
    from tests.factories import with_role

    with_role(outsider, "village_doctor", tree.village_b1)
    assert telemed_visits(outsider, visit) == []
    assert shown[0]["observations"] == 2 and shown[0]["orders"] == [order]


def test_schedules_keep_the_statutory_holidays(circuit_team, community_admin):
    """National Day 2026 (1–7 October) is off and Saturday 10 October is an adjusted working
    day (State Council table via chinese-calendar): no visit in the holiday, the week's
    minimum still met on the days there are, and the Saturday usable."""
    schedule = scheduling.generate_schedule(actor=community_admin, team=circuit_team,
                                            start=dt.date(2026, 9, 28), end=dt.date(2026, 10, 11))  # fmt: skip
    assert schedule.problems == []
    days = {v.date for v in schedule.visits.all()}
    assert not days & {dt.date(2026, 10, d) for d in range(1, 8)}
    assert days <= {dt.date(2026, 9, 28), dt.date(2026, 9, 29), dt.date(2026, 9, 30),
                    dt.date(2026, 10, 8), dt.date(2026, 10, 9), dt.date(2026, 10, 10)}  # fmt: skip
    assert scheduling.is_working_day(dt.date(2026, 10, 10))
    assert not scheduling.is_working_day(dt.date(2026, 1, 1))
