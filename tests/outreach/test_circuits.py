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
