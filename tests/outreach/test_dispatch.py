"""Dispatched doctors: validation per rule, check-ins, compliance (issue 8; OUT-05 … OUT-10)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from countycare.core.errors import Conflict, PermissionDenied, ValidationError
from countycare.organizations.models import InstitutionType
from countycare.outreach import compliance, services, summary
from countycare.outreach.models import Absence, DispatchKind
from tests.factories import InstitutionFactory, StaffFactory


def _aware(day, hour):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def attending(tree):
    return StaffFactory(full_name="王主治", title_level="intermediate", employer=tree.lead_hospital)


def _dispatch(actor, staff, tree, **kw):
    args = {"actor": actor, "staff": staff, "kind": DispatchKind.LEAD_ATTENDING,
                "from_institution": tree.lead_hospital, "to_institution": tree.township_a,
                "start": dt.date(2026, 1, 5), "end": dt.date(2026, 12, 31)}  # fmt: skip
    args.update(kw)
    return services.create_dispatch(**args)


def test_dispatch_rules_are_enforced(tree, community_admin, attending):
    """OUT-05/06/07: same institution, dates, title, 6 months, 5 days a week, overlap."""
    junior = StaffFactory(title_level="junior", employer=tree.lead_hospital)
    with pytest.raises(ValidationError, match="OUT-07") as info:
        _dispatch(community_admin, junior, tree)
    assert info.value.field == "staff"
    with pytest.raises(ValidationError) as info:
        _dispatch(community_admin, attending, tree, to_institution=tree.lead_hospital)
    assert info.value.field == "to_institution"
    with pytest.raises(ValidationError, match="before the start"):
        _dispatch(community_admin, attending, tree, end=dt.date(2025, 1, 1))
    # OUT-07: an attending physician's dispatch lasts at least 180 days.
    with pytest.raises(ValidationError, match=r"OUT-07: .* 180 days: end on 2026-07-03") as info:
        _dispatch(community_admin, attending, tree, end=dt.date(2026, 5, 1))
    assert info.value.field == "end"
    # OUT-06: county staff stay at a township at least half a year.
    with pytest.raises(ValidationError, match="OUT-06") as info:
        _dispatch(community_admin, attending, tree, kind=DispatchKind.TOWNSHIP,
                  end=dt.date(2026, 7, 3))  # fmt: skip
    assert info.value.field == "end"
    # OUT-06: intermediate title or above.
    with pytest.raises(ValidationError, match=r"OUT-06: .* below intermediate") as info:
        _dispatch(community_admin, junior, tree, kind=DispatchKind.TOWNSHIP)
    assert info.value.field == "staff"
    # A dispatch to oneself: to the doctor's own institution, or from one not the employer.
    with pytest.raises(ValidationError, match="already works at 伊金霍洛旗人民医院") as info:
        _dispatch(community_admin, attending, tree, from_institution=tree.township_a,
                  to_institution=tree.lead_hospital)  # fmt: skip
    assert info.value.field == "to_institution"
    with pytest.raises(ValidationError, match="works at 伊金霍洛旗人民医院, not at") as info:
        _dispatch(community_admin, attending, tree, kind=DispatchKind.TOWNSHIP,
                  from_institution=tree.township_b)  # fmt: skip
    assert info.value.field == "from_institution"
    township_doctor = StaffFactory(employer=tree.township_a)
    with pytest.raises(ValidationError, match="OUT-05"):
        _dispatch(community_admin, township_doctor, tree, kind=DispatchKind.VILLAGE,
                  from_institution=tree.township_a, to_institution=tree.village_a1,
                  days_per_week=3)  # fmt: skip
    first = _dispatch(community_admin, attending, tree)
    with pytest.raises(Conflict, match="overlap") as info:
        _dispatch(community_admin, attending, tree, to_institution=tree.township_b,
                  start=dt.date(2026, 6, 1))  # fmt: skip
    assert "札萨克镇卫生院" in str(info.value)
    assert first.days_per_week == 5 and first.min_hours_per_day == 4


def test_planning_needs_permission(tree, village_doctor, attending):
    with pytest.raises(PermissionDenied):
        _dispatch(village_doctor, attending, tree)


def test_check_ins_and_weekly_breach(tree, community_admin, attending):
    """OUT-05: fewer than the days a week on site (or shorter than half a day) is a breach
    of that week; a check-in on a day of leave is refused; the same day again is one row."""
    d = _dispatch(community_admin, attending, tree, start=dt.date(2026, 3, 2),
                  end=dt.date(2026, 9, 30))  # fmt: skip
    week = dt.date(2026, 3, 2)
    for n in range(5):
        day = week + dt.timedelta(days=n)
        services.check_in(actor=attending, dispatch=d, date=day, arrived_at=_aware(day, 8),
                          left_at=_aware(day, 17))  # fmt: skip
    # Retry of the same day: still one check-in.
    services.check_in(actor=attending, dispatch=d, date=week, arrived_at=_aware(week, 8),
                      left_at=_aware(week, 17))  # fmt: skip
    assert d.check_ins.count() == 5
    week2 = week + dt.timedelta(days=7)
    for n in range(3):
        day = week2 + dt.timedelta(days=n)
        services.check_in(actor=attending, dispatch=d, date=day, arrived_at=_aware(day, 8),
                          left_at=_aware(day, 10 if n == 2 else 17))  # fmt: skip
    Absence.objects.create(staff=attending, start=week2 + dt.timedelta(days=3),
                           end=week2 + dt.timedelta(days=4), reason="年假")  # fmt: skip
    with pytest.raises(ValidationError, match="年假"):
        day = week2 + dt.timedelta(days=3)
        services.check_in(actor=attending, dispatch=d, date=day, arrived_at=_aware(day, 8))
    with pytest.raises(ValidationError, match="outside the dispatch"):
        services.check_in(actor=attending, dispatch=d, date=dt.date(2026, 1, 1),
                          arrived_at=_aware(dt.date(2026, 1, 1), 8))  # fmt: skip
    findings = compliance.dispatch_findings(d, as_of=week2 + dt.timedelta(days=7))
    weekly = [f for f in findings if f.level == compliance.BREACH and "2026-W11" in f.message]
    assert weekly and weekly[0].rule == "OUT-07"
    assert "2026-W10" not in weekly[0].message
    rate = compliance.dispatch_attendance_rate(None, week, week2 + dt.timedelta(days=6))
    assert rate["dispatch_weeks"] == 2 and rate["met"] == 1


def test_attending_180_days_breach_and_township_coverage(tree, community_admin, attending):
    """OUT-07: a dispatch ended early leaves fewer than 180 days in the year → breach (with
    the reason), and the 6 continuous months of OUT-06 are broken; OUT-08: a township with no
    attending lead-hospital physician for part of the year → breach, a gap ahead → warning."""
    d = _dispatch(community_admin, attending, tree, start=dt.date(2026, 3, 2),
                  end=dt.date(2026, 12, 31))  # fmt: skip
    as_of = dt.date(2026, 6, 1)
    assert not [f for f in compliance.dispatch_findings(d, as_of=as_of) if "180" in f.message]
    with pytest.raises(ValidationError, match="Say why") as info:
        services.end_dispatch(actor=community_admin, dispatch=d, last_day=dt.date(2026, 7, 31),
                              reason="")  # fmt: skip
    assert info.value.field == "reason"
    d = services.end_dispatch(actor=community_admin, dispatch=d, last_day=dt.date(2026, 7, 31),
                              reason="调回本院")  # fmt: skip
    assert d.end == dt.date(2026, 7, 31) and d.planned_end == dt.date(2026, 12, 31)
    as_of = dt.date(2026, 11, 2)
    findings = compliance.dispatch_findings(d, as_of=as_of)
    out07 = [f for f in findings if f.rule == "OUT-07" and "dispatch periods" in f.message]
    assert out07 and "152 days" in out07[0].message and "调回本院" in out07[0].message
    assert any(f.rule == "OUT-06" and "short of 6" in f.message for f in findings)
    town = compliance.township_findings(None, 2026, as_of=as_of)
    out08 = [f for f in town if f.rule == "OUT-08"]
    # Township A was uncovered in January and February; township B all year.
    assert {f.subject for f in out08 if f.level == compliance.BREACH} == {
        tree.township_a.name,
        tree.township_b.name,
    }
    assert any(f.rule == "OUT-07" and "2026: 0 attending" in f.message for f in town)
    assert any(f.rule == "OUT-09" for f in town)


def test_public_health_physician_from_cdc_meets_out09(tree, community_admin):
    cdc = InstitutionFactory(type=InstitutionType.CDC, parent=tree.community)
    officer = StaffFactory(employer=cdc)
    services.create_dispatch(actor=community_admin, staff=officer, kind=DispatchKind.PUBLIC_HEALTH,
                             from_institution=cdc, to_institution=tree.township_a,
                             start=dt.date(2026, 1, 1), end=dt.date(2026, 12, 31))  # fmt: skip
    town = compliance.township_findings(None, 2026, as_of=dt.date(2026, 6, 1))
    missing = {f.subject for f in town if f.rule == "OUT-09"}
    assert tree.township_a.name not in missing and tree.township_b.name in missing


def test_grassroots_service_and_annual_summary(tree, community_admin, attending):
    """OUT-10: dispatch days on the staff record; OUT-11: the summary counts them and its
    Excel file opens with the city's sheets."""
    d = _dispatch(community_admin, attending, tree, start=dt.date(2026, 3, 2),
                  end=dt.date(2026, 9, 30))  # fmt: skip
    for n in range(3):
        day = dt.date(2026, 3, 2) + dt.timedelta(days=n)
        services.check_in(actor=attending, dispatch=d, date=day, arrived_at=_aware(day, 8),
                          left_at=_aware(day, 12))  # fmt: skip
    service = summary.grassroots_service(attending, dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert service["dispatch_days"] == 3 and service["dispatch_hours"] == 12
    result = summary.annual_summary(None, 2026, as_of=dt.date(2026, 11, 30))
    assert result.due == dt.date(2026, 12, 1)
    assert result.totals["dispatch_days"] == 3
    assert result.dispatch_people[0]["staff"] == "王主治"
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(summary.summary_xlsx(result)))
    assert book.sheetnames == ["汇总", "按乡镇", "按巡诊队", "派驻人员", "违规情况"]
    assert book["派驻人员"]["F2"].value == 3
    assert book["违规情况"].max_row > 1
