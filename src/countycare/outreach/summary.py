"""The annual circuit-and-dispatch summary (OUT-11, 003 §4: reported to the city health
commission by 1 December) and the grassroots service on a staff record (OUT-10)."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from countycare.organizations import policy as org_policy
from countycare.organizations.models import Institution
from countycare.outreach import compliance, policy
from countycare.outreach.models import (
    CircuitVisit,
    Dispatch,
    DispatchCheckIn,
    VisitAttendance,
    VisitStatus,
)

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class AnnualSummary:
    year: int
    root: Institution | None
    as_of: dt.date
    due: dt.date
    by_township: list[dict]
    by_team: list[dict]
    dispatch_people: list[dict]
    findings: list[compliance.Finding]
    totals: dict


def _township_name(place: Institution, cache: dict) -> str:
    if place.pk not in cache:
        town = place.township if place.type != "township_health_center" else place
        cache[place.pk] = town.name if town else place.name
    return cache[place.pk]


def due_date(year: int) -> dt.date:
    month, day = (int(p) for p in str(org_policy.value(policy.ANNUAL_SUMMARY_DUE)).split("-"))
    return dt.date(year, month, day)


def annual_summary(
    root: Institution | None, year: int, as_of: dt.date | None = None
) -> AnnualSummary:
    """Visits, hours, residents and services by township and by team; dispatch days by
    person; breaches. Counted up to ``as_of`` (default today, at most 31 December)."""
    as_of = min(as_of or timezone.localdate(), dt.date(year, 12, 31))
    start = dt.date(year, 1, 1)
    visits = CircuitVisit.objects.filter(status=VisitStatus.DONE, date__gte=start, date__lte=as_of)
    if root is not None:
        visits = visits.filter(place__path__startswith=root.path)
    visits = visits.select_related("place", "team", "team__home")
    towns: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    teams: dict[int, dict] = {}
    cache: dict = {}
    for v in visits:
        town = towns[_township_name(v.place, cache)]
        team = teams.setdefault(
            v.team_id,
            {"team": v.team.name, "home": v.team.home.name, "kind": v.team.get_kind_display(),
             "visits": 0, "hours": 0.0, "residents": 0, "services": 0},
        )  # fmt: skip
        for row in (town, team):
            row["visits"] += 1
            row["hours"] += v.hours
            row["residents"] += v.residents_served
            row["services"] += len(v.services)
    by_township = [
        {"township": name, "visits": int(r["visits"]), "hours": round(r["hours"], 1),
         "residents": int(r["residents"]), "services": int(r["services"])}
        for name, r in sorted(towns.items())
    ]  # fmt: skip
    for row in teams.values():
        row["hours"] = round(row["hours"], 1)
    by_team = sorted(teams.values(), key=lambda r: (r["home"], r["team"]))
    dispatches = compliance.dispatches_in(root, start, as_of)
    people: dict[int, dict] = {}
    for d in dispatches:
        row = people.setdefault(
            d.staff_id,
            {"staff": str(d.staff), "title": d.staff.get_title_level_display(),
             "from": d.from_institution.name, "to": set(), "kinds": set(),
             "days": 0, "hours": 0.0, "planned_days": 0},
        )  # fmt: skip
        row["to"].add(d.to_institution.name)
        row["kinds"].add(str(d.get_kind_display()))
        for c in d.check_ins.all():
            if start <= c.date <= as_of:
                row["days"] += 1
                row["hours"] += c.hours
        row["planned_days"] += compliance._working_days_between(
            max(d.start, start), min(d.end, dt.date(year, 12, 31))
        )
    dispatch_people = []
    for row in sorted(people.values(), key=lambda r: r["staff"]):
        row["to"] = "、".join(sorted(row["to"]))
        row["kinds"] = "、".join(sorted(row["kinds"]))
        row["hours"] = round(row["hours"], 1)
        dispatch_people.append(row)
    findings = compliance.all_findings(root, year, as_of + dt.timedelta(days=1))
    totals = {
        "visits": sum(r["visits"] for r in by_township),
        "hours": round(sum(r["hours"] for r in by_township), 1),
        "residents": sum(r["residents"] for r in by_township),
        "services": sum(r["services"] for r in by_township),
        "dispatched_people": len(dispatch_people),
        "dispatch_days": sum(r["days"] for r in dispatch_people),
        "breaches": sum(1 for f in findings if f.level == compliance.BREACH),
    }
    return AnnualSummary(
        year, root, as_of, due_date(year), by_township, by_team, dispatch_people, findings, totals
    )


def summary_xlsx(summary: AnnualSummary) -> bytes:
    """The summary as the workbook sent to the city (sheets: 汇总, 按乡镇, 按巡诊队, 派驻人员,
    违规情况). Headers in Chinese; numbers as numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "汇总"
    t = summary.totals
    sheet.append(["年度", summary.year])
    sheet.append(["统计截至", summary.as_of.isoformat()])
    sheet.append(["上报截止日期", summary.due.isoformat()])
    sheet.append(["巡诊次数", t["visits"]])
    sheet.append(["巡诊时长（小时）", t["hours"]])
    sheet.append(["服务居民人次", t["residents"]])
    sheet.append(["服务项目数", t["services"]])
    sheet.append(["派驻人数", t["dispatched_people"]])
    sheet.append(["派驻在岗天数", t["dispatch_days"]])
    sheet.append(["违规条数", t["breaches"]])
    towns = book.create_sheet("按乡镇")
    towns.append(["乡镇", "巡诊次数", "时长（小时）", "服务人次", "服务项目数"])
    for r in summary.by_township:
        towns.append([r["township"], r["visits"], r["hours"], r["residents"], r["services"]])
    teams = book.create_sheet("按巡诊队")
    teams.append(
        ["巡诊队", "所属机构", "类型", "巡诊次数", "时长（小时）", "服务人次", "服务项目数"]
    )
    for r in summary.by_team:
        teams.append([r["team"], r["home"], str(r["kind"]), r["visits"], r["hours"],
                      r["residents"], r["services"]])  # fmt: skip
    people = book.create_sheet("派驻人员")
    people.append(
        ["姓名", "职称", "派出单位", "派驻单位", "类型", "在岗天数", "在岗小时", "计划工作日"]
    )
    for r in summary.dispatch_people:
        people.append([r["staff"], str(r["title"]), r["from"], r["to"], r["kinds"], r["days"],
                       r["hours"], r["planned_days"]])  # fmt: skip
    breaches = book.create_sheet("违规情况")
    breaches.append(["规则", "级别", "对象", "说明"])
    for f in summary.findings:
        breaches.append([f.rule, "违规" if f.level == compliance.BREACH else "预警", f.subject,
                         f.message])  # fmt: skip
    for ws in book.worksheets:
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2" if ws is not sheet else None
        for column in ws.columns:
            ws.column_dimensions[column[0].column_letter].width = 18
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def grassroots_service(staff, start: dt.date, end: dt.date) -> dict:
    """OUT-10: circuit and dispatch time of one person, which counts as grassroots service
    for titles, appointment and awards."""
    attended = VisitAttendance.objects.filter(
        staff=staff,
        visit__status=VisitStatus.DONE,
        visit__date__gte=start,
        visit__date__lte=end,
    ).select_related("visit", "visit__place", "visit__team")
    visits = [a.visit for a in attended]
    check_ins = DispatchCheckIn.objects.filter(
        dispatch__staff=staff, date__gte=start, date__lte=end
    ).select_related("dispatch", "dispatch__to_institution")
    circuit_days = {v.date for v in visits}
    dispatch_days = {c.date for c in check_ins}
    return {
        "circuit_visits": len(visits),
        "circuit_hours": round(sum(v.hours for v in visits), 1),
        "circuit_days": len(circuit_days),
        "dispatch_days": len(dispatch_days),
        "dispatch_hours": round(sum(c.hours for c in check_ins), 1),
        "grassroots_days": len(circuit_days | dispatch_days),
        "visits": sorted(visits, key=lambda v: v.date, reverse=True)[:50],
        "dispatches": list(
            Dispatch.objects.filter(staff=staff, start__lte=end, end__gte=start).select_related(
                "to_institution", "from_institution"
            )
        ),
    }


def grassroots_table(root: Institution | None, year: int) -> list[dict]:
    """OUT-10 for the staff records of an area: per person with circuit or dispatch time in
    the year, the days, visits and hours that count as grassroots service (promotion and
    appointment reviews read this)."""
    from countycare.organizations.models import Staff

    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    rows: dict[int, dict] = defaultdict(
        lambda: {"circuit_visits": 0, "circuit_hours": 0.0, "days": set(), "dispatch_days": 0,
                 "dispatch_hours": 0.0}
    )  # fmt: skip
    attended = VisitAttendance.objects.filter(
        visit__status=VisitStatus.DONE, visit__date__gte=start, visit__date__lte=end
    ).select_related("visit")
    for a in attended:
        row = rows[a.staff_id]
        row["circuit_visits"] += 1
        row["circuit_hours"] += a.visit.hours
        row["days"].add(a.visit.date)
    for c in DispatchCheckIn.objects.filter(date__gte=start, date__lte=end).select_related(
        "dispatch"
    ):
        row = rows[c.dispatch.staff_id]
        row["dispatch_days"] += 1
        row["dispatch_hours"] += c.hours
        row["days"].add(c.date)
    staff = Staff.objects.filter(pk__in=list(rows)).select_related("employer")
    if root is not None:
        staff = staff.filter(employer__path__startswith=root.path)
    out = []
    for person in staff:
        row = rows[person.pk]
        out.append(
            {
                "staff": person,
                "employer": person.employer,
                "title": person.get_title_level_display(),
                "circuit_visits": row["circuit_visits"],
                "circuit_hours": round(row["circuit_hours"], 1),
                "dispatch_days": row["dispatch_days"],
                "dispatch_hours": round(row["dispatch_hours"], 1),
                "grassroots_days": len(row["days"]),
            }
        )
    return sorted(out, key=lambda r: (-r["grassroots_days"], str(r["staff"])))
